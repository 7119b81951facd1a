import NIOCore

/// Fetch (key 1) v4...v11: records from partitions led by one broker.
///
/// Sent without fetch sessions (session id 0, epoch -1: a full fetch each time), read
/// uncommitted. The `records` of each partition stay raw here; ``RecordBatch`` decodes them.
struct FetchRequest: KafkaRequest {
    static let apiKey = KafkaAPIKey.fetch
    static let supportedVersions: ClosedRange<Int16> = 4...11

    struct PartitionQuery: Sendable, Equatable {
        var partition: Int32
        var fetchOffset: Int64
        var partitionMaxBytes: Int32
    }

    struct TopicQuery: Sendable, Equatable {
        var topic: String
        var partitions: [PartitionQuery]
    }

    var maxWaitMs: Int32
    var minBytes: Int32
    var maxBytes: Int32
    var isolationLevel: Int8 = 0
    var topics: [TopicQuery]

    struct AbortedTransaction: Sendable, Equatable {
        var producerID: Int64
        var firstOffset: Int64
    }

    struct PartitionResult: Sendable, Equatable {
        var partition: Int32
        var errorCode: KafkaErrorCode
        var highWatermark: Int64
        var lastStableOffset: Int64
        var logStartOffset: Int64
        var abortedTransactions: [AbortedTransaction]?
        var records: ByteBuffer?
    }

    struct TopicResult: Sendable, Equatable {
        var topic: String
        var partitions: [PartitionResult]
    }

    struct Response: Sendable, Equatable {
        /// v7+: a top-level error (fetch sessions); `.none` before.
        var errorCode: KafkaErrorCode
        var topics: [TopicResult]
    }

    func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaInt32(-1) // replica_id: a consumer
        buffer.writeKafkaInt32(maxWaitMs)
        buffer.writeKafkaInt32(minBytes)
        buffer.writeKafkaInt32(maxBytes)
        buffer.writeKafkaInt8(isolationLevel)
        if version >= 7 {
            buffer.writeKafkaInt32(0) // session_id: no session
            buffer.writeKafkaInt32(-1) // session_epoch: full fetch, no session created
        }
        buffer.writeKafkaArray(topics) { buffer, topic in
            buffer.writeKafkaString(topic.topic)
            buffer.writeKafkaArray(topic.partitions) { buffer, query in
                buffer.writeKafkaInt32(query.partition)
                if version >= 9 { buffer.writeKafkaInt32(-1) } // current_leader_epoch: unknown
                buffer.writeKafkaInt64(query.fetchOffset)
                if version >= 5 { buffer.writeKafkaInt64(-1) } // log_start_offset: a consumer has none
                buffer.writeKafkaInt32(query.partitionMaxBytes)
            }
        }
        if version >= 7 { buffer.writeKafkaArray([String]()) { $0.writeKafkaString($1) } } // forgotten_topics_data
        if version >= 11 { buffer.writeKafkaString("") } // rack_id
    }

    static func decodeResponse(from buffer: inout ByteBuffer, version: Int16) throws -> Response {
        _ = try buffer.readKafkaInt32() // throttle_time_ms
        var errorCode = KafkaErrorCode.none
        if version >= 7 {
            errorCode = KafkaErrorCode(code: try buffer.readKafkaInt16())
            _ = try buffer.readKafkaInt32() // session_id
        }
        let topics = try buffer.readKafkaArray { buffer in
            let topic = try buffer.readKafkaString()
            let partitions = try buffer.readKafkaArray { buffer in
                let partition = try buffer.readKafkaInt32()
                let errorCode = KafkaErrorCode(code: try buffer.readKafkaInt16())
                let highWatermark = try buffer.readKafkaInt64()
                let lastStableOffset = try buffer.readKafkaInt64()
                let logStartOffset = version >= 5 ? try buffer.readKafkaInt64() : -1
                let aborted = try buffer.readKafkaNullableArray { buffer in
                    AbortedTransaction(producerID: try buffer.readKafkaInt64(), firstOffset: try buffer.readKafkaInt64())
                }
                if version >= 11 { _ = try buffer.readKafkaInt32() } // preferred_read_replica
                let records = try buffer.readKafkaNullableBytes()
                return PartitionResult(partition: partition, errorCode: errorCode, highWatermark: highWatermark,
                                       lastStableOffset: lastStableOffset, logStartOffset: logStartOffset,
                                       abortedTransactions: aborted, records: records)
            }
            return TopicResult(topic: topic, partitions: partitions)
        }
        return Response(errorCode: errorCode, topics: topics)
    }
}
