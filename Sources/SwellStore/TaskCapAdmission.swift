/// Which claimed candidates of functions with an explicit `async.concurrency` cap a node may
/// take, so that the cap holds across every node sharing the queue (also a cap smaller than
/// the number of nodes).
///
/// A task holds one of its function's slots from its claim until its lease ends (its final
/// state is committed, it is given back, or the lease lapses): claimed and waiting, running,
/// or waiting on that node for a retry. A claim takes a capped candidate only while
///
/// - the function's tasks leased across the cluster, plus those taken in this claim, stay
///   below the cap, and
/// - this node's share, `⌈cap / nodes⌉`, is not used up (each node runs at most that many of
///   the function's tasks at once, so a node holding more would only keep them waiting).
///
/// The counts are read under a per-function advisory lock that the claim holds until it
/// commits (`locked`): two claims never count the same free slot. A function whose lock
/// another claim holds right now is skipped (claims never wait for each other).
///
/// ```swift
/// let keep = TaskCapAdmission.admit(candidates, held: held, locked: locked, nodes: 3)
/// ```
public enum TaskCapAdmission {
    /// A function, as caps count it (all its qualifiers together).
    public struct Function: Hashable, Sendable {
        public var namespace: String
        public var function: String

        public init(namespace: String, function: String) {
            self.namespace = namespace
            self.function = function
        }
    }

    /// A task the claim picked (in the claim's order), with the cap of the version it targets.
    public struct Candidate: Hashable, Sendable {
        public var id: String
        public var function: Function
        /// nil: the function has no explicit cap (always admitted).
        public var cap: Int?

        public init(id: String, function: Function, cap: Int?) {
            self.id = id
            self.function = function
            self.cap = cap
        }
    }

    /// A function's tasks leased now (live leases), across the cluster and by this node.
    public struct Held: Hashable, Sendable {
        public var total: Int
        public var mine: Int

        public init(total: Int, mine: Int) {
            self.total = total
            self.mine = mine
        }
    }

    /// This node's share of a cap among `nodes` live nodes (at least one slot).
    public static func share(cap: Int, nodes: Int) -> Int {
        let nodes = max(1, nodes)
        return max(1, (cap + nodes - 1) / nodes)
    }

    /// The candidates this claim takes, in their order.
    /// - Parameters:
    ///   - held: leased tasks per capped function, counted under `locked`; a missing entry is none.
    ///   - locked: the capped functions whose advisory lock this claim holds.
    ///   - nodes: live nodes sharing the queue (the registry's count, at least 1).
    public static func admit(_ candidates: [Candidate], held: [Function: Held], locked: Set<Function>, nodes: Int) -> [String] {
        var taken: [Function: Int] = [:]
        var kept: [String] = []
        kept.reserveCapacity(candidates.count)
        for c in candidates {
            guard let cap = c.cap else {
                kept.append(c.id)
                continue
            }
            guard locked.contains(c.function) else { continue }
            let h = held[c.function] ?? Held(total: 0, mine: 0)
            let now = taken[c.function, default: 0]
            guard h.total + now < cap, h.mine + now < share(cap: cap, nodes: nodes) else { continue }
            taken[c.function] = now + 1
            kept.append(c.id)
        }
        return kept
    }
}
