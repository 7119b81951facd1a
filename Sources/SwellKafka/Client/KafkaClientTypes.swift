/// A broker's address as metadata or FindCoordinator report it.
public struct KafkaBroker: Sendable, Hashable, CustomStringConvertible {
    public var nodeID: Int32
    public var host: String
    public var port: Int

    public init(nodeID: Int32, host: String, port: Int) {
        self.nodeID = nodeID
        self.host = host
        self.port = port
    }

    public var description: String { "\(nodeID)@\(host):\(port)" }
}

/// One partition of a topic, as metadata reports it.
public struct KafkaPartitionMetadata: Sendable, Hashable {
    public var partition: Int32
    /// The leader's node id; -1 while the partition has no leader.
    public var leader: Int32
    public var replicas: [Int32]
    public var inSyncReplicas: [Int32]
}

/// A topic and its partitions, sorted by partition number.
public struct KafkaTopicMetadata: Sendable, Hashable {
    public var name: String
    public var partitions: [KafkaPartitionMetadata]
}

/// Which offset ``KafkaClient/listOffsets(topic:partitions:at:)`` looks up.
public enum KafkaOffsetSpec: Sendable, Hashable {
    /// The first offset still in the log.
    case earliest
    /// The offset the next produced record will get (the high watermark).
    case latest
    /// The first offset whose record timestamp is at or after this many milliseconds
    /// since the epoch; -1 when there is none.
    case timestamp(Int64)

    var wireValue: Int64 {
        switch self {
        case .earliest: -2
        case .latest: -1
        case let .timestamp(milliseconds): milliseconds
        }
    }
}

/// What a fetch returned for one partition.
public struct KafkaFetchedPartition: Sendable, Hashable {
    public var partition: Int32
    /// Data records at or after the requested offset, in offset order. Transaction
    /// markers are skipped; records of aborted transactions are not filtered
    /// (the fetch reads uncommitted).
    public var records: [KafkaRecord]
    /// The offset after the last record replicated to all in-sync replicas (-1 when the
    /// broker left the partition out of its answer).
    public var highWatermark: Int64
    /// The first offset still in the log (-1 when the broker does not say).
    public var logStartOffset: Int64
    /// Where the next fetch should start: after the last record or transaction marker
    /// returned, or the requested offset when nothing complete was returned.
    public var nextOffset: Int64
}

/// Where ``KafkaClient/produce(topic:records:partitioning:compression:)`` puts records.
public enum KafkaPartitioning: Sendable, Hashable {
    /// Every record to this partition.
    case partition(Int32)
    /// A keyed record to `murmur2(key) % partitionCount`, as the Java client does; the
    /// records without a key of one call all go to one partition, chosen round-robin
    /// across calls.
    case keyHash
}
