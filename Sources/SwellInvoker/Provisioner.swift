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

    public init(catalog: Catalog, runtime: RuntimeManager, codeDirectory: String, logger: Logger) {
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
                for: target.key, revision: target.revision, config: target.config,
                codeDirectory: CodeStore.functionDirectory(root: codeDirectory, namespace: target.key.namespace, function: target.key.name, sha256: target.config.codeSha256))
            let scheduled = target.config.scaling.scheduledMinimum(at: now)
            pool.setScheduledMinimum(scheduled)
            pool.tick()
        }
    }
}
