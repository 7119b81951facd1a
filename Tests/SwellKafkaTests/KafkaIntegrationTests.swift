import Foundation
import NIOPosix
import Testing
@testable import SwellKafka

/// The broker the integration tests run against, e.g. a tansu started by
/// `tests/kafka_tools/start_tansu.sh`. Unset: the suite is skipped.
private let brokerAddress = ProcessInfo.processInfo.environment["SWELL_KAFKA_BROKER"]

/// Runs `tests/kafka_tools/kafka_tool.py` (confluent-kafka, i.e. librdkafka) and parses its JSON output.
private func kafkaTool(_ arguments: [String], input: String? = nil) throws -> Any {
    let tool = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tests/kafka_tools/kafka_tool.py")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", tool.path, "--broker", brokerAddress!] + arguments
    let stdout = Pipe()
    let stdin = Pipe()
    process.standardOutput = stdout
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw KafkaToolFailure(arguments: arguments, status: process.terminationStatus)
    }
    return try JSONSerialization.jsonObject(with: output)
}

private struct KafkaToolFailure: Error {
    var arguments: [String]
    var status: Int32
}

private func uniqueName(_ prefix: String) -> String {
    "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
}

private func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }
private func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

@Suite(.enabled(if: brokerAddress != nil, "set SWELL_KAFKA_BROKER=host:port (tests/kafka_tools/start_tansu.sh)"), .serialized)
struct KafkaIntegrationTests {
    let client = KafkaClient(configuration: .init(bootstrapServers: [brokerAddress ?? "127.0.0.1:9092"], clientID: "swellkafka-tests"))

    /// Creates a fresh topic with 4 partitions through confluent-kafka's AdminClient.
    private func makeTopic() throws -> String {
        let topic = uniqueName("swellkafka-test")
        _ = try kafkaTool(["create-topic", topic, "4"])
        return topic
    }

    /// Fetches every partition from `from` until the high watermark, following `nextOffset`.
    private func readAll(_ topic: String, from: [Int32: Int64] = [0: 0, 1: 0, 2: 0, 3: 0]) async throws -> [Int32: [KafkaRecord]] {
        var offsets = from
        var records: [Int32: [KafkaRecord]] = [:]
        for _ in 0..<50 {
            let fetched = try await client.fetch(topic: topic, partitions: offsets, maxWait: .milliseconds(100))
            var done = true
            for (partition, result) in fetched {
                records[partition, default: []].append(contentsOf: result.records)
                offsets[partition] = result.nextOffset
                if result.nextOffset < result.highWatermark { done = false }
            }
            if done { break }
        }
        return records
    }

    /// The compression codec ids of the first batch of each partition, as the broker stores them.
    private func storedCodecs(_ topic: String) async throws -> Set<Int16> {
        let address = try KafkaClient.Address(parsing: brokerAddress!)
        let connection = try await KafkaConnection.connect(host: address.host, port: address.port, clientID: "raw", group: MultiThreadedEventLoopGroup.singleton,
                                                           connectTimeout: .seconds(5), requestTimeout: .seconds(10))
        defer { Task { await connection.close() } }
        let response = try await connection.send(FetchRequest(maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20, topics: [
            .init(topic: topic, partitions: (0..<4).map { .init(partition: $0, fetchOffset: 0, partitionMaxBytes: 1 << 20) }),
        ]))
        var codecs: Set<Int16> = []
        for partition in response.topics.flatMap(\.partitions) {
            if let records = partition.records, let attributes = records.getInteger(at: records.readerIndex + 21, as: Int16.self) {
                codecs.insert(attributes & 7)
            }
        }
        return codecs
    }

    @Test func metadataListsPartitionsAndLeaders() async throws {
        let topic = try makeTopic()
        let metadata = try await client.metadata(topics: [topic])
        let partitions = try #require(metadata[topic]).partitions
        #expect(partitions.map(\.partition) == [0, 1, 2, 3])
        #expect(partitions.allSatisfy { $0.leader >= 0 })
        await client.close()
    }

    @Test func metadataOfUnknownTopicFails() async throws {
        let impatient = KafkaClient(configuration: .init(bootstrapServers: [brokerAddress!], maxAttempts: 2,
                                                         retryBackoff: .milliseconds(10)))
        await #expect {
            _ = try await impatient.metadata(topics: [uniqueName("swellkafka-missing")])
        } throws: { error in
            guard case let .broker(code, _)? = error as? KafkaError else { return false }
            return code == .unknownTopicOrPartition
        }
        await impatient.close()
    }

    @Test func produceByKeyAndFetchBack() async throws {
        let topic = try makeTopic()
        let records = (0..<40).map { index in
            KafkaProducerRecord(key: bytes("key-\(index % 10)"), value: bytes("value-\(index)"),
                                headers: [KafkaHeader(key: "index", value: bytes("\(index)")), KafkaHeader(key: "nil", value: nil)])
        }
        let baseOffsets = try await client.produce(topic: topic, records: records)
        #expect(baseOffsets.values.allSatisfy { $0 == 0 })

        let read = try await readAll(topic)
        let all = read.values.flatMap { $0 }
        #expect(all.count == 40)
        for (partition, partitionRecords) in read {
            #expect(partitionRecords.map(\.offset) == Array(0..<Int64(partitionRecords.count)))
            for record in partitionRecords {
                #expect(Murmur2.partition(forKey: record.key!, partitionCount: 4) == partition)
                let index = Int(text(record.value)!.dropFirst("value-".count))!
                #expect(text(record.key) == "key-\(index % 10)")
                #expect(record.headers == [KafkaHeader(key: "index", value: bytes("\(index)")), KafkaHeader(key: "nil", value: nil)])
            }
        }
        await client.close()
    }

    @Test func gzipProduceToOnePartitionAndFetchFromTheMiddleOfABatch() async throws {
        let topic = try makeTopic()
        let records = (0..<10).map { KafkaProducerRecord(key: nil, value: bytes("gz-\($0)"), timestamp: 1_700_000_000_000 + Int64($0)) }
        let base = try await client.produce(topic: topic, records: records, partitioning: .partition(2), compression: .gzip)
        #expect(base == [2: 0])

        let fetched = try #require(try await client.fetch(topic: topic, partitions: [2: 4])[2])
        #expect(fetched.records.map(\.offset) == Array(4...9))
        #expect(fetched.records.map { text($0.value)! } == (4...9).map { "gz-\($0)" })
        #expect(fetched.records.map(\.timestamp) == (4...9).map { 1_700_000_000_000 + Int64($0) })
        #expect(fetched.highWatermark == 10)
        #expect(fetched.nextOffset == 10)
        await client.close()
    }

    @Test func listOffsetsEarliestAndLatest() async throws {
        let topic = try makeTopic()
        for index in 0..<3 {
            try await client.produce(topic: topic, records: [KafkaProducerRecord(value: bytes("r\(index)"))], partitioning: .partition(1))
        }
        #expect(try await client.listOffsets(topic: topic, partition: 1, at: .earliest) == 0)
        #expect(try await client.listOffsets(topic: topic, partition: 1, at: .latest) == 3)
        #expect(try await client.listOffsets(topic: topic, partitions: [0, 1], at: .latest) == [0: 0, 1: 3])
        await client.close()
    }

    @Test(arguments: ["none", "gzip"])
    func readsWhatConfluentKafkaProduced(compression: String) async throws {
        let topic = try makeTopic()
        let keys = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
        // librdkafka sends small batches uncompressed when gzip would not shrink them: pad the values.
        let padding = String(repeating: "swell ", count: 40)
        let input = try JSONSerialization.data(withJSONObject: keys.enumerated().map { index, key in
            ["key": key, "value": "from-librdkafka-\(index) " + padding, "headers": ["source": "confluent"]] as [String: Any]
        })
        let delivered = try #require(try kafkaTool(["produce", topic, "--compression", compression],
                                                   input: String(decoding: input, as: UTF8.self)) as? [[String: Int]])
        // librdkafka's murmur2_random partitioner and ours agree on every key.
        for (index, key) in keys.enumerated() {
            #expect(Int32(delivered[index]["partition"]!) == Murmur2.partition(forKey: bytes(key), partitionCount: 4), "\(key)")
        }

        let read = try await readAll(topic)
        var seen: [String: (partition: Int32, offset: Int64)] = [:]
        for (partition, records) in read {
            for record in records {
                #expect(record.headers == [KafkaHeader(key: "source", value: bytes("confluent"))])
                seen[text(record.key)!] = (partition, record.offset)
                let index = keys.firstIndex(of: text(record.key)!)!
                #expect(text(record.value) == "from-librdkafka-\(index) " + padding)
            }
        }
        #expect(seen.count == keys.count)
        if compression == "gzip" { #expect(try await storedCodecs(topic).contains(1)) }
        for (index, key) in keys.enumerated() {
            #expect(seen[key]?.partition == Int32(delivered[index]["partition"]!))
            #expect(seen[key]?.offset == Int64(delivered[index]["offset"]!))
        }
        await client.close()
    }

    @Test(arguments: [KafkaCompression.none, .gzip])
    func confluentKafkaReadsWhatWeProduced(compression: KafkaCompression) async throws {
        let topic = try makeTopic()
        let records = (0..<5).map {
            KafkaProducerRecord(key: bytes("k\($0)"), value: bytes("from-swell-\($0)"), headers: [KafkaHeader(key: "n", value: bytes("\($0)"))])
        }
        try await client.produce(topic: topic, records: records, partitioning: .partition(3), compression: compression)
        #expect(try await storedCodecs(topic) == [compression.rawValue])
        let consumed = try #require(try kafkaTool(["consume", topic, "3", "0", "5"]) as? [[String: Any]])
        #expect(consumed.count == 5)
        for (index, message) in consumed.enumerated() {
            #expect(message["offset"] as? Int == index)
            #expect(message["key"] as? String == "k\(index)")
            #expect(message["value"] as? String == "from-swell-\(index)")
            #expect(message["headers"] as? [String: String] == ["n": "\(index)"])
        }
        await client.close()
    }

    @Test func committedOffsetsAreSharedWithConfluentKafka() async throws {
        let topic = try makeTopic()
        let group = uniqueName("swellkafka-group")
        let coordinator = try await client.findCoordinator(group: group)
        #expect(coordinator.port > 0)

        // Ours → theirs.
        try await client.commitOffsets(group: group, offsets: [topic: [0: 5, 2: 11]])
        let theirs = try #require(try kafkaTool(["committed", group, topic, "0", "1", "2", "3"]) as? [String: Int])
        #expect(theirs["0"] == 5)
        #expect(theirs["2"] == 11)
        #expect(theirs["1"] == -1001) // librdkafka's OFFSET_INVALID: nothing committed

        // Theirs → ours.
        _ = try kafkaTool(["commit", group, topic, "1=3", "2=12"])
        let ours = try await client.fetchCommittedOffsets(group: group, topic: topic, partitions: [0, 1, 2, 3])
        #expect(ours == [0: 5, 1: 3, 2: 12])
        await client.close()
    }

    /// Kafka answers OFFSET_OUT_OF_RANGE, which the client reports without retrying;
    /// tansu 0.6 answers no error and no records, which the client reports as such.
    @Test func fetchBeyondTheEnd() async throws {
        let topic = try makeTopic()
        try await client.produce(topic: topic, records: [KafkaProducerRecord(value: bytes("only"))], partitioning: .partition(0))
        do {
            let fetched = try await client.fetch(topic: topic, partitions: [0: 100], maxWait: .milliseconds(10))
            #expect(fetched[0]?.records == [])
            #expect(fetched[0]?.nextOffset == 100)
            #expect(fetched[0]?.highWatermark == 1)
        } catch let KafkaError.broker(code, _) {
            #expect(code == .offsetOutOfRange)
        }
        await client.close()
    }
}
