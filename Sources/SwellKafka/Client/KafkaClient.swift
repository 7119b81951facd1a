import Logging
import NIOCore
import NIOPosix

/// A Kafka client: metadata, offsets, fetch, produce and group offset commits.
///
/// It keeps a metadata cache (topic → partition → leader, node id → address), opens one
/// connection per broker when first needed, negotiates API versions on each, and routes
/// every partition's request to its leader. Leader changes, unknown topics still being
/// created, coordinator moves and lost connections are retried with exponential backoff
/// after a metadata refresh, up to ``Configuration/maxAttempts`` attempts in all.
///
/// Produce is at-least-once: a retry after a lost response may append a batch twice.
/// Plaintext only (no TLS, no SASL).
public actor KafkaClient {
    /// Settings of a ``KafkaClient``.
    public struct Configuration: Sendable {
        /// `host:port` entries (`[v6addr]:port` for IPv6) to ask for metadata first.
        public var bootstrapServers: [String]
        /// Sent in every request header; brokers log it and quota by it.
        public var clientID: String
        /// How long a request may wait for its response (a fetch adds its `maxWait`).
        public var requestTimeout: Duration
        public var connectTimeout: Duration
        /// Attempts per operation, the first included.
        public var maxAttempts: Int
        /// Delay before the second attempt; it doubles on each further one.
        public var retryBackoff: Duration
        public var maxRetryBackoff: Duration

        public init(bootstrapServers: [String], clientID: String = "swell", requestTimeout: Duration = .seconds(30),
                    connectTimeout: Duration = .seconds(10), maxAttempts: Int = 6,
                    retryBackoff: Duration = .milliseconds(100), maxRetryBackoff: Duration = .seconds(2)) {
            self.bootstrapServers = bootstrapServers
            self.clientID = clientID
            self.requestTimeout = requestTimeout
            self.connectTimeout = connectTimeout
            self.maxAttempts = max(1, maxAttempts)
            self.retryBackoff = retryBackoff
            self.maxRetryBackoff = maxRetryBackoff
        }
    }

    struct Address: Hashable, Sendable, CustomStringConvertible {
        var host: String
        var port: Int
        var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

        /// Parses `host:port` or `[host]:port`.
        init(parsing text: String) throws {
            let trimmed = text.trimmingPrefixAndSuffixSpaces
            let hostPart: Substring
            let portPart: Substring
            if trimmed.hasPrefix("["), let close = trimmed.firstIndex(of: "]") {
                hostPart = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
                let rest = trimmed[trimmed.index(after: close)...]
                guard rest.hasPrefix(":") else { throw KafkaError.invalidArgument("no port in \(text)") }
                portPart = rest.dropFirst()
            } else {
                guard let colon = trimmed.lastIndex(of: ":") else { throw KafkaError.invalidArgument("no port in \(text)") }
                hostPart = trimmed[..<colon]
                portPart = trimmed[trimmed.index(after: colon)...]
            }
            guard !hostPart.isEmpty, let port = Int(portPart), (1...65535).contains(port) else {
                throw KafkaError.invalidArgument("not host:port: \(text)")
            }
            self.host = String(hostPart)
            self.port = port
        }

        init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    private let configuration: Configuration
    private let group: any EventLoopGroup
    private let logger: Logger
    private var brokers: [Int32: KafkaBroker] = [:]
    /// topic → partition → leader node id (-1: none).
    private var leaders: [String: [Int32: Int32]] = [:]
    private var connections: [Address: Task<KafkaConnection, any Error>] = [:]
    private var coordinators: [String: Address] = [:]
    private var unkeyedPartitionCounter = 0
    private var isClosed = false

    /// Creates a client; it connects lazily, on the first call that needs a broker.
    public init(configuration: Configuration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "swell.kafka")) {
        self.configuration = configuration
        self.group = eventLoopGroup
        self.logger = logger
    }

    // MARK: Public API

    /// Fresh metadata for `topics` (asked of the cluster every call, so that added
    /// partitions show). Unknown topics and partitions without a leader are retried
    /// while topics are being created; a topic still unknown after the last attempt
    /// fails with `.broker(.unknownTopicOrPartition, …)`. A partition may still be
    /// returned with leader -1 when it had none on the last attempt.
    public func metadata(topics: [String]) async throws -> [String: KafkaTopicMetadata] {
        guard !topics.isEmpty else { return [:] }
        return try await retrying("Metadata") { attempt in
            let response = try await refreshMetadata(topics: topics)
            var result: [String: KafkaTopicMetadata] = [:]
            var leaderMissing: KafkaError?
            for topic in response.topics where topics.contains(topic.name) {
                guard topic.errorCode == .none else { throw KafkaError.broker(topic.errorCode, context: "Metadata \(topic.name)") }
                let partitions = topic.partitions.map {
                    KafkaPartitionMetadata(partition: $0.partition, leader: $0.leader, replicas: $0.replicas, inSyncReplicas: $0.isr)
                }.sorted { $0.partition < $1.partition }
                if let orphan = topic.partitions.first(where: { $0.leader < 0 }) {
                    leaderMissing = .broker(.leaderNotAvailable, context: "Metadata \(topic.name)/\(orphan.partition)")
                }
                result[topic.name] = KafkaTopicMetadata(name: topic.name, partitions: partitions)
            }
            for name in topics where result[name] == nil {
                throw KafkaError.broker(.unknownTopicOrPartition, context: "Metadata \(name)")
            }
            if let leaderMissing, attempt < configuration.maxAttempts { throw leaderMissing }
            return result
        }
    }

    /// The offset `spec` designates in one partition.
    public func listOffsets(topic: String, partition: Int32, at spec: KafkaOffsetSpec) async throws -> Int64 {
        let offsets = try await listOffsets(topic: topic, partitions: [partition], at: spec)
        guard let offset = offsets[partition] else { throw KafkaError.malformedMessage("ListOffsets omitted partition \(partition)") }
        return offset
    }

    /// The offset `spec` designates in each of `partitions` (asking each partition's leader).
    public func listOffsets(topic: String, partitions: [Int32], at spec: KafkaOffsetSpec) async throws -> [Int32: Int64] {
        try await perPartition(topic: topic, partitions: partitions) { client, address, batch in
            let request = ListOffsetsRequest(topic: topic, partitions: batch.map { .init(partition: $0, timestamp: spec.wireValue) })
            let response = try await client.send(request, to: address)
            var outcome: [Int32: Result<Int64, KafkaError>] = [:]
            for result in response.topics where result.name == topic {
                for partition in result.partitions {
                    outcome[partition.partition] = partition.errorCode == .none
                        ? .success(partition.offset)
                        : .failure(.broker(partition.errorCode, context: "ListOffsets \(topic)/\(partition.partition)"))
                }
            }
            return outcome
        }
    }

    /// Fetches records from `partitions` (partition → offset to start at), one request per
    /// leader broker, all in parallel.
    ///
    /// - Parameters:
    ///   - maxWait: how long a broker may wait for `minBytes` to accumulate.
    ///   - minBytes: a broker answers as soon as this many bytes are available.
    ///   - maxBytes: the response size a broker aims at (the first batch is always whole).
    ///   - partitionMaxBytes: the same limit per partition.
    /// - Returns: partition → records, high watermark and the offset to fetch next. A
    ///   partition the broker left out of its answer comes back empty with watermarks -1.
    /// - Throws: `.broker(.offsetOutOfRange, …)` (not retried: reset with ``listOffsets(topic:partition:at:)``),
    ///   ``KafkaError/corruptBatch(expectedCRC:actualCRC:)``, ``KafkaError/unsupportedCompression(_:)``.
    public func fetch(topic: String, partitions: [Int32: Int64], maxWait: Duration = .milliseconds(500),
                      minBytes: Int32 = 1, maxBytes: Int32 = 50 << 20,
                      partitionMaxBytes: Int32 = 1 << 20) async throws -> [Int32: KafkaFetchedPartition] {
        let waitMs = Int32(clamping: maxWait.components.seconds * 1000 + maxWait.components.attoseconds / 1_000_000_000_000_000)
        return try await perPartition(topic: topic, partitions: Array(partitions.keys)) { client, address, batch in
            let request = FetchRequest(
                maxWaitMs: waitMs, minBytes: minBytes, maxBytes: maxBytes,
                topics: [.init(topic: topic, partitions: batch.map {
                    .init(partition: $0, fetchOffset: partitions[$0]!, partitionMaxBytes: partitionMaxBytes)
                })]
            )
            let response = try await client.send(request, to: address, extraTimeout: .milliseconds(Int64(waitMs)))
            var outcome: [Int32: Result<KafkaFetchedPartition, KafkaError>] = [:]
            if response.errorCode != .none {
                for partition in batch { outcome[partition] = .failure(.broker(response.errorCode, context: "Fetch \(topic)")) }
                return outcome
            }
            for result in response.topics where result.topic == topic {
                for partition in result.partitions {
                    guard let requested = partitions[partition.partition] else { continue }
                    guard partition.errorCode == .none else {
                        outcome[partition.partition] = .failure(.broker(partition.errorCode, context: "Fetch \(topic)/\(partition.partition)"))
                        continue
                    }
                    let decoded = try partition.records.map { try RecordBatch.decodeRecordSet($0, fromOffset: requested) }
                    outcome[partition.partition] = .success(KafkaFetchedPartition(
                        partition: partition.partition,
                        records: decoded?.records ?? [],
                        highWatermark: partition.highWatermark,
                        logStartOffset: partition.logStartOffset,
                        nextOffset: max(requested, decoded?.nextOffset ?? requested)
                    ))
                }
            }
            // A broker may leave out partitions it has nothing for (tansu does when the wait
            // ends early); report them as empty, with the watermarks unknown (-1).
            for partition in batch where outcome[partition] == nil {
                let requested = partitions[partition]!
                outcome[partition] = .success(KafkaFetchedPartition(partition: partition, records: [], highWatermark: -1,
                                                                     logStartOffset: -1, nextOffset: requested))
            }
            return outcome
        }
    }

    /// Appends `records` to `topic` with acks=all, one record batch per partition.
    ///
    /// - Returns: partition → offset of the first record appended there.
    @discardableResult
    public func produce(topic: String, records: [KafkaProducerRecord], partitioning: KafkaPartitioning = .keyHash,
                        compression: KafkaCompression = .none) async throws -> [Int32: Int64] {
        guard !records.isEmpty else { return [:] }
        var byPartition: [Int32: [KafkaProducerRecord]] = [:]
        switch partitioning {
        case let .partition(partition):
            byPartition[partition] = records
        case .keyHash:
            let count = try await partitionCount(topic: topic)
            let unkeyed = Int32(unkeyedPartitionCounter % count)
            unkeyedPartitionCounter &+= 1
            for record in records {
                let partition = record.key.map { Murmur2.partition(forKey: $0, partitionCount: count) } ?? unkeyed
                byPartition[partition, default: []].append(record)
            }
        }
        let nowMs = WallClock.nowMilliseconds()
        var batches: [Int32: ByteBuffer] = [:]
        for (partition, records) in byPartition {
            batches[partition] = try RecordBatch.encode(records, compression: compression, now: nowMs)
        }
        let timeoutMs = Int32(clamping: configuration.requestTimeout.components.seconds * 1000)
        let frozen = batches
        return try await perPartition(topic: topic, partitions: Array(batches.keys)) { client, address, batch in
            let request = ProduceRequest(topic: topic, partitions: batch.map { .init(partition: $0, records: frozen[$0]!) },
                                         acks: -1, timeoutMs: timeoutMs)
            let response = try await client.send(request, to: address)
            var outcome: [Int32: Result<Int64, KafkaError>] = [:]
            for result in response.topics where result.topic == topic {
                for partition in result.partitions {
                    let context = "Produce \(topic)/\(partition.partition)" + (partition.errorMessage.map { ": \($0)" } ?? "")
                    outcome[partition.partition] = partition.errorCode == .none
                        ? .success(partition.baseOffset)
                        : .failure(.broker(partition.errorCode, context: context))
                }
            }
            return outcome
        }
    }

    /// The broker coordinating `group` (FindCoordinator), cached for the group's commits.
    public func findCoordinator(group: String) async throws -> KafkaBroker {
        try await retrying("FindCoordinator") { _ in try await lookUpCoordinator(group: group) }
    }

    /// Commits `offsets` (topic → partition → next offset to consume) for `group`, as a
    /// simple consumer: generation -1, empty member id. Standard tools then show the
    /// group's committed offsets and lag. A group with active members rejects it.
    public func commitOffsets(group: String, offsets: [String: [Int32: Int64]]) async throws {
        let request = OffsetCommitRequest(groupID: group, topics: offsets.sorted { $0.key < $1.key }.map { topic, partitions in
            .init(topic: topic, partitions: partitions.sorted { $0.key < $1.key }.map { .init(partition: $0.key, offset: $0.value, metadata: "") })
        })
        try await withCoordinator(group: group, api: "OffsetCommit") { client, address in
            let response = try await client.send(request, to: address)
            for topic in response.topics {
                for partition in topic.partitions where partition.errorCode != .none {
                    throw KafkaError.broker(partition.errorCode, context: "OffsetCommit \(group) \(topic.topic)/\(partition.partition)")
                }
            }
        }
    }

    /// The offsets `group` has committed for `partitions` of `topic`; partitions without a
    /// committed offset are absent from the result.
    public func fetchCommittedOffsets(group: String, topic: String, partitions: [Int32]) async throws -> [Int32: Int64] {
        let request = OffsetFetchRequest(groupID: group, topic: topic, partitions: partitions)
        return try await withCoordinator(group: group, api: "OffsetFetch") { client, address in
            let response = try await client.send(request, to: address)
            guard response.errorCode == .none else { throw KafkaError.broker(response.errorCode, context: "OffsetFetch \(group)") }
            var offsets: [Int32: Int64] = [:]
            for result in response.topics where result.topic == topic {
                for partition in result.partitions {
                    guard partition.errorCode == .none else {
                        throw KafkaError.broker(partition.errorCode, context: "OffsetFetch \(group) \(topic)/\(partition.partition)")
                    }
                    if partition.committedOffset >= 0 { offsets[partition.partition] = partition.committedOffset }
                }
            }
            return offsets
        }
    }

    /// Closes every connection; later calls fail with ``KafkaError/clientClosed``.
    public func close() async {
        isClosed = true
        let tasks = connections.values
        connections.removeAll()
        for task in tasks {
            if let connection = try? await task.value { await connection.close() }
        }
    }

    // MARK: Connections

    /// Sends `request` to the broker at `address`, dropping the connection when it failed
    /// as a connection (so that the next attempt reconnects).
    func send<R: KafkaRequest>(_ request: R, to address: Address, extraTimeout: TimeAmount = .zero) async throws -> R.Response {
        let connection = try await connection(to: address)
        do {
            return try await connection.send(request, extraTimeout: extraTimeout)
        } catch let error as KafkaError {
            switch error {
            case .connectionClosed, .requestTimedOut, .malformedMessage:
                await dropConnection(connection, at: address)
            default:
                break
            }
            throw error
        }
    }

    private func connection(to address: Address) async throws -> KafkaConnection {
        guard !isClosed else { throw KafkaError.clientClosed }
        if let task = connections[address] {
            if let connection = try? await task.value, connection.isActive { return connection }
            if connections[address] == task { connections[address] = nil }
        }
        let configuration = configuration
        let group = group
        let task = Task {
            try await KafkaConnection.connect(host: address.host, port: address.port, clientID: configuration.clientID,
                                              group: group, connectTimeout: TimeAmount(configuration.connectTimeout),
                                              requestTimeout: TimeAmount(configuration.requestTimeout))
        }
        connections[address] = task
        do {
            let connection = try await task.value
            if isClosed {
                await connection.close()
                throw KafkaError.clientClosed
            }
            logger.debug("connected to Kafka broker", metadata: ["broker": "\(address)"])
            return connection
        } catch {
            if connections[address] == task { connections[address] = nil }
            throw error
        }
    }

    private func dropConnection(_ connection: KafkaConnection, at address: Address) async {
        if let task = connections[address], let current = try? await task.value, current === connection {
            connections[address] = nil
        }
        await connection.close()
    }

    /// A connection to any broker: an open one, else the known brokers, else the bootstrap list.
    private func anyConnection() async throws -> (KafkaConnection, Address) {
        guard !isClosed else { throw KafkaError.clientClosed }
        for (address, task) in connections {
            if let connection = try? await task.value, connection.isActive { return (connection, address) }
        }
        var candidates = brokers.values.sorted { $0.nodeID < $1.nodeID }.map { Address(host: $0.host, port: $0.port) }
        for server in configuration.bootstrapServers {
            let address = try Address(parsing: server)
            if !candidates.contains(address) { candidates.append(address) }
        }
        guard !candidates.isEmpty else { throw KafkaError.invalidArgument("no bootstrap servers") }
        var failures: [String] = []
        for address in candidates {
            do {
                return (try await connection(to: address), address)
            } catch {
                failures.append("\(address): \(error)")
            }
        }
        throw KafkaError.noBrokerAvailable(failures.joined(separator: "; "))
    }

    // MARK: Metadata

    /// Asks any broker for `topics` and stores brokers and leaders.
    private func refreshMetadata(topics: [String]) async throws -> MetadataRequest.Response {
        let (_, address) = try await anyConnection()
        let response = try await send(MetadataRequest(topics: topics), to: address)
        if !response.brokers.isEmpty {
            brokers = Dictionary(response.brokers.map { ($0.nodeID, KafkaBroker(nodeID: $0.nodeID, host: $0.host, port: Int($0.port))) },
                                 uniquingKeysWith: { _, last in last })
        }
        for topic in response.topics {
            if topic.errorCode == .none {
                leaders[topic.name] = Dictionary(topic.partitions.map { ($0.partition, $0.leader) }, uniquingKeysWith: { _, last in last })
            } else {
                leaders[topic.name] = nil
            }
        }
        return response
    }

    private func partitionCount(topic: String) async throws -> Int {
        if let known = leaders[topic], !known.isEmpty { return known.count }
        let metadata = try await metadata(topics: [topic])
        guard let count = metadata[topic]?.partitions.count, count > 0 else {
            throw KafkaError.broker(.unknownTopicOrPartition, context: "Metadata \(topic)")
        }
        return count
    }

    /// Groups `partitions` by the address of their leader, refreshing metadata when asked
    /// or when the cache does not know them.
    private func leaderAddresses(topic: String, partitions: [Int32], refresh: Bool) async throws -> [Address: [Int32]] {
        if refresh || leaders[topic] == nil || partitions.contains(where: { leaders[topic]?[$0] == nil }) {
            _ = try await refreshMetadata(topics: [topic])
        }
        guard let known = leaders[topic] else { throw KafkaError.broker(.unknownTopicOrPartition, context: "Metadata \(topic)") }
        var grouped: [Address: [Int32]] = [:]
        for partition in partitions.sorted() {
            guard let leader = known[partition] else { throw KafkaError.unknownPartition(topic: topic, partition: partition) }
            guard leader >= 0 else { throw KafkaError.broker(.leaderNotAvailable, context: "Metadata \(topic)/\(partition)") }
            guard let broker = brokers[leader] else { throw KafkaError.noBrokerAvailable("leader \(leader) of \(topic)/\(partition) is not in metadata") }
            grouped[Address(host: broker.host, port: broker.port), default: []].append(partition)
        }
        return grouped
    }

    // MARK: Retries

    private typealias PartitionSender<T> = @Sendable (KafkaClient, Address, [Int32]) async throws -> [Int32: Result<T, KafkaError>]

    /// Runs a per-partition request against each leader in parallel, retrying the
    /// partitions whose leader moved (or whose broker could not be reached) after a
    /// metadata refresh, until all succeed or attempts run out.
    private func perPartition<T: Sendable>(topic: String, partitions: [Int32], _ send: @escaping PartitionSender<T>) async throws -> [Int32: T] {
        var remaining = Set(partitions)
        var results: [Int32: T] = [:]
        var lastError: KafkaError?
        for attempt in 1...configuration.maxAttempts {
            if attempt > 1 {
                logger.debug("retrying Kafka request", metadata: ["attempt": "\(attempt)", "error": "\(lastError.map { "\($0)" } ?? "")"])
                try await Task.sleep(for: backoff(attempt: attempt))
            }
            let assignment: [Address: [Int32]]
            do {
                assignment = try await leaderAddresses(topic: topic, partitions: Array(remaining), refresh: attempt > 1)
            } catch let error as KafkaError where error.isRetriable {
                lastError = error
                continue
            }
            let outcomes = await withTaskGroup(of: (Address, [Int32], Result<[Int32: Result<T, KafkaError>], any Error>).self) { group in
                for (address, batch) in assignment {
                    group.addTask {
                        do {
                            return (address, batch, .success(try await send(self, address, batch)))
                        } catch {
                            return (address, batch, .failure(error))
                        }
                    }
                }
                var collected: [(Address, [Int32], Result<[Int32: Result<T, KafkaError>], any Error>)] = []
                for await outcome in group { collected.append(outcome) }
                return collected
            }
            for (address, batch, outcome) in outcomes {
                switch outcome {
                case let .failure(error):
                    guard let kafkaError = error as? KafkaError, kafkaError.isRetriable else { throw error }
                    lastError = kafkaError
                    logger.debug("Kafka request failed", metadata: ["broker": "\(address)", "error": "\(kafkaError)"])
                case let .success(perPartition):
                    for partition in batch {
                        switch perPartition[partition] {
                        case let .success(value)?:
                            results[partition] = value
                            remaining.remove(partition)
                        case let .failure(error)?:
                            guard error.isRetriable else { throw error }
                            lastError = error
                        case nil:
                            throw KafkaError.malformedMessage("response from \(address) omitted \(topic)/\(partition)")
                        }
                    }
                }
            }
            if remaining.isEmpty { return results }
        }
        throw lastError ?? KafkaError.noBrokerAvailable("no attempt made")
    }

    /// Runs `body` until it succeeds, fails with a non-retriable error, or attempts run out.
    private func retrying<T>(_ api: String, _ body: (Int) async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await body(attempt)
            } catch let error as KafkaError where error.isRetriable && attempt < configuration.maxAttempts {
                logger.debug("retrying Kafka request", metadata: ["api": "\(api)", "attempt": "\(attempt + 1)", "error": "\(error)"])
                attempt += 1
                try await Task.sleep(for: backoff(attempt: attempt))
            }
        }
    }

    private func backoff(attempt: Int) -> Duration {
        var delay = configuration.retryBackoff
        for _ in 2..<max(2, attempt) { delay *= 2 }
        return min(delay, configuration.maxRetryBackoff)
    }

    // MARK: Group coordinator

    private func lookUpCoordinator(group: String) async throws -> KafkaBroker {
        let (_, address) = try await anyConnection()
        let response = try await send(FindCoordinatorRequest(key: group), to: address)
        guard response.errorCode == .none else {
            let message = response.errorMessage.map { ": \($0)" } ?? ""
            throw KafkaError.broker(response.errorCode, context: "FindCoordinator \(group)\(message)")
        }
        coordinators[group] = Address(host: response.host, port: Int(response.port))
        return KafkaBroker(nodeID: response.nodeID, host: response.host, port: Int(response.port))
    }

    /// Runs `body` against the group's coordinator, finding it again when it moved.
    func withCoordinator<T: Sendable>(group: String, api: String,
                                              _ body: @Sendable (KafkaClient, Address) async throws -> T) async throws -> T {
        try await retrying(api) { _ in
            let address: Address
            if let known = coordinators[group] {
                address = known
            } else {
                let broker = try await lookUpCoordinator(group: group)
                address = Address(host: broker.host, port: broker.port)
            }
            do {
                return try await body(self, address)
            } catch let error as KafkaError {
                switch error {
                case let .broker(code, _) where code.invalidatesCoordinator:
                    coordinators[group] = nil
                case .connectionClosed, .connectionFailed, .requestTimedOut:
                    coordinators[group] = nil
                default:
                    break
                }
                throw error
            }
        }
    }
}

extension String {
    fileprivate var trimmingPrefixAndSuffixSpaces: Substring {
        var view = Substring(self)
        while view.first == " " { view.removeFirst() }
        while view.last == " " { view.removeLast() }
        return view
    }
}
