import NIOCore

/// OffsetCommit (key 8) v2...v7: store a group's committed offsets.
///
/// This client commits as a "simple consumer": generation id -1 and an empty member id,
/// which a coordinator accepts for a group with no active members.
struct OffsetCommitRequest: KafkaRequest {
    static let apiKey = KafkaAPIKey.offsetCommit
    static let supportedVersions: ClosedRange<Int16> = 2...7

    struct PartitionCommit: Sendable, Equatable {
        var partition: Int32
        var offset: Int64
        var metadata: String?
    }

    struct TopicCommit: Sendable, Equatable {
        var topic: String
        var partitions: [PartitionCommit]
    }

    var groupID: String
    var generationID: Int32 = -1
    var memberID: String = ""
    var topics: [TopicCommit]

    struct PartitionResult: Sendable, Equatable {
        var partition: Int32
        var errorCode: KafkaErrorCode
    }

    struct TopicResult: Sendable, Equatable {
        var topic: String
        var partitions: [PartitionResult]
    }

    struct Response: Sendable, Equatable {
        var topics: [TopicResult]
    }

    func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(groupID)
        buffer.writeKafkaInt32(generationID)
        buffer.writeKafkaString(memberID)
        if version >= 7 { buffer.writeKafkaNullableString(nil) } // group_instance_id
        if version <= 4 { buffer.writeKafkaInt64(-1) } // retention_time_ms: the broker's default
        buffer.writeKafkaArray(topics) { buffer, topic in
            buffer.writeKafkaString(topic.topic)
            buffer.writeKafkaArray(topic.partitions) { buffer, commit in
                buffer.writeKafkaInt32(commit.partition)
                buffer.writeKafkaInt64(commit.offset)
                if version >= 6 { buffer.writeKafkaInt32(-1) } // committed_leader_epoch: unknown
                buffer.writeKafkaNullableString(commit.metadata)
            }
        }
    }

    static func decodeResponse(from buffer: inout ByteBuffer, version: Int16) throws -> Response {
        if version >= 3 { _ = try buffer.readKafkaInt32() } // throttle_time_ms
        let topics = try buffer.readKafkaArray { buffer in
            let topic = try buffer.readKafkaString()
            let partitions = try buffer.readKafkaArray { buffer in
                PartitionResult(partition: try buffer.readKafkaInt32(), errorCode: KafkaErrorCode(code: try buffer.readKafkaInt16()))
            }
            return TopicResult(topic: topic, partitions: partitions)
        }
        return Response(topics: topics)
    }
}
