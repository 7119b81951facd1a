import NIOCore
import Testing
@testable import SwellKafka

/// The group membership state machine as a value, driven by a mock clock (plain seconds).
@Suite struct KafkaGroupMembershipTests {
    typealias M = KafkaGroupMembership
    let settings = M.Settings(sessionTimeout: 6, rebalanceTimeout: 10, heartbeatInterval: 1, retryBackoff: 0.5)
    let four: KafkaPartitionSet = ["t": [0, 1, 2, 3]]

    /// A member that joined (as follower) generation `gen` with `assignment`.
    func stable(gen: Int32 = 1, assignment: KafkaPartitionSet = ["t": [0, 1]], at now: Double = 0) -> M {
        var m = M(settings: settings, now: now)
        _ = m.tick(now: now)
        _ = m.joined(.init(errorCode: .none, generation: gen, memberID: "me", leader: "other"), now: now)
        _ = m.synced(.none, generation: gen, assignment: assignment, now: now)
        return m
    }

    @Test func aNewMemberJoinsSyncsAndIsAssigned() {
        var m = M(settings: settings, now: 0)
        #expect(m.tick(now: 0) == [.join(memberID: "")])
        #expect(m.phase == .joining)
        #expect(m.tick(now: 5).isEmpty)  // one join at a time
        // A v4+ coordinator names the member first.
        #expect(m.joined(.init(errorCode: .memberIdRequired, memberID: "me-1"), now: 0.1) == [.join(memberID: "me-1")])
        let members: [String: [String]] = ["me-1": ["t"], "other": ["t"]]
        #expect(m.joined(.init(errorCode: .none, generation: 3, memberID: "me-1", leader: "me-1", members: members), now: 3)
            == [.sync(generation: 3, memberID: "me-1", members: members)])
        #expect(m.isLeader && m.phase == .syncing && !m.canCommit)
        #expect(m.synced(.none, generation: 3, assignment: ["t": [0, 1]], now: 3.2) == [.assign(["t": [0, 1]], generation: 3)])
        #expect(m.phase == .stable && m.generation == 3 && m.memberID == "me-1" && m.canCommit)
    }

    @Test func aFollowerSyncsWithoutAssignments() {
        var m = M(settings: settings, now: 0)
        _ = m.tick(now: 0)
        #expect(m.joined(.init(errorCode: .none, generation: 7, memberID: "me", leader: "boss", members: [:]), now: 1)
            == [.sync(generation: 7, memberID: "me", members: nil)])
        #expect(!m.isLeader)
    }

    @Test func heartbeatsFollowTheIntervalOneAtATime() {
        var m = stable(at: 10)
        #expect(m.tick(now: 10.5).isEmpty)
        #expect(m.tick(now: 11) == [.heartbeat(generation: 1, memberID: "me")])
        #expect(m.tick(now: 11.5).isEmpty)  // in flight
        #expect(m.heartbeatAnswered(KafkaErrorCode.none, generation: 1, now: 11.6).isEmpty)
        #expect(m.tick(now: 12.0).isEmpty)
        #expect(m.tick(now: 12.6) == [.heartbeat(generation: 1, memberID: "me")])
    }

    @Test func rebalanceInProgressRevokesThenRejoinsWithTheSameMemberID() {
        var m = stable()
        _ = m.tick(now: 1)
        #expect(m.heartbeatAnswered(.rebalanceInProgress, generation: 1, now: 1.1) == [.revoke(["t": [0, 1]])])
        // Revoked work may still be committed with generation 1 while the rebalance is prepared.
        #expect(m.canCommit && m.generation == 1)
        #expect(m.tick(now: 2).isEmpty)  // no join before the revoke is done
        #expect(m.revoked(now: 2.5) == [.join(memberID: "me")])
        #expect(m.assignment.isEmpty && !m.canCommit)
        #expect(m.joined(.init(errorCode: .none, generation: 2, memberID: "me", leader: "other"), now: 5)
            == [.sync(generation: 2, memberID: "me", members: nil)])
        #expect(m.synced(.none, generation: 2, assignment: ["t": [0]], now: 5.1) == [.assign(["t": [0]], generation: 2)])
        #expect(m.generation == 2)
    }

    @Test func aCommitRevealingARebalanceRejoinsAndAStaleAnswerChangesNothing() {
        var m = stable(gen: 4)
        #expect(m.commitAnswered(.illegalGeneration, generation: 3, now: 1).isEmpty)  // an older generation's answer
        #expect(m.phase == .stable)
        #expect(m.commitAnswered(.illegalGeneration, generation: 4, now: 1) == [.revoke(["t": [0, 1]])])
        #expect(m.revoked(now: 1.1) == [.join(memberID: "me")])
        // The late heartbeat answer of generation 4 arrives while joining: ignored.
        #expect(m.heartbeatAnswered(.rebalanceInProgress, generation: 4, now: 1.2).isEmpty)
        #expect(m.phase == .joining)
    }

    @Test func anEvictedMemberJoinsAsANewMember() {
        var m = stable()
        _ = m.tick(now: 1)
        #expect(m.heartbeatAnswered(.unknownMemberId, generation: 1, now: 1.1) == [.revoke(["t": [0, 1]])])
        #expect(!m.canCommit)  // the coordinator forgot the member: its commits would be refused
        #expect(m.revoked(now: 1.2) == [.join(memberID: "")])
        #expect(m.lastError == .unknownMemberId)
    }

    @Test func noAcknowledgedHeartbeatWithinTheSessionTimeoutIsAnEviction() {
        var m = stable(at: 0)
        #expect(m.tick(now: 1) == [.heartbeat(generation: 1, memberID: "me")])
        for t in stride(from: 1.0, to: 4.9, by: 1) {
            _ = m.heartbeatAnswered(nil, generation: 1, now: t + 0.05)  // connection lost: no answer
            _ = m.tick(now: t + 1)
        }
        #expect(m.phase == .stable)
        let actions = m.tick(now: 6.0)
        #expect(actions == [.revoke(["t": [0, 1]])])
        #expect(m.revoked(now: 6.1) == [.join(memberID: "")])
    }

    @Test func answeredHeartbeatsKeepTheSessionAlive() {
        var m = stable(at: 0)
        for t in stride(from: 1.0, through: 30, by: 1) {
            #expect(m.tick(now: t) == [.heartbeat(generation: 1, memberID: "me")])
            #expect(m.heartbeatAnswered(KafkaErrorCode.none, generation: 1, now: t).isEmpty)
        }
        #expect(m.phase == .stable)
    }

    @Test func failedJoinsBackOffAndCoordinatorMovesRetry() {
        var m = M(settings: settings, now: 0)
        _ = m.tick(now: 0)
        #expect(m.requestFailed(now: 1).isEmpty)
        #expect(m.phase == .unjoined)
        #expect(m.tick(now: 1.2).isEmpty)
        #expect(m.tick(now: 1.5) == [.join(memberID: "")])
        #expect(m.joined(.init(errorCode: .notCoordinator), now: 2).isEmpty)
        #expect(m.tick(now: 2.5) == [.join(memberID: "")])
        #expect(m.joined(.init(errorCode: .inconsistentGroupProtocol), now: 3) == [.fail(.inconsistentGroupProtocol)])
        #expect(m.tick(now: 3.5).isEmpty)
        #expect(m.tick(now: 4) == [.join(memberID: "")])
    }

    @Test func anUnreachableCoordinatorIsRetriedWithDoublingWaitsUpToTheCap() {
        var m = M(settings: settings, now: 0)
        var now = 0.0
        var waits: [Double] = []
        for _ in 0..<10 {
            #expect(m.tick(now: now) == [.join(memberID: "")])
            #expect(m.requestFailed(now: now).isEmpty)
            waits.append(m.dueAt - now)
            // Nothing is due before the wait is over.
            #expect(m.tick(now: now + waits.last! * 0.99).isEmpty)
            now += waits.last!
        }
        #expect(waits == [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30])
        #expect(m.consecutiveFailures == 10)
        // A completed sync resets the count: the next failure waits the first backoff again.
        #expect(m.tick(now: now) == [.join(memberID: "")])
        _ = m.joined(.init(errorCode: .none, generation: 1, memberID: "me", leader: "other"), now: now)
        _ = m.synced(.none, generation: 1, assignment: [:], now: now)
        #expect(m.consecutiveFailures == 0)
        #expect(m.phase == .stable)
    }

    @Test func aSyncAnsweredWithRebalanceJoinsAgainAtOnce() {
        var m = M(settings: settings, now: 0)
        _ = m.tick(now: 0)
        _ = m.joined(.init(errorCode: .none, generation: 1, memberID: "me", leader: "x"), now: 0)
        #expect(m.synced(.rebalanceInProgress, generation: 0, assignment: [:], now: 1).isEmpty)  // not this sync's generation
        #expect(m.synced(.rebalanceInProgress, generation: 1, assignment: [:], now: 1) == [.join(memberID: "me")])
    }

    @Test func leavingRevokesThenLeaves() {
        var m = stable()
        #expect(m.leave() == [.revoke(["t": [0, 1]]), .leave(memberID: "me")])
        #expect(m.phase == .left)
        #expect(m.tick(now: 100).isEmpty)
        var fresh = M(settings: settings, now: 0)
        #expect(fresh.leave().isEmpty)
    }

    @Test func aRequestedRejoinRevokesFirst() {
        var m = stable()
        #expect(m.requestRejoin(now: 1) == [.revoke(["t": [0, 1]])])
        #expect(m.revoked(now: 1) == [.join(memberID: "me")])
        var empty = stable(assignment: [:])
        #expect(empty.requestRejoin(now: 1) == [.join(memberID: "me")])
    }
}

@Suite struct KafkaRangeAssignorTests {
    @Test func rangesSplitPartitionsInMemberOrderExtrasFirst() {
        let a = KafkaRangeAssignor.assign(subscriptions: ["b": ["t"], "a": ["t"], "c": ["t"]], partitionCounts: ["t": 7])
        #expect(a == ["a": ["t": [0, 1, 2]], "b": ["t": [3, 4]], "c": ["t": [5, 6]]])
    }

    @Test func everyPartitionExactlyOnceForAnyMemberCount() {
        for members in 1...9 {
            for count in 0...12 {
                let subs = Dictionary(uniqueKeysWithValues: (0..<members).map { ("m\($0)", ["t", "u"]) })
                let a = KafkaRangeAssignor.assign(subscriptions: subs, partitionCounts: ["t": count, "u": 3])
                #expect(a.count == members)
                let t = a.values.flatMap { $0["t"] ?? [] }.sorted()
                #expect(t == (0..<count).map { Int32($0) })
                let sizes = a.values.map { $0["t"]?.count ?? 0 }
                #expect(sizes.max()! - sizes.min()! <= 1)
            }
        }
    }

    @Test func onlySubscribersOfATopicShareItAndUnknownTopicsGetNothing() {
        let a = KafkaRangeAssignor.assign(subscriptions: ["a": ["t"], "b": ["t", "u"], "c": ["gone"]], partitionCounts: ["t": 4, "u": 2])
        #expect(a == ["a": ["t": [0, 1]], "b": ["t": [2, 3], "u": [0, 1]], "c": [:]])
    }

    @Test func moreMembersThanPartitionsLeavesSomeIdle() {
        let a = KafkaRangeAssignor.assign(subscriptions: ["a": ["t"], "b": ["t"], "c": ["t"]], partitionCounts: ["t": 2])
        #expect(a == ["a": ["t": [0]], "b": ["t": [1]], "c": [:]])
    }
}

@Suite struct KafkaConsumerProtocolTests {
    @Test func subscriptionAndAssignmentRoundTrip() throws {
        let sub = KafkaConsumerProtocol.encodeSubscription(topics: ["b", "a"])
        #expect(hexString(sub) == "0000 00000002 0001 61 0001 62 ffffffff".filter { $0 != " " })
        #expect(try KafkaConsumerProtocol.decodeSubscription(sub) == ["a", "b"])
        let assignment = KafkaConsumerProtocol.encodeAssignment(["t": [3, 1]])
        #expect(hexString(assignment) == "0000 00000001 0001 74 00000002 00000001 00000003 ffffffff".filter { $0 != " " })
        #expect(try KafkaConsumerProtocol.decodeAssignment(assignment) == ["t": [1, 3]])
        #expect(try KafkaConsumerProtocol.decodeAssignment(ByteBuffer()) == [:])
    }

    @Test func laterVersionsAreReadIgnoringTheirExtraFields() throws {
        // v1 subscription (librdkafka): topics, user data, owned partitions.
        let v1 = hexBuffer("0001 00000001 0001 74 ffffffff 00000001 0001 74 00000001 00000002")
        #expect(try KafkaConsumerProtocol.decodeSubscription(v1) == ["t"])
        let assignmentV1 = hexBuffer("0001 00000001 0001 74 00000001 00000002 00000000")
        #expect(try KafkaConsumerProtocol.decodeAssignment(assignmentV1) == ["t": [2]])
    }

    @Test func hostileBytesThrowNotCrash() {
        #expect(throws: KafkaError.self) { try KafkaConsumerProtocol.decodeSubscription(hexBuffer("00")) }
        #expect(throws: KafkaError.self) { try KafkaConsumerProtocol.decodeAssignment(hexBuffer("0000 7fffffff")) }
        #expect(throws: KafkaError.self) { try KafkaConsumerProtocol.decodeAssignment(hexBuffer("ffff")) }
    }
}
