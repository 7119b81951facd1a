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
    private let pools = Mutex<[PoolKey: InstancePool]>([:])

    public init(
        configuration: RuntimeConfiguration, sink: any LogSink, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger, warmPool: WarmPool? = nil,
        scheduling: @escaping @Sendable (FunctionConfig) -> PoolConfiguration = { PoolConfiguration(concurrency: $0.concurrency) }
    ) {
        self.warmPool = warmPool
        self.configuration = configuration
        self.sink = sink
        self.group = group
        self.logger = logger
        self.scheduling = scheduling
    }

    /// The pool for a function version at a configuration revision (created on first use).
    public func pool(for key: FunctionKey, revision: Int, config: FunctionConfig, codeDirectory: String) -> InstancePool {
        let pk = PoolKey(function: key, revision: revision)
        return pools.withLock { pools in
            if let pool = pools[pk] { return pool }
            let pool = InstancePool(
                key: key, config: config, codeDirectory: codeDirectory, runtime: configuration,
                scheduling: scheduling(config), sink: sink, group: group, logger: logger, warmPool: warmPool)
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
        for pool in retired { Task { await pool.drain() } }
    }

    /// Every pool, for listings and metrics.
    public func allPools() -> [InstancePool] {
        pools.withLock { Array($0.values) }
    }

    /// Ticks every pool once a second until shutdown, then drains them all.
    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                try? await Task.sleep(for: .seconds(1))
                for pool in allPools() { await pool.tick() }
            }
        } onGracefulShutdown: {
        }
        await withTaskGroup(of: Void.self) { group in
            for pool in allPools() { group.addTask { await pool.drain() } }
        }
    }
}
