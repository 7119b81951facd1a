/// Every failure the Kafka client reports.
///
/// Errors that come from the broker carry a ``KafkaErrorCode``; the others describe
/// what went wrong on this side: bad bytes, a lost connection, a version no broker
/// speaks, a compression codec this client cannot read.
public enum KafkaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The broker answered with an error code. `context` names the API and, where there
    /// is one, the topic and partition (e.g. `"Fetch orders/3"`).
    case broker(KafkaErrorCode, context: String)
    /// The bytes read do not follow the Kafka wire format (`reason` says where).
    case malformedMessage(String)
    /// A record batch failed its CRC-32C check: it is corrupt, not truncated.
    case corruptBatch(expectedCRC: UInt32, actualCRC: UInt32)
    /// A record batch uses a compression codec this client does not implement.
    /// Only `none` and `gzip` are supported; `codec` is `"snappy"`, `"lz4"`, `"zstd"` or
    /// `"unknown(N)"`.
    case unsupportedCompression(String)
    /// A message-set format other than record batch v2 (magic 2) was returned.
    case unsupportedMessageFormat(magic: Int8)
    /// The broker supports no version of `api` that this client implements.
    case unsupportedVersion(api: String, brokerMin: Int16, brokerMax: Int16)
    /// The broker does not support `api` at all.
    case unsupportedAPI(String)
    /// No response arrived within the request timeout; the connection was closed.
    case requestTimedOut(api: String)
    /// The connection closed (or could not be used) before the response arrived.
    case connectionClosed(String)
    /// Connecting to a broker failed.
    case connectionFailed(host: String, port: Int, reason: String)
    /// No broker of the bootstrap list could be reached, or no leader is known.
    case noBrokerAvailable(String)
    /// A partition number does not exist in the topic.
    case unknownPartition(topic: String, partition: Int32)
    /// gzip compression or decompression failed inside zlib.
    case compressionFailed(String)
    /// The argument is out of the range the protocol allows.
    case invalidArgument(String)
    /// The client was closed.
    case clientClosed

    public var description: String {
        switch self {
        case let .broker(code, context): "Kafka broker error \(code) (\(code.code)) in \(context)"
        case let .malformedMessage(reason): "malformed Kafka message: \(reason)"
        case let .corruptBatch(expected, actual):
            "corrupt record batch: CRC-32C is \(hex(actual)), header says \(hex(expected))"
        case let .unsupportedCompression(codec):
            "record batch compressed with \(codec), which this client does not support (supported: none, gzip)"
        case let .unsupportedMessageFormat(magic): "unsupported message format magic \(magic) (only record batch v2)"
        case let .unsupportedVersion(api, lo, hi):
            "broker supports \(api) versions \(lo)...\(hi), none of which this client implements"
        case let .unsupportedAPI(api): "broker does not support \(api)"
        case let .requestTimedOut(api): "\(api) request timed out"
        case let .connectionClosed(reason): "Kafka connection closed: \(reason)"
        case let .connectionFailed(host, port, reason): "could not connect to Kafka broker \(host):\(port): \(reason)"
        case let .noBrokerAvailable(reason): "no Kafka broker available: \(reason)"
        case let .unknownPartition(topic, partition): "topic \(topic) has no partition \(partition)"
        case let .compressionFailed(reason): "gzip: \(reason)"
        case let .invalidArgument(reason): "invalid argument: \(reason)"
        case .clientClosed: "Kafka client is closed"
        }
    }

    /// Whether trying again (after refreshing metadata) may succeed.
    public var isRetriable: Bool {
        switch self {
        case let .broker(code, _): code.isRetriable
        case .requestTimedOut, .connectionClosed, .connectionFailed, .noBrokerAvailable: true
        default: false
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
