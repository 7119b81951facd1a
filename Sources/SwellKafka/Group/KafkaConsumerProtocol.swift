import NIOCore

/// Topic → partitions, the shape of an assignment.
public typealias KafkaPartitionSet = [String: [Int32]]

/// The consumer protocol's member metadata ("subscription") and assignment, carried as
/// opaque bytes by JoinGroup and SyncGroup. Written at version 0; any version is read,
/// fields past the ones this client needs (owned partitions, generation, rack) ignored.
public enum KafkaConsumerProtocol {
    /// A member's subscription: the topics it reads.
    public static func encodeSubscription(topics: [String]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeKafkaInt16(0)
        buffer.writeKafkaArray(topics.sorted()) { $0.writeKafkaString($1) }
        buffer.writeKafkaNullableBytes(nil) // user_data
        return buffer
    }

    public static func decodeSubscription(_ bytes: ByteBuffer) throws -> [String] {
        var buffer = bytes
        let version = try buffer.readKafkaInt16()
        guard version >= 0 else { throw KafkaError.malformedMessage("consumer subscription version \(version)") }
        return try buffer.readKafkaArray { try $0.readKafkaString() }
    }

    public static func encodeAssignment(_ partitions: KafkaPartitionSet) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeKafkaInt16(0)
        buffer.writeKafkaArray(partitions.keys.sorted()) { buffer, topic in
            buffer.writeKafkaString(topic)
            buffer.writeKafkaArray(partitions[topic]!.sorted()) { $0.writeKafkaInt32($1) }
        }
        buffer.writeKafkaNullableBytes(nil) // user_data
        return buffer
    }

    /// An empty buffer (a member the leader gave nothing) reads as no partitions.
    public static func decodeAssignment(_ bytes: ByteBuffer) throws -> KafkaPartitionSet {
        guard bytes.readableBytes > 0 else { return [:] }
        var buffer = bytes
        let version = try buffer.readKafkaInt16()
        guard version >= 0 else { throw KafkaError.malformedMessage("consumer assignment version \(version)") }
        var result: KafkaPartitionSet = [:]
        let topics = try buffer.readKafkaArray { buffer in
            (try buffer.readKafkaString(), try buffer.readKafkaArray { try $0.readKafkaInt32() })
        }
        for (topic, partitions) in topics { result[topic, default: []].append(contentsOf: partitions) }
        return result.mapValues { $0.sorted() }
    }
}

/// The range assignor (Kafka's `range`, which librdkafka and the Java client offer by
/// default): per topic, the members subscribed to it, sorted by member id, take
/// consecutive ranges of its partitions; the first `partitions % members` get one more.
public enum KafkaRangeAssignor {
    public static let name = "range"

    /// - Parameters:
    ///   - subscriptions: member id → topics it subscribed to.
    ///   - partitionCounts: topic → its number of partitions (topics absent are unknown: none assigned).
    /// - Returns: member id → its partitions; every member is present, maybe with nothing.
    public static func assign(subscriptions: [String: [String]], partitionCounts: [String: Int]) -> [String: KafkaPartitionSet] {
        var result: [String: KafkaPartitionSet] = Dictionary(uniqueKeysWithValues: subscriptions.keys.map { ($0, [:]) })
        let topics = Set(subscriptions.values.flatMap { $0 })
        for topic in topics.sorted() {
            guard let count = partitionCounts[topic], count > 0 else { continue }
            let members = subscriptions.filter { $0.value.contains(topic) }.keys.sorted()
            let each = count / members.count
            let extra = count % members.count
            for (i, member) in members.enumerated() {
                let start = i * each + min(i, extra)
                let length = each + (i < extra ? 1 : 0)
                guard length > 0 else { continue }
                result[member]![topic] = (start..<(start + length)).map { Int32($0) }
            }
        }
        return result
    }
}
