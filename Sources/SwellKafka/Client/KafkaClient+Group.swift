import NIOCore

/// The group membership APIs. Group-level answers (`REBALANCE_IN_PROGRESS`,
/// `UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION`, …) come back as error codes for
/// ``KafkaGroupMembership`` to decide on; only a moved or unavailable coordinator and lost
/// connections are retried here (finding the coordinator again).
extension KafkaClient {
    /// JoinGroup with the consumer protocol, offering the range assignor. The answer may take
    /// up to `rebalanceTimeout` (the coordinator waits for the other members).
    public func joinGroup(group: String, memberID: String, topics: [String], sessionTimeout: Duration,
                          rebalanceTimeout: Duration) async throws -> KafkaGroupMembership.JoinResult {
        let request = JoinGroupRequest(
            groupID: group, sessionTimeoutMs: Self.milliseconds(sessionTimeout), rebalanceTimeoutMs: Self.milliseconds(rebalanceTimeout),
            memberID: memberID, protocols: [.init(name: KafkaRangeAssignor.name, metadata: KafkaConsumerProtocol.encodeSubscription(topics: topics))])
        let wait = TimeAmount.milliseconds(Int64(Self.milliseconds(rebalanceTimeout)))
        let response = try await withCoordinator(group: group, api: "JoinGroup") { client, address in
            let response = try await client.send(request, to: address, extraTimeout: wait)
            if response.errorCode.invalidatesCoordinator || response.errorCode == .coordinatorLoadInProgress {
                throw KafkaError.broker(response.errorCode, context: "JoinGroup \(group)")
            }
            return response
        }
        var members: [String: [String]] = [:]
        for member in response.members {
            members[member.memberID] = (try? KafkaConsumerProtocol.decodeSubscription(member.metadata)) ?? []
        }
        if response.errorCode == .none, !response.members.isEmpty, response.protocolName != KafkaRangeAssignor.name {
            throw KafkaError.broker(.inconsistentGroupProtocol, context: "JoinGroup \(group): the group chose \(response.protocolName)")
        }
        return .init(errorCode: response.errorCode, generation: response.generationID, memberID: response.memberID,
                     leader: response.leader, members: members)
    }

    /// SyncGroup; the leader passes every member's assignment, the others none.
    public func syncGroup(group: String, generation: Int32, memberID: String,
                          assignments: [String: KafkaPartitionSet]) async throws -> (KafkaErrorCode, KafkaPartitionSet) {
        let request = SyncGroupRequest(groupID: group, generationID: generation, memberID: memberID,
                                       assignments: assignments.sorted { $0.key < $1.key }.map {
                                           .init(memberID: $0.key, assignment: KafkaConsumerProtocol.encodeAssignment($0.value))
                                       })
        let response = try await withCoordinator(group: group, api: "SyncGroup") { client, address in
            let response = try await client.send(request, to: address, extraTimeout: .seconds(30))
            if response.errorCode.invalidatesCoordinator { throw KafkaError.broker(response.errorCode, context: "SyncGroup \(group)") }
            return response
        }
        guard response.errorCode == .none else { return (response.errorCode, [:]) }
        return (.none, try KafkaConsumerProtocol.decodeAssignment(response.assignment))
    }

    public func heartbeat(group: String, generation: Int32, memberID: String) async throws -> KafkaErrorCode {
        let request = HeartbeatRequest(groupID: group, generationID: generation, memberID: memberID)
        return try await withCoordinator(group: group, api: "Heartbeat") { client, address in
            let response = try await client.send(request, to: address)
            if response.errorCode.invalidatesCoordinator { throw KafkaError.broker(response.errorCode, context: "Heartbeat \(group)") }
            return response.errorCode
        }
    }

    public func leaveGroup(group: String, memberID: String) async throws -> KafkaErrorCode {
        let request = LeaveGroupRequest(groupID: group, memberID: memberID)
        return try await withCoordinator(group: group, api: "LeaveGroup") { client, address in
            try await client.send(request, to: address).errorCode
        }
    }

    /// Commits offsets as a member of `generation`. Returns the first group-level error
    /// (`REBALANCE_IN_PROGRESS`, `ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`) the coordinator
    /// answered with, `.none` when every partition was committed; other errors throw.
    public func commitOffsets(group: String, generation: Int32, memberID: String,
                              offsets: [String: [Int32: Int64]]) async throws -> KafkaErrorCode {
        let request = OffsetCommitRequest(groupID: group, generationID: generation, memberID: memberID,
                                          topics: offsets.sorted { $0.key < $1.key }.map { topic, partitions in
            .init(topic: topic, partitions: partitions.sorted { $0.key < $1.key }.map { .init(partition: $0.key, offset: $0.value, metadata: "") })
        })
        return try await withCoordinator(group: group, api: "OffsetCommit") { client, address in
            let response = try await client.send(request, to: address)
            for topic in response.topics {
                for partition in topic.partitions where partition.errorCode != .none {
                    switch partition.errorCode {
                    case .rebalanceInProgress, .illegalGeneration, .unknownMemberId, .fencedInstanceId:
                        return partition.errorCode
                    default:
                        throw KafkaError.broker(partition.errorCode, context: "OffsetCommit \(group) \(topic.topic)/\(partition.partition)")
                    }
                }
            }
            return .none
        }
    }

    static func milliseconds(_ duration: Duration) -> Int32 {
        Int32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
