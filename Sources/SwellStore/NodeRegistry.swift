import Foundation

/// One `swell serve` process as the other nodes see it: where it listens, since when, what
/// it runs, and when it last said so.
public struct NodeStatus: Sendable, Codable, Hashable {
    /// Unique per process start (a restarted node is a new node).
    public var id: String
    /// The address its HTTP API listens on (`host:port`).
    public var address: String
    public var startedAt: Date
    /// Swell's version.
    public var version: String
    /// Instances running, and the memory they reserve of the node's budget.
    public var instances: Int
    public var memoryReservedMB: Int
    public var memoryBudgetMB: Int
    /// Async tasks running on the node, and claimed by it waiting to start.
    public var tasksRunning: Int
    public var tasksWaiting: Int
    /// Seconds since its last heartbeat, by the store's clock (filled in by `nodes()`).
    public var secondsSinceHeartbeat: Double

    public init(
        id: String, address: String, startedAt: Date, version: String, instances: Int = 0, memoryReservedMB: Int = 0, memoryBudgetMB: Int = 0,
        tasksRunning: Int = 0, tasksWaiting: Int = 0, secondsSinceHeartbeat: Double = 0
    ) {
        self.id = id
        self.address = address
        self.startedAt = startedAt
        self.version = version
        self.instances = instances
        self.memoryReservedMB = memoryReservedMB
        self.memoryBudgetMB = memoryBudgetMB
        self.tasksRunning = tasksRunning
        self.tasksWaiting = tasksWaiting
        self.secondsSinceHeartbeat = secondsSinceHeartbeat
    }

    /// A node missing for this long is dead.
    public static let deadAfter: Double = 5

    public var alive: Bool { secondsSinceHeartbeat <= Self.deadAfter }
}

/// The nodes sharing a store (scale-out), each heartbeating its status.
public protocol NodeRegistry: Sendable {
    /// Records `node`'s status, stamped with the store's clock (so nodes' clocks never matter).
    func heartbeat(_ node: NodeStatus) async throws
    /// Every node heard of in the last hour, with the seconds since its heartbeat, oldest start first.
    func nodes() async throws -> [NodeStatus]
    /// A node stopping says goodbye.
    func removeNode(id: String) async throws
}
