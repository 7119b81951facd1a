import NIOCore

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
///
/// Its value is a slice of the fetched response (no copy per record): a decoded record keeps
/// that response's buffer alive until the record is dropped. ``value`` copies it out as an
/// array; hot paths read ``valueBytes``. The key (short, and hashed by the trigger's key
/// ordering) is an array. Equality and hashing compare the bytes.
public struct KafkaRecord: Sendable, Hashable {
    /// The record's offset in its partition.
    public var offset: Int64
    /// Milliseconds since the Unix epoch (create time or log-append time, as the topic says).
    public var timestamp: Int64
    public var key: [UInt8]?
    /// The value's bytes (a slice of the fetched record set), `nil` for a null value (a tombstone).
    public var valueBytes: ByteBuffer?
    public var headers: [KafkaHeader]

    /// The value, copied out as an array.
    public var value: [UInt8]? {
        get { valueBytes.map { Array($0.readableBytesView) } }
        set { valueBytes = newValue.map { ByteBuffer(bytes: $0) } }
    }

    public init(offset: Int64, timestamp: Int64, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = []) {
        self.init(offset: offset, timestamp: timestamp, key: key, valueBytes: value.map { ByteBuffer(bytes: $0) }, headers: headers)
    }

    public init(offset: Int64, timestamp: Int64, key: [UInt8]?, valueBytes: ByteBuffer?, headers: [KafkaHeader] = []) {
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.valueBytes = valueBytes
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
