import Foundation

/// How a node shares a PostgreSQL task queue with other nodes (scale-out).
///
/// The node claims due tasks in batches with a lease, keeps at most `prefetch` claimed tasks
/// waiting locally (the rest stay in the database for other nodes), renews its leases every
/// `renewInterval` and gives its waiting tasks back when it stops. A node that dies or stalls
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
    /// Seconds between renewals.
    public var renewInterval: TimeInterval
    /// A claimed task is not started later than `lease − margin` seconds after its claim or
    /// last renewal was sent, so that a lease another node may already have taken over (the
    /// renewals were held up) never runs a task twice before it started.
    public var margin: TimeInterval

    public init(
        node: String, lease: TimeInterval = 8, prefetch: Int = 32, pollInterval: TimeInterval = 0.25, renewInterval: TimeInterval = 2,
        margin: TimeInterval = 2
    ) {
        self.renewInterval = renewInterval
        self.margin = margin
        self.node = node
        self.lease = lease
        self.prefetch = prefetch
        self.pollInterval = pollInterval
    }
}
