import Foundation
import Logging
import ServiceLifecycle
import SwellModel
import SwellRuntime
import SwellStore

/// Keeps provisioned instances running: every second it makes sure each function with a
/// `scaling` minimum or schedule has its pools, and tells each pool the minimum its
/// scheduled windows ask for right now (the pool's own `minInstances` applies regardless).
public final class Provisioner: Service, Sendable {
    let catalog: Catalog
    let runtime: RuntimeManager
    let codeDirectory: String
    let logger: Logger
    /// Scale-out: this node's share of every function's minimum (nil: a single node runs it all).
    let share: ClusterShare?

    public init(catalog: Catalog, runtime: RuntimeManager, codeDirectory: String, logger: Logger, share: ClusterShare? = nil) {
        self.share = share
        self.catalog = catalog
        self.runtime = runtime
        self.codeDirectory = codeDirectory
        self.logger = logger
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                await reconcile(at: Date())
                try? await Task.sleep(for: .seconds(1))
            }
        } onGracefulShutdown: {}
    }

    /// One pass: create the pools provisioning needs and apply the scheduled minimums.
    public func reconcile(at now: Date) async {
        for target in catalog.provisionTargets() {
            let pool = runtime.pool(
                for: target.key, revision: target.revision, config: share?.poolConfig(target.config) ?? target.config,
                codeDirectory: CodeStore.functionDirectory(root: codeDirectory, namespace: target.key.namespace, function: target.key.name, sha256: target.config.codeSha256))
            var scheduled = target.config.scaling.scheduledMinimum(at: now)
            // Scale-out: the larger of the two minimums, split across the live nodes.
            if let share { scheduled = share.share(of: max(target.config.scaling.minInstances, scheduled)) }
            pool.setScheduledMinimum(scheduled)
            pool.tick()
        }
    }
}
