/// A consumer group member's decisions as a value (the classic, eager protocol): when to
/// join, sync and heartbeat, when its partitions are revoked and assigned, and what each
/// answer of the coordinator means. It does no I/O and reads no clock: the shell
/// (``KafkaGroupMember``) performs the actions it returns and reports the answers, with
/// the time, back.
///
/// A rebalance (announced by a heartbeat or commit answer `REBALANCE_IN_PROGRESS`, or a
/// generation the coordinator no longer knows) revokes every partition first, then joins
/// again; the shell finishes or abandons the revoked partitions' work and commits what is
/// done before it sends the join, so the next owner starts after it. A member the
/// coordinator evicted (`UNKNOWN_MEMBER_ID`, or no heartbeat acknowledged within the
/// session timeout) also revokes everything and joins as a new member.
///
/// Answers are matched to the generation they were sent in: a late answer of an older
/// generation changes nothing.
public struct KafkaGroupMembership: Sendable, Equatable {
    public struct Settings: Sendable, Equatable {
        /// Seconds the coordinator waits for a heartbeat before it evicts the member.
        public var sessionTimeout: Double
        /// Seconds the coordinator waits for every member to join during a rebalance.
        public var rebalanceTimeout: Double
        /// Seconds between heartbeats.
        public var heartbeatInterval: Double
        /// Seconds to wait before joining again after a failed join or sync; doubled after
        /// each failure in a row (an unreachable broker), up to `maxRetryBackoff`.
        public var retryBackoff: Double
        public var maxRetryBackoff: Double

        public init(
            sessionTimeout: Double = 6, rebalanceTimeout: Double = 10, heartbeatInterval: Double = 1, retryBackoff: Double = 0.5,
            maxRetryBackoff: Double = 30
        ) {
            self.maxRetryBackoff = maxRetryBackoff
            self.sessionTimeout = sessionTimeout
            self.rebalanceTimeout = rebalanceTimeout
            self.heartbeatInterval = heartbeatInterval
            self.retryBackoff = retryBackoff
        }
    }

    public enum Phase: Sendable, Equatable {
        /// Not a member; a join is due at `joinAt`.
        case unjoined
        /// A JoinGroup is in flight.
        case joining
        /// A SyncGroup of `generation` is in flight.
        case syncing
        /// A member of `generation` with its assignment.
        case stable
        /// Left the group (or never to join again).
        case left
    }

    /// What the shell must do, in order.
    public enum Action: Sendable, Equatable {
        /// Stop reading these partitions, finish or abandon their in-flight work, commit
        /// what is done (still with the current generation), then report ``revoked()``.
        case revoke(KafkaPartitionSet)
        /// Send JoinGroup with this member id (empty: a new member).
        case join(memberID: String)
        /// Send SyncGroup; as the leader, with assignments computed from `members`
        /// (member id → subscribed topics).
        case sync(generation: Int32, memberID: String, members: [String: [String]]?)
        /// Start reading these partitions (the member's whole assignment in `generation`).
        case assign(KafkaPartitionSet, generation: Int32)
        /// Send Heartbeat.
        case heartbeat(generation: Int32, memberID: String)
        /// Send LeaveGroup.
        case leave(memberID: String)
        /// The coordinator refused the member for a reason a retry will not fix soon
        /// (e.g. `INCONSISTENT_GROUP_PROTOCOL`); the member retries after the backoff.
        case fail(KafkaErrorCode)
    }

    /// The outcome of a JoinGroup, as the shell reports it.
    public struct JoinResult: Sendable, Equatable {
        public var errorCode: KafkaErrorCode
        public var generation: Int32
        public var memberID: String
        public var leader: String
        /// member id → subscribed topics (for the leader only).
        public var members: [String: [String]]

        public init(errorCode: KafkaErrorCode, generation: Int32 = -1, memberID: String = "", leader: String = "", members: [String: [String]] = [:]) {
            self.errorCode = errorCode
            self.generation = generation
            self.memberID = memberID
            self.leader = leader
            self.members = members
        }
    }

    public let settings: Settings
    public private(set) var phase: Phase = .unjoined
    public private(set) var memberID = ""
    /// The generation of the last successful join (-1 before).
    public private(set) var generation: Int32 = -1
    /// The partitions this member owns now (empty unless `stable` or revoking).
    public private(set) var assignment: KafkaPartitionSet = [:]
    public private(set) var isLeader = false
    /// When the next join (unjoined) or heartbeat (stable) is due.
    public private(set) var dueAt: Double
    /// The last error the coordinator answered with (cleared by a successful sync).
    public private(set) var lastError: KafkaErrorCode?
    /// Joins or syncs in a row that got no answer (reset by a completed sync).
    public private(set) var consecutiveFailures = 0
    private var lastAcknowledged: Double
    private var heartbeatInFlight = false
    /// A revoke was handed out and not yet reported done; the join waits for it.
    private var revoking = false

    public init(settings: Settings = .init(), now: Double) {
        self.settings = settings
        self.dueAt = now
        self.lastAcknowledged = now
    }

    /// Whether the member may commit: stable (the coordinator also accepts commits of the
    /// current generation while a rebalance is being prepared, which is when revoked work is committed).
    public var canCommit: Bool { (phase == .stable || revoking) && generation >= 0 && !memberID.isEmpty }

    // MARK: Time

    /// What is due at `now`: the first join, a join after a backoff, a heartbeat, or (when
    /// no heartbeat was acknowledged within the session timeout) the eviction the
    /// coordinator has surely done already.
    public mutating func tick(now: Double) -> [Action] {
        switch phase {
        case .unjoined where !revoking && now >= dueAt:
            phase = .joining
            return [.join(memberID: memberID)]
        case .stable:
            if now - lastAcknowledged >= settings.sessionTimeout {
                lastError = .unknownMemberId
                return rejoin(newMember: true, now: now, immediately: true)
            }
            guard !heartbeatInFlight, now >= dueAt else { return [] }
            heartbeatInFlight = true
            return [.heartbeat(generation: generation, memberID: memberID)]
        default:
            return []
        }
    }

    // MARK: Answers

    public mutating func joined(_ result: JoinResult, now: Double) -> [Action] {
        guard phase == .joining else { return [] }
        switch result.errorCode {
        case .none:
            memberID = result.memberID
            generation = result.generation
            isLeader = result.leader == result.memberID
            phase = .syncing
            return [.sync(generation: generation, memberID: memberID, members: isLeader ? result.members : nil)]
        case .memberIdRequired:
            // The coordinator named the member; join again with that id at once.
            memberID = result.memberID
            return [.join(memberID: memberID)]
        case .unknownMemberId:
            memberID = ""
            return retryJoin(.unknownMemberId, now: now, immediately: true)
        case .rebalanceInProgress:
            return retryJoin(.rebalanceInProgress, now: now, immediately: true)
        case .coordinatorNotAvailable, .notCoordinator, .coordinatorLoadInProgress:
            return retryJoin(result.errorCode, now: now, immediately: false)
        default:
            lastError = result.errorCode
            phase = .unjoined
            dueAt = now + max(settings.retryBackoff, 1)
            return [.fail(result.errorCode)]
        }
    }

    /// A JoinGroup or SyncGroup that got no answer (connection lost, timed out).
    public mutating func requestFailed(now: Double) -> [Action] {
        switch phase {
        case .joining, .syncing:
            consecutiveFailures += 1
            let actions = retryJoin(nil, now: now, immediately: false)
            dueAt = now + failureBackoff
            return actions
        default:
            return []
        }
    }

    /// The wait after the latest of `consecutiveFailures` failed requests: `retryBackoff`,
    /// doubled per failure in a row, at most `maxRetryBackoff` (a broker that is down is
    /// asked, and reported, a few times a minute, not twice a second).
    public var failureBackoff: Double {
        let doublings = max(0, min(consecutiveFailures - 1, 20))
        return min(settings.maxRetryBackoff, settings.retryBackoff * Double(1 << doublings))
    }

    public mutating func synced(_ errorCode: KafkaErrorCode, generation: Int32, assignment: KafkaPartitionSet, now: Double) -> [Action] {
        guard phase == .syncing, generation == self.generation else { return [] }
        switch errorCode {
        case .none:
            phase = .stable
            self.assignment = assignment
            lastError = nil
            consecutiveFailures = 0
            lastAcknowledged = now
            dueAt = now + settings.heartbeatInterval
            heartbeatInFlight = false
            return [.assign(assignment, generation: generation)]
        case .unknownMemberId:
            memberID = ""
            return retryJoin(errorCode, now: now, immediately: true)
        case .rebalanceInProgress, .illegalGeneration:
            return retryJoin(errorCode, now: now, immediately: true)
        default:
            return retryJoin(errorCode, now: now, immediately: false)
        }
    }

    /// A heartbeat's answer (`nil`: none came); `generation` is the one it was sent with.
    public mutating func heartbeatAnswered(_ errorCode: KafkaErrorCode?, generation: Int32, now: Double) -> [Action] {
        guard phase == .stable, generation == self.generation else { return [] }
        heartbeatInFlight = false
        dueAt = now + settings.heartbeatInterval
        guard let errorCode else { return [] }
        return groupAnswer(errorCode, now: now)
    }

    /// A commit's group-level answer: a rebalance or an eviction it reveals starts a rejoin.
    public mutating func commitAnswered(_ errorCode: KafkaErrorCode, generation: Int32, now: Double) -> [Action] {
        guard phase == .stable, generation == self.generation else { return [] }
        return groupAnswer(errorCode, now: now)
    }

    /// The shell finished a ``Action/revoke(_:)``: the join may go.
    public mutating func revoked(now: Double) -> [Action] {
        guard revoking else { return [] }
        revoking = false
        assignment = [:]
        return tick(now: now)
    }

    /// Join again without being told to (the subscribed topics gained partitions).
    public mutating func requestRejoin(now: Double) -> [Action] {
        guard phase == .stable else { return [] }
        return rejoin(newMember: false, now: now, immediately: true)
    }

    /// Leave the group for good: revoke what is owned, then LeaveGroup when a member.
    public mutating func leave() -> [Action] {
        let wasMember = !memberID.isEmpty && phase != .left
        var actions: [Action] = []
        if !assignment.isEmpty { actions.append(.revoke(assignment)) }
        if wasMember { actions.append(.leave(memberID: memberID)) }
        phase = .left
        assignment = [:]
        revoking = false
        return actions
    }

    // MARK: Helpers

    private mutating func groupAnswer(_ errorCode: KafkaErrorCode, now: Double) -> [Action] {
        switch errorCode {
        case .none:
            lastAcknowledged = now
            return []
        case .rebalanceInProgress, .illegalGeneration:
            lastError = errorCode
            return rejoin(newMember: false, now: now, immediately: true)
        case .unknownMemberId, .fencedInstanceId:
            lastError = errorCode
            return rejoin(newMember: true, now: now, immediately: true)
        case .coordinatorNotAvailable, .notCoordinator:
            // The coordinator moved: the heartbeat goes to the new one next time; the
            // session timeout bounds how long this may last.
            return []
        default:
            lastError = errorCode
            return []
        }
    }

    private mutating func rejoin(newMember: Bool, now: Double, immediately: Bool) -> [Action] {
        if newMember { memberID = "" }
        phase = .unjoined
        heartbeatInFlight = false
        dueAt = immediately ? now : now + settings.retryBackoff
        guard !assignment.isEmpty else { return tick(now: now) }
        revoking = true
        return [.revoke(assignment)]
    }

    private mutating func retryJoin(_ error: KafkaErrorCode?, now: Double, immediately: Bool) -> [Action] {
        if let error { lastError = error }
        phase = .unjoined
        dueAt = immediately ? now : now + settings.retryBackoff
        return immediately ? tick(now: now) : []
    }
}
