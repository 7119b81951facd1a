import NIOCore

/// FindCoordinator (key 10) v1...v2: the broker that coordinates a consumer group.
struct FindCoordinatorRequest: KafkaRequest {
    static let apiKey = KafkaAPIKey.findCoordinator
    static let supportedVersions: ClosedRange<Int16> = 1...2

    /// The group id.
    var key: String
    /// 0: a consumer group; 1: a transactional id.
    var keyType: Int8 = 0

    struct Response: Sendable, Equatable {
        var errorCode: KafkaErrorCode
        var errorMessage: String?
        var nodeID: Int32
        var host: String
        var port: Int32
    }

    func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(key)
        buffer.writeKafkaInt8(keyType)
    }

    static func decodeResponse(from buffer: inout ByteBuffer, version: Int16) throws -> Response {
        _ = try buffer.readKafkaInt32() // throttle_time_ms
        return Response(errorCode: KafkaErrorCode(code: try buffer.readKafkaInt16()),
                        errorMessage: try buffer.readKafkaNullableString(),
                        nodeID: try buffer.readKafkaInt32(),
                        host: try buffer.readKafkaString(),
                        port: try buffer.readKafkaInt32())
    }
}
