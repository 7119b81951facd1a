import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import SwellInvoker
import SwellModel
import SwellRuntime
import SwellStore
import SwellTasks

/// This node's entry among the nodes sharing the store: its status every `interval`
/// (address, start time, version, instances, memory, tasks), removed when it stops. A node
/// whose heartbeat is older than `NodeStatus.deadAfter` (5 s) is dead. Without a shared
/// store (SQLite) the node is the only one, and nothing is written.
final class NodeHeartbeat: Service, Sendable {
    let id: String
    let address: String
    let startedAt = Date()
    let registry: (any NodeRegistry)?
    let capacity: CapacityGate
    let tasks: TaskService
    let share: ClusterShare?
    let logger: Logger
    let interval: Duration

    static let version = "0.1.0-dev"

    init(id: String, address: String, registry: (any NodeRegistry)?, capacity: CapacityGate, tasks: TaskService, share: ClusterShare?,
         logger: Logger, interval: Duration = .seconds(1)) {
        self.share = share
        self.id = id
        self.address = address
        self.registry = registry
        self.capacity = capacity
        self.tasks = tasks
        self.logger = logger
        self.interval = interval
    }

    /// This node's status now.
    func status() async -> NodeStatus {
        let usage = capacity.usage
        let depth = await tasks.depth
        return NodeStatus(
            id: id, address: address, startedAt: startedAt, version: Self.version, instances: usage.instances,
            memoryReservedMB: usage.reservedMB, memoryBudgetMB: usage.budgetMB, tasksRunning: depth.running,
            tasksWaiting: depth.queued + depth.delayed)
    }

    /// Every node the store knows (this one alone without a shared store).
    func nodes() async throws -> [NodeStatus] {
        guard let registry else { return [await status()] }
        return try await registry.nodes()
    }

    func run() async throws {
        // Alone (SQLite): nothing to record; a service must not end before the group does.
        guard let registry else {
            try? await gracefulShutdown()
            return
        }
        var failures = 0
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    try await registry.heartbeat(await status())
                    // Rate limits, async caps and minimum instances are split among the live nodes.
                    let alive = try await registry.nodes().filter(\.alive).map(\.id).sorted()
                    await tasks.setNodeCount(alive.count)
                    share?.update(rank: alive.firstIndex(of: id) ?? 0, count: alive.count)
                    failures = 0
                } catch {
                    failures += 1
                    if failures == 1 || failures % 60 == 0 {
                        logger.warning("cannot record this node's heartbeat", metadata: ["error": "\(error)", "failures": "\(failures)"])
                    }
                }
                try? await Task.sleep(for: interval)
            }
        } onGracefulShutdown: {}
        do {
            try await registry.removeNode(id: id)
        } catch {
            logger.warning("cannot remove this node from the registry; it shows as dead in 5 s", metadata: ["error": "\(error)"])
        }
    }
}

/// `GET /v1/nodes`: the nodes sharing this server's store (platform admins only).
struct NodeRoutes {
    let heartbeat: NodeHeartbeat

    func register(on group: RouterGroup<SwellRequestContext>) {
        group.get("nodes") { _, ctx in
            _ = try ctx.authorize("default", .admin)
            let nodes = try await heartbeat.nodes()
            return try JSONBody.response(API.Nodes(answeredBy: heartbeat.id, nodes: nodes.map(API.NodeInfo.init)))
        }
    }
}

extension API {
    struct Nodes: Encodable {
        /// The node that answered (`self` in JSON).
        var answeredBy: String
        var nodes: [NodeInfo]

        enum CodingKeys: String, CodingKey {
            case answeredBy = "self"
            case nodes
        }
    }

    struct NodeInfo: Encodable {
        var id: String
        var address: String
        var startedAt: String
        var version: String
        var alive: Bool
        var secondsSinceHeartbeat: Double
        var instances: Int
        var memoryReservedMB: Int
        var memoryBudgetMB: Int
        var tasksRunning: Int
        var tasksWaiting: Int

        init(_ n: NodeStatus) {
            id = n.id
            address = n.address
            startedAt = ISO8601DateFormatter().string(from: n.startedAt)
            version = n.version
            alive = n.alive
            secondsSinceHeartbeat = (n.secondsSinceHeartbeat * 1000).rounded() / 1000
            instances = n.instances
            memoryReservedMB = n.memoryReservedMB
            memoryBudgetMB = n.memoryBudgetMB
            tasksRunning = n.tasksRunning
            tasksWaiting = n.tasksWaiting
        }
    }
}
