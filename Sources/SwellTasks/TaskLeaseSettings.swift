import Foundation

/// How a node shares a PostgreSQL task queue with other nodes (scale-out).
///
/// The node claims due tasks in batches with a lease, keeps at most `prefetch` claimed tasks
/// waiting locally (the rest stay in the database for other nodes), renews its leases every
/// `lease / 3` and gives its waiting tasks back when it stops. A node that dies or stalls
/// longer than `lease` loses its tasks to the others: a task it was running is run again
/// (its attempt recorded as `interrupted`), which is the at-least-once window.
public struct TaskLeaseSettings: Sendable, Hashable {
    /// This node's name in the `lease_owner` column (unique per process start).
    public var node: String
    /// Seconds a claim holds without renewal.
    public var lease: TimeInterval
    /// Claimed tasks waiting to start, at most, per node.
    public var prefetch: Int
    /// Seconds between claims when nothing wakes the claimer earlier.
    public var pollInterval: TimeInterval

    public init(node: String, lease: TimeInterval = 6, prefetch: Int = 32, pollInterval: TimeInterval = 0.25) {
        self.node = node
        self.lease = lease
        self.prefetch = prefetch
        self.pollInterval = pollInterval
    }
}
