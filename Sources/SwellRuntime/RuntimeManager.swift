import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SwellModel
import SwellScheduler
import Synchronization

/// Owns every instance pool of the node, keyed by function version and configuration
/// revision, and drives their clocks (keep-alive, queue timeouts).
public final class RuntimeManager: Service, Sendable {
    struct PoolKey: Hashable {
        var function: FunctionKey
        /// Distinguishes successive configurations of `$LATEST`.
        var revision: Int
    }

    public let configuration: RuntimeConfiguration
    let sink: any LogSink
    let group: any EventLoopGroup
    let logger: Logger
    let scheduling: @Sendable (FunctionConfig) -> PoolConfiguration
    /// Pre-booted runtime processes for cold starts (nil: every cold start spawns).
    public let warmPool: WarmPool?
    /// How instances are confined (cgroups or rlimits, uid).
    public let sandbox: Sandbox
    /// The node's memory budget and namespace quotas, shared by all pools.
    public let capacity: CapacityGate
    public let metrics = RuntimeMetrics()
    /// The group's loops as task executors, for work that invokes functions (trigger batches,
    /// task attempts): it runs on a Runtime API loop instead of hopping through the cooperative pool.
    public let taskExecutors: EventLoopTaskExecutors
    /// Runtimes booting from scratch at once, node-wide: twice the cores, at least 2.
    public let bootGate = BootGate(permits: max(2, ProcessInfo.processInfo.activeProcessorCount * 2))
    private let pools = Mutex<[PoolKey: InstancePool]>([:])
    private let byNumber = Mutex<(next: Int, pools: [Int: InstancePool])>((1, [:]))

    /// The scheduling policy of a function configuration: its concurrency and `scaling` block.
    public static func defaultScheduling(_ config: FunctionConfig) -> PoolConfiguration {
        PoolConfiguration(
            concurrency: config.concurrency, minInstances: config.scaling.minInstances, maxInstances: config.scaling.maxInstances,
            keepAlive: .seconds(config.scaling.keepAlive))
    }

    public init(
        configuration: RuntimeConfiguration, sink: any LogSink, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger, warmPool: WarmPool? = nil, sandbox: Sandbox = .rlimitsOnly,
        capacity: CapacityGate = CapacityGate(memoryBudgetMB: .max, namespaceMaxInstances: .max),
        scheduling: @escaping @Sendable (FunctionConfig) -> PoolConfiguration = RuntimeManager.defaultScheduling
    ) {
        self.sandbox = sandbox
        self.capacity = capacity
        self.warmPool = warmPool
        self.configuration = configuration
        self.sink = sink
        self.group = group
        self.taskExecutors = EventLoopTaskExecutors(group: group)
        self.logger = logger
        self.scheduling = scheduling
        capacity.setEvictor { [weak self] holder in
            guard let pool = self?.byNumber.withLock({ $0.pools[holder.pool] }) else { return }
            // Never under the reserving pool's lock: the evicted pool may be that same pool.
            Task { pool.evict(holder.instance) }
        }
    }

    /// The pool for a function version at a configuration revision (created on first use).
    public func pool(for key: FunctionKey, revision: Int, config: FunctionConfig, codeDirectory: String) -> InstancePool {
        let pk = PoolKey(function: key, revision: revision)
        return pools.withLock { pools in
            if let pool = pools[pk] { return pool }
            let number = byNumber.withLock { state in
                defer { state.next += 1 }
                return state.next
            }
            let pool = InstancePool(
                key: key, config: config, codeDirectory: codeDirectory, runtime: configuration,
                scheduling: scheduling(config), sink: sink, group: group, logger: logger, warmPool: warmPool,
                sandbox: sandbox, capacity: capacity, metrics: metrics, number: number, bootGate: bootGate)
            byNumber.withLock { $0.pools[number] = pool }
            pools[pk] = pool
            return pool
        }
    }

    /// Drains the pools of a function (every version when `version` is nil) whose revision is not `keep`.
    public func retire(namespace: String, name: String, version: VersionRef? = nil, keepRevision keep: Int? = nil) {
        let retired: [InstancePool] = pools.withLock { pools in
            let keys = pools.keys.filter {
                $0.function.namespace == namespace && $0.function.name == name
                    && (version == nil || $0.function.version == version) && $0.revision != keep
            }
            return keys.compactMap { pools.removeValue(forKey: $0) }
        }
        byNumber.withLock { state in
            for pool in retired { state.pools.removeValue(forKey: pool.number) }
        }
        for pool in retired { Task { await pool.drain() } }
    }

    /// Every pool, for listings and metrics.
    public func allPools() -> [InstancePool] {
        pools.withLock { Array($0.values) }
    }

    /// Whether latency-sensitive requests wait for a slot in any pool of the function (no
    /// allocation, no await: the async dispatcher asks this before every start).
    public func hasLatencyWaiting(namespace: String, name: String) -> Bool {
        pools.withLock { pools in
            pools.contains { $0.key.function.namespace == namespace && $0.key.function.name == name && $0.value.queuedLatencyRequests > 0 }
        }
    }

    /// The live pools of one function (every version and revision).
    public func pools(namespace: String, name: String) -> [InstancePool] {
        pools.withLock { pools in
            pools.filter { $0.key.function.namespace == namespace && $0.key.function.name == name }
                .sorted { ($0.key.function.version.description, $0.key.revision) < ($1.key.function.version.description, $1.key.revision) }
                .map(\.value)
        }
    }

    /// Waits for shutdown, then drains every pool. (Pools keep their own time: each asks for
    /// a timer when a queue timeout, keep-alive or retry falls due; nothing polls them.)
    public func run() async throws {
        try? await gracefulShutdown()
        await withTaskGroup(of: Void.self) { group in
            for pool in allPools() { group.addTask { await pool.drain() } }
        }
        sandbox.removeAll()
    }
}
