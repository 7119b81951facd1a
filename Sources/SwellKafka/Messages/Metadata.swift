import NIOCore

/// Metadata (key 3) v1...v8: brokers, and each topic's partitions with their leaders.
struct MetadataRequest: KafkaRequest {
    static let apiKey = KafkaAPIKey.metadata
    static let supportedVersions: ClosedRange<Int16> = 1...8

    /// Topics to describe; `nil` asks for all topics.
    var topics: [String]?
    /// v4+: whether the broker may create unknown topics (always false here by default).
    var allowAutoTopicCreation = false

    struct Broker: Sendable, Equatable {
        var nodeID: Int32
        var host: String
        var port: Int32
        var rack: String?
    }

    struct Partition: Sendable, Equatable {
        var errorCode: KafkaErrorCode
        var partition: Int32
        var leader: Int32
        var leaderEpoch: Int32
        var replicas: [Int32]
        var isr: [Int32]
    }

    struct Topic: Sendable, Equatable {
        var errorCode: KafkaErrorCode
        var name: String
        var isInternal: Bool
        var partitions: [Partition]
    }

    struct Response: Sendable, Equatable {
        var brokers: [Broker]
        var clusterID: String?
        var controllerID: Int32
        var topics: [Topic]
    }

    func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaNullableArray(topics) { $0.writeKafkaString($1) }
        if version >= 4 { buffer.writeKafkaBool(allowAutoTopicCreation) }
        if version >= 8 {
            buffer.writeKafkaBool(false) // include_cluster_authorized_operations
            buffer.writeKafkaBool(false) // include_topic_authorized_operations
        }
    }

    static func decodeResponse(from buffer: inout ByteBuffer, version: Int16) throws -> Response {
        if version >= 3 { _ = try buffer.readKafkaInt32() } // throttle_time_ms
        let brokers = try buffer.readKafkaArray { buffer in
            Broker(nodeID: try buffer.readKafkaInt32(), host: try buffer.readKafkaString(),
                   port: try buffer.readKafkaInt32(), rack: try buffer.readKafkaNullableString())
        }
        let clusterID = version >= 2 ? try buffer.readKafkaNullableString() : nil
        let controllerID = try buffer.readKafkaInt32()
        let topics = try buffer.readKafkaArray { buffer in
            let errorCode = KafkaErrorCode(code: try buffer.readKafkaInt16())
            let name = try buffer.readKafkaString()
            let isInternal = try buffer.readKafkaBool()
            let partitions = try buffer.readKafkaArray { buffer in
                let errorCode = KafkaErrorCode(code: try buffer.readKafkaInt16())
                let partition = try buffer.readKafkaInt32()
                let leader = try buffer.readKafkaInt32()
                let leaderEpoch = version >= 7 ? try buffer.readKafkaInt32() : -1
                let replicas = try buffer.readKafkaArray { try $0.readKafkaInt32() }
                let isr = try buffer.readKafkaArray { try $0.readKafkaInt32() }
                if version >= 5 { _ = try buffer.readKafkaArray { try $0.readKafkaInt32() } } // offline_replicas
                return Partition(errorCode: errorCode, partition: partition, leader: leader,
                                 leaderEpoch: leaderEpoch, replicas: replicas, isr: isr)
            }
            if version >= 8 { _ = try buffer.readKafkaInt32() } // topic_authorized_operations
            return Topic(errorCode: errorCode, name: name, isInternal: isInternal, partitions: partitions)
        }
        if version >= 8 { _ = try buffer.readKafkaInt32() } // cluster_authorized_operations
        return Response(brokers: brokers, clusterID: clusterID, controllerID: controllerID, topics: topics)
    }
}
