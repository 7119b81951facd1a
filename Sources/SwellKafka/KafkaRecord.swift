/// A record header: a string key and an optional byte value.
public struct KafkaHeader: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// A record read from a partition.
public struct KafkaRecord: Sendable, Hashable {
    /// The record's offset in its partition.
    public var offset: Int64
    /// Milliseconds since the Unix epoch (create time or log-append time, as the topic says).
    public var timestamp: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]

    public init(offset: Int64, timestamp: Int64, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = []) {
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// A record to produce.
public struct KafkaProducerRecord: Sendable, Hashable {
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    /// Milliseconds since the Unix epoch; `nil` takes the time of sending.
    public var timestamp: Int64?

    public init(key: [UInt8]? = nil, value: [UInt8]?, headers: [KafkaHeader] = [], timestamp: Int64? = nil) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }
}

/// Compression of a record batch this client writes. Batches it reads may be
/// uncompressed or gzip; snappy, lz4 and zstd fail with ``KafkaError/unsupportedCompression(_:)``.
public enum KafkaCompression: Int16, Sendable, Hashable {
    case none = 0
    case gzip = 1
}
