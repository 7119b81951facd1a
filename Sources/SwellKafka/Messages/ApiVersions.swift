import NIOCore

/// ApiVersions (key 18) v0: which versions of each API the broker implements.
///
/// Always sent at v0, which every broker answers, before any other request on a connection.
struct ApiVersionsRequest: KafkaRequest {
    static let apiKey = KafkaAPIKey.apiVersions
    static let supportedVersions: ClosedRange<Int16> = 0...0

    struct Response: Sendable, Equatable {
        var errorCode: KafkaErrorCode
        /// API key → supported version range.
        var versions: [Int16: ClosedRange<Int16>]
    }

    func encode(into buffer: inout ByteBuffer, version: Int16) {}

    static func decodeResponse(from buffer: inout ByteBuffer, version: Int16) throws -> Response {
        let errorCode = KafkaErrorCode(code: try buffer.readKafkaInt16())
        var versions: [Int16: ClosedRange<Int16>] = [:]
        let entries = try buffer.readKafkaArray { buffer in
            (try buffer.readKafkaInt16(), try buffer.readKafkaInt16(), try buffer.readKafkaInt16())
        }
        for (key, low, high) in entries {
            guard low <= high else { throw KafkaError.malformedMessage("API \(key) versions \(low)...\(high)") }
            versions[key] = low...high
        }
        return Response(errorCode: errorCode, versions: versions)
    }
}
