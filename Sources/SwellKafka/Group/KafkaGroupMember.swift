import Logging

/// What a ``KafkaGroupMember`` tells its consumer.
public protocol KafkaGroupHandler: Sendable {
    /// Stop reading `partitions`; finish or abandon their in-flight work and commit what is
    /// done (through ``KafkaGroupMember/commit(_:)``, still valid now) before returning:
    /// the member joins again right after, and the next owner starts at the committed offsets.
    func revoke(_ partitions: KafkaPartitionSet) async
    /// Start reading `partitions` (the member's whole assignment in `generation`).
    func assign(_ partitions: KafkaPartitionSet, generation: Int32) async
    /// A failure to join or stay in the group (nil: it recovered).
    func groupFailure(_ message: String?) async
}

/// The I/O shell of ``KafkaGroupMembership``: performs its actions against the group
/// coordinator through a client of its own (a JoinGroup may wait for the whole rebalance
/// timeout, which must not hold up fetches), and reports the answers back with the time.
/// ``run(handler:)`` lives until its task is cancelled, then revokes and leaves the group.
public actor KafkaGroupMember {
    public let group: String
    public let topics: [String]
    let client: KafkaClient
    let logger: Logger
    private var membership: KafkaGroupMembership
    private var pending: [KafkaGroupMembership.Action] = []
    private let start = ContinuousClock.now

    public init(client: KafkaClient, group: String, topics: [String], settings: KafkaGroupMembership.Settings = .init(), logger: Logger) {
        self.client = client
        self.group = group
        self.topics = topics
        self.logger = logger
        self.membership = KafkaGroupMembership(settings: settings, now: 0)
    }

    private func now() -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// The current generation and member id (-1 and "" when not a member).
    public var identity: (generation: Int32, memberID: String, leader: Bool) {
        (membership.generation, membership.memberID, membership.isLeader)
    }

    /// Commits offsets with the current generation and member id.
    /// - Returns: false when not committed because the member is not in a generation the
    ///   coordinator accepts (a rebalance began, or it was evicted); that starts a rejoin.
    public func commit(_ offsets: [String: [Int32: Int64]]) async throws -> Bool {
        guard membership.canCommit else { return false }
        let generation = membership.generation
        let code = try await client.commitOffsets(group: group, generation: generation, memberID: membership.memberID, offsets: offsets)
        pending += membership.commitAnswered(code, generation: generation, now: now())
        return code == .none
    }

    /// Join again (e.g. the topics gained partitions, which only a new assignment hands out).
    public func requestRejoin() {
        pending += membership.requestRejoin(now: now())
    }

    /// Runs the membership until cancelled; then revokes the assignment and leaves the group.
    public func run(handler: some KafkaGroupHandler) async {
        while !Task.isCancelled {
            if pending.isEmpty {
                pending += membership.tick(now: now())
                if pending.isEmpty {
                    let wait = min(0.1, max(0.005, membership.dueAt - now()))
                    try? await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
                }
                continue
            }
            let action = pending.removeFirst()
            pending += await perform(action, handler: handler)
        }
        pending = membership.leave()
        for action in pending { _ = await perform(action, handler: handler) }
        pending = []
    }

    private func perform(_ action: KafkaGroupMembership.Action, handler: some KafkaGroupHandler) async -> [KafkaGroupMembership.Action] {
        let settings = membership.settings
        switch action {
        case .revoke(let partitions):
            logger.info("kafka group: partitions revoked", metadata: ["group": "\(group)", "partitions": "\(Self.describe(partitions))"])
            await handler.revoke(partitions)
            return membership.revoked(now: now())
        case .join(let memberID):
            do {
                let result = try await client.joinGroup(group: group, memberID: memberID, topics: topics,
                                                        sessionTimeout: .milliseconds(Int64(settings.sessionTimeout * 1000)),
                                                        rebalanceTimeout: .milliseconds(Int64(settings.rebalanceTimeout * 1000)))
                if result.errorCode != .none, result.errorCode != .memberIdRequired {
                    logger.debug("kafka group: join answered", metadata: ["group": "\(group)", "error": "\(result.errorCode)"])
                }
                return membership.joined(result, now: now())
            } catch {
                await handler.groupFailure("joining consumer group \(group) failed: \(error)")
                return membership.requestFailed(now: now())
            }
        case .sync(let generation, let memberID, let members):
            do {
                var assignments: [String: KafkaPartitionSet] = [:]
                if let members {
                    assignments = try await assign(members)
                    logger.info("kafka group: assigned as leader", metadata: [
                        "group": "\(group)", "generation": "\(generation)",
                        "assignment": "\(assignments.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.describe($0.value))" })",
                    ])
                }
                let (code, assigned) = try await client.syncGroup(group: group, generation: generation, memberID: memberID, assignments: assignments)
                return membership.synced(code, generation: generation, assignment: assigned.filter { topics.contains($0.key) }, now: now())
            } catch {
                await handler.groupFailure("syncing consumer group \(group) failed: \(error)")
                return membership.requestFailed(now: now())
            }
        case .assign(let partitions, let generation):
            logger.info("kafka group: partitions assigned", metadata: ["group": "\(group)", "generation": "\(generation)", "partitions": "\(Self.describe(partitions))"])
            await handler.groupFailure(nil)
            await handler.assign(partitions, generation: generation)
            return []
        case .heartbeat(let generation, let memberID):
            let code = try? await client.heartbeat(group: group, generation: generation, memberID: memberID)
            if let code, code != .none {
                logger.info("kafka group: heartbeat answered", metadata: ["group": "\(group)", "generation": "\(generation)", "error": "\(code)"])
            }
            return membership.heartbeatAnswered(code, generation: generation, now: now())
        case .leave(let memberID):
            _ = try? await client.leaveGroup(group: group, memberID: memberID)
            return []
        case .fail(let code):
            await handler.groupFailure("the coordinator refused consumer group \(group): \(code)")
            return []
        }
    }

    /// The range assignment of the subscribed topics' partitions over `members`.
    private func assign(_ members: [String: [String]]) async throws -> [String: KafkaPartitionSet] {
        let wanted = Set(members.values.flatMap { $0 }).sorted()
        var counts: [String: Int] = [:]
        for topic in wanted {
            // A topic some member reads and that does not exist (yet) gets no partitions.
            if let metadata = try? await client.metadata(topics: [topic]) {
                counts[topic] = metadata[topic]?.partitions.count
            }
        }
        return KafkaRangeAssignor.assign(subscriptions: members, partitionCounts: counts)
    }

    static func describe(_ partitions: KafkaPartitionSet) -> String {
        partitions.keys.sorted().map { "\($0):\(partitions[$0]!)" }.joined(separator: " ")
    }
}
