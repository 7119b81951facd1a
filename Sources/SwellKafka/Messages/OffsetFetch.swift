import NIOCore

/// OffsetFetch (key 9) v1...v5: a group's committed offsets.
struct OffsetFetchRequest: KafkaRequest {
    static let apiKey = KafkaAPIKey.offsetFetch
    static let supportedVersions: ClosedRange<Int16> = 1...5

    var groupID: String
    var topic: String
    var partitions: [Int32]

    struct PartitionResult: Sendable, Equatable {
        var partition: Int32
        /// -1 when the group has no committed offset for the partition.
        var committedOffset: Int64
        var metadata: String?
        var errorCode: KafkaErrorCode
    }

    struct TopicResult: Sendable, Equatable {
        var topic: String
        var partitions: [PartitionResult]
    }

    struct Response: Sendable, Equatable {
        var topics: [TopicResult]
        /// v2+: a group-level error; `.none` before.
        var errorCode: KafkaErrorCode
    }

    func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(groupID)
        buffer.writeKafkaArray([topic]) { buffer, topic in
            buffer.writeKafkaString(topic)
            buffer.writeKafkaArray(partitions) { $0.writeKafkaInt32($1) }
        }
    }

    static func decodeResponse(from buffer: inout ByteBuffer, version: Int16) throws -> Response {
        if version >= 3 { _ = try buffer.readKafkaInt32() } // throttle_time_ms
        let topics = try buffer.readKafkaArray { buffer in
            let topic = try buffer.readKafkaString()
            let partitions = try buffer.readKafkaArray { buffer in
                let partition = try buffer.readKafkaInt32()
                let offset = try buffer.readKafkaInt64()
                if version >= 5 { _ = try buffer.readKafkaInt32() } // committed_leader_epoch
                let metadata = try buffer.readKafkaNullableString()
                let errorCode = KafkaErrorCode(code: try buffer.readKafkaInt16())
                return PartitionResult(partition: partition, committedOffset: offset, metadata: metadata, errorCode: errorCode)
            }
            return TopicResult(topic: topic, partitions: partitions)
        }
        let errorCode = version >= 2 ? KafkaErrorCode(code: try buffer.readKafkaInt16()) : .none
        return Response(topics: topics, errorCode: errorCode)
    }
}
