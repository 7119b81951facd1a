import NIOCore

/// ListOffsets (key 2) v1...v5: the offset of the first record at or after a timestamp,
/// or the earliest (-2) / latest (-1) offset.
struct ListOffsetsRequest: KafkaRequest {
    static let apiKey = KafkaAPIKey.listOffsets
    static let supportedVersions: ClosedRange<Int16> = 1...5

    struct PartitionQuery: Sendable, Equatable {
        var partition: Int32
        /// -2 for earliest, -1 for latest, otherwise milliseconds since the epoch.
        var timestamp: Int64
    }

    var topic: String
    var partitions: [PartitionQuery]
    /// v2+: 0 read uncommitted, 1 read committed.
    var isolationLevel: Int8 = 0

    struct PartitionResult: Sendable, Equatable {
        var partition: Int32
        var errorCode: KafkaErrorCode
        var timestamp: Int64
        var offset: Int64
    }

    struct TopicResult: Sendable, Equatable {
        var name: String
        var partitions: [PartitionResult]
    }

    struct Response: Sendable, Equatable {
        var topics: [TopicResult]
    }

    func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaInt32(-1) // replica_id: a consumer
        if version >= 2 { buffer.writeKafkaInt8(isolationLevel) }
        buffer.writeKafkaArray([topic]) { buffer, topic in
            buffer.writeKafkaString(topic)
            buffer.writeKafkaArray(partitions) { buffer, query in
                buffer.writeKafkaInt32(query.partition)
                if version >= 4 { buffer.writeKafkaInt32(-1) } // current_leader_epoch: unknown
                buffer.writeKafkaInt64(query.timestamp)
            }
        }
    }

    static func decodeResponse(from buffer: inout ByteBuffer, version: Int16) throws -> Response {
        if version >= 2 { _ = try buffer.readKafkaInt32() } // throttle_time_ms
        let topics = try buffer.readKafkaArray { buffer in
            let name = try buffer.readKafkaString()
            let partitions = try buffer.readKafkaArray { buffer in
                let partition = try buffer.readKafkaInt32()
                let errorCode = KafkaErrorCode(code: try buffer.readKafkaInt16())
                let timestamp = try buffer.readKafkaInt64()
                let offset = try buffer.readKafkaInt64()
                if version >= 4 { _ = try buffer.readKafkaInt32() } // leader_epoch
                return PartitionResult(partition: partition, errorCode: errorCode, timestamp: timestamp, offset: offset)
            }
            return TopicResult(name: name, partitions: partitions)
        }
        return Response(topics: topics)
    }
}
