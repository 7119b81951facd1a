import NIOCore

/// The API keys this client speaks.
enum KafkaAPIKey: Int16, Sendable, CaseIterable, CustomStringConvertible {
    case produce = 0
    case fetch = 1
    case listOffsets = 2
    case metadata = 3
    case offsetCommit = 8
    case offsetFetch = 9
    case findCoordinator = 10
    case joinGroup = 11
    case heartbeat = 12
    case leaveGroup = 13
    case syncGroup = 14
    case apiVersions = 18

    var description: String {
        switch self {
        case .produce: "Produce"
        case .fetch: "Fetch"
        case .listOffsets: "ListOffsets"
        case .metadata: "Metadata"
        case .offsetCommit: "OffsetCommit"
        case .offsetFetch: "OffsetFetch"
        case .findCoordinator: "FindCoordinator"
        case .joinGroup: "JoinGroup"
        case .heartbeat: "Heartbeat"
        case .leaveGroup: "LeaveGroup"
        case .syncGroup: "SyncGroup"
        case .apiVersions: "ApiVersions"
        }
    }
}

/// A request body of one API, encodable at every version in `supportedVersions`, with
/// the matching response decoder. Only non-flexible versions are implemented, so every
/// request travels with request header v1 and every response with response header v0.
protocol KafkaRequest: Sendable {
    associatedtype Response: Sendable
    static var apiKey: KafkaAPIKey { get }
    /// The versions this client implements (all non-flexible).
    static var supportedVersions: ClosedRange<Int16> { get }
    /// Writes the request body (without the header) at `version`.
    func encode(into buffer: inout ByteBuffer, version: Int16)
    /// Reads the response body (after the header) at `version`.
    static func decodeResponse(from buffer: inout ByteBuffer, version: Int16) throws -> Response
}

extension KafkaRequest {
    /// The body encoded at `version`, for sending or for tests.
    /// - Throws: `KafkaError.invalidArgument` for a version this client does not implement.
    func encoded(version: Int16) throws -> ByteBuffer {
        guard Self.supportedVersions.contains(version) else {
            throw KafkaError.invalidArgument(
                "\(Self.apiKey) v\(version) is not implemented (this client speaks v\(Self.supportedVersions.lowerBound)-v\(Self.supportedVersions.upperBound))")
        }
        var buffer = ByteBuffer()
        encode(into: &buffer, version: version)
        return buffer
    }

    /// Decodes a whole response body, refusing bytes left over.
    static func decodeWholeResponse(_ body: ByteBuffer, version: Int16) throws -> Response {
        var body = body
        let response = try decodeResponse(from: &body, version: version)
        guard body.readableBytes == 0 else {
            throw KafkaError.malformedMessage("\(body.readableBytes) stray bytes after \(apiKey) v\(version) response")
        }
        return response
    }
}

/// Request header v1 and response header v0.
enum KafkaHeaderCodec {
    /// Writes request header v1: api key, api version, correlation id, client id.
    static func writeRequestHeader(apiKey: Int16, version: Int16, correlationID: Int32, clientID: String?, into buffer: inout ByteBuffer) {
        buffer.writeKafkaInt16(apiKey)
        buffer.writeKafkaInt16(version)
        buffer.writeKafkaInt32(correlationID)
        buffer.writeKafkaNullableString(clientID)
    }

    /// Reads response header v0: the correlation id.
    static func readResponseHeader(from buffer: inout ByteBuffer) throws -> Int32 {
        try buffer.readKafkaInt32()
    }
}

/// Picks the highest version both sides implement.
enum KafkaVersionNegotiation {
    static func choose(api: KafkaAPIKey, ours: ClosedRange<Int16>, broker: ClosedRange<Int16>?) throws -> Int16 {
        guard let broker else { throw KafkaError.unsupportedAPI(api.description) }
        let low = max(ours.lowerBound, broker.lowerBound)
        let high = min(ours.upperBound, broker.upperBound)
        guard low <= high else {
            throw KafkaError.unsupportedVersion(api: api.description, brokerMin: broker.lowerBound, brokerMax: broker.upperBound)
        }
        return high
    }
}
