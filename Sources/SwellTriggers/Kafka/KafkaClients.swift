import Foundation
import Logging
import SwellKafka
import SwellTasks

/// Kafka producers shared per cluster (the same broker list): result topics, dead-letter
/// topics and task destinations use them (a trigger commits through its group member). Fetching uses a client of its own
/// per trigger, because a broker answers a connection's requests in order and a fetch may
/// wait up to its `maxWait`.
public actor KafkaClients: KafkaRecordPublisher {
    let logger: Logger
    private var producers: [String: KafkaProducer] = [:]

    public init(logger: Logger) {
        self.logger = logger
    }

    /// The shared producer for `brokers`.
    public func producer(for brokers: [String]) -> KafkaProducer {
        let key = brokers.sorted().joined(separator: ",")
        if let p = producers[key] { return p }
        let p = KafkaProducer(client: KafkaClient(configuration: .init(bootstrapServers: brokers, clientID: "swell-producer"), logger: logger))
        producers[key] = p
        return p
    }

    /// A destination record (async task outcome) to a topic, keyed by the task id.
    public nonisolated func publish(brokers: [String], topic: String, key: Data?, value: Data) async throws {
        try await producer(for: brokers).send(topic: topic, [KafkaProducerRecord(key: key.map { Array($0) }, value: Array(value))])
    }

    /// Closes every producer (at shutdown).
    public func close() async {
        for p in producers.values { await p.client.close() }
        producers.removeAll()
    }
}

/// Gathers records sent within a few milliseconds into one Produce request per topic
/// (acks=all), so that thousands of results a second cost tens of requests, not thousands.
/// Each `send` returns once its record is acknowledged.
public actor KafkaProducer {
    public let client: KafkaClient
    let linger: Duration
    let maxBatch: Int
    private var pending: [String: [([KafkaProducerRecord], CheckedContinuation<Void, any Error>)]] = [:]
    private var flushScheduled: Set<String> = []

    public init(client: KafkaClient, linger: Duration = .milliseconds(2), maxBatch: Int = 1000) {
        self.client = client
        self.linger = linger
        self.maxBatch = maxBatch
    }

    /// Appends `records` to `topic` (partitioned by key hash); returns when the broker acknowledged them.
    public func send(topic: String, _ records: [KafkaProducerRecord]) async throws {
        guard !records.isEmpty else { return }
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            pending[topic, default: []].append((records, c))
            if pending[topic]!.reduce(0, { $0 + $1.0.count }) >= maxBatch {
                let batch = pending.removeValue(forKey: topic)!
                Task { await self.produce(topic: topic, batch) }
            } else if flushScheduled.insert(topic).inserted {
                Task {
                    try? await Task.sleep(for: linger)
                    await self.flush(topic)
                }
            }
        }
    }

    private func flush(_ topic: String) async {
        flushScheduled.remove(topic)
        guard let batch = pending.removeValue(forKey: topic), !batch.isEmpty else { return }
        await produce(topic: topic, batch)
    }

    private func produce(topic: String, _ batch: [([KafkaProducerRecord], CheckedContinuation<Void, any Error>)]) async {
        do {
            try await client.produce(topic: topic, records: batch.flatMap(\.0))
            for (_, c) in batch { c.resume() }
        } catch {
            for (_, c) in batch { c.resume(throwing: error) }
        }
    }
}
