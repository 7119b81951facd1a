import NIOCore

/// Produce (key 0) v3...v8: append one record batch per partition, acks=all.
struct ProduceRequest: KafkaRequest {
    static let apiKey = KafkaAPIKey.produce
    static let supportedVersions: ClosedRange<Int16> = 3...8

    struct PartitionData: Sendable, Equatable {
        var partition: Int32
        /// One encoded record batch v2.
        var records: ByteBuffer
    }

    var topic: String
    var partitions: [PartitionData]
    /// -1: the leader waits for the full in-sync replica set (acks=all).
    var acks: Int16 = -1
    var timeoutMs: Int32

    struct PartitionResult: Sendable, Equatable {
        var partition: Int32
        var errorCode: KafkaErrorCode
        var baseOffset: Int64
        var logAppendTime: Int64
        var logStartOffset: Int64
        /// v8+: the broker's message for the error, when it gives one.
        var errorMessage: String?
    }

    struct TopicResult: Sendable, Equatable {
        var topic: String
        var partitions: [PartitionResult]
    }

    struct Response: Sendable, Equatable {
        var topics: [TopicResult]
    }

    func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaNullableString(nil) // transactional_id
        buffer.writeKafkaInt16(acks)
        buffer.writeKafkaInt32(timeoutMs)
        buffer.writeKafkaArray([topic]) { buffer, topic in
            buffer.writeKafkaString(topic)
            buffer.writeKafkaArray(partitions) { buffer, data in
                buffer.writeKafkaInt32(data.partition)
                buffer.writeKafkaNullableBytes(data.records)
            }
        }
    }

    static func decodeResponse(from buffer: inout ByteBuffer, version: Int16) throws -> Response {
        let topics = try buffer.readKafkaArray { buffer in
            let topic = try buffer.readKafkaString()
            let partitions = try buffer.readKafkaArray { buffer in
                let partition = try buffer.readKafkaInt32()
                let errorCode = KafkaErrorCode(code: try buffer.readKafkaInt16())
                let baseOffset = try buffer.readKafkaInt64()
                let logAppendTime = try buffer.readKafkaInt64()
                let logStartOffset = version >= 5 ? try buffer.readKafkaInt64() : -1
                var errorMessage: String?
                if version >= 8 {
                    _ = try buffer.readKafkaArray { buffer in // record_errors
                        (try buffer.readKafkaInt32(), try buffer.readKafkaNullableString())
                    }
                    errorMessage = try buffer.readKafkaNullableString()
                }
                return PartitionResult(partition: partition, errorCode: errorCode, baseOffset: baseOffset,
                                       logAppendTime: logAppendTime, logStartOffset: logStartOffset,
                                       errorMessage: errorMessage)
            }
            return TopicResult(topic: topic, partitions: partitions)
        }
        _ = try buffer.readKafkaInt32() // throttle_time_ms
        return Response(topics: topics)
    }
}
