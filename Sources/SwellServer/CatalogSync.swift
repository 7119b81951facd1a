import Foundation
import Logging
import ServiceLifecycle
import SwellInvoker
import SwellModel
import SwellRuntime
import SwellStore

/// Keeps this node's in-memory catalog equal to the store that all nodes share (scale-out):
/// a deploy, alias change or key revocation on any node takes effect here within a second.
///
/// Every catalog write moves the store's catalog revision and notifies (`LISTEN
/// swell_catalog`); a notification, or the revision check every `pollInterval` when
/// notifications are lost (the listening connection dropped), reloads the catalog. The code
/// of new functions and versions is fetched from the shared store and unpacked before the
/// catalog points at it; instances of functions that changed are retired, as on the node
/// that made the change.
final class CatalogSync: Service, Sendable {
    let watcher: any CatalogWatching
    let store: any ControlStore
    let control: ControlPlane
    let logger: Logger
    let pollInterval: Duration
    /// The revision the catalog in memory was loaded at (read before the load, so that a
    /// write in between is loaded again).
    let loadedRevision: Int64

    init(
        watcher: any CatalogWatching, store: any ControlStore, control: ControlPlane, loadedRevision: Int64, logger: Logger,
        pollInterval: Duration = .milliseconds(500)
    ) {
        self.loadedRevision = loadedRevision
        self.watcher = watcher
        self.store = store
        self.control = control
        self.logger = logger
        self.pollInterval = pollInterval
    }

    func run() async throws {
        var revision = loadedRevision
        let (changes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await withDiscardingTaskGroup { group in
            group.addTask { [watcher, logger] in
                // Notifications: the fast path. A dropped connection is retried; the polling covers the gap.
                while !Task.isCancelled {
                    do {
                        try await watcher.watchCatalog { wake.yield() }
                    } catch {
                        if Task.isCancelled { break }
                        logger.warning("catalog notifications interrupted; checking the revision meanwhile", metadata: ["error": "\(error)"])
                    }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            group.addTask { [pollInterval] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: pollInterval)
                    wake.yield()
                }
            }
            wake.yield()
            await withGracefulShutdownHandler {
                for await _ in changes {
                    if Task.isCancelled || Task.isShuttingDownGracefully { break }
                    do {
                        let current = try await watcher.catalogRevision()
                        guard current != revision else { continue }
                        try await reload()
                        revision = current
                    } catch {
                        logger.warning("cannot refresh the catalog from the store", metadata: ["error": "\(error)"])
                    }
                }
            } onGracefulShutdown: {
                wake.finish()
            }
            group.cancelAll()
        }
    }

    /// Loads the catalog, makes its code ready here, swaps it in and retires what changed.
    func reload() async throws {
        let snapshot = try await store.loadCatalog()
        let catalog = control.catalog
        var before: [String: Int] = [:]
        for ns in Set(snapshot.functions.map(\.namespace)).union(snapshot.namespaces) {
            for f in catalog.functions(namespace: ns) { before["\(f.namespace)/\(f.name)"] = f.revision }
        }
        for f in snapshot.functions where before["\(f.namespace)/\(f.name)"] != f.revision {
            await prepare(f.namespace, f.name, f.config.codeSha256, layers: f.config.layers)
        }
        for v in snapshot.versions where !catalog.versions(v.namespace, v.function).contains(where: { $0.version == v.version }) {
            await prepare(v.namespace, v.function, v.config.codeSha256, layers: v.config.layers)
        }
        catalog.reload(snapshot)
        let after = Dictionary(snapshot.functions.map { ("\($0.namespace)/\($0.name)", $0) }, uniquingKeysWith: { a, _ in a })
        for (key, old) in before {
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            if let now = after[key] {
                // Instances of the old revision finish what they run, then stop.
                if now.revision != old { control.runtime.retire(namespace: parts[0], name: parts[1], version: .latest, keepRevision: now.revision) }
            } else {
                control.runtime.retire(namespace: parts[0], name: parts[1])
            }
        }
    }

    private func prepare(_ namespace: String, _ name: String, _ sha256: String, layers: [LayerRef]) async {
        do {
            guard try await control.code.ensureLocal(namespace: namespace, sha256: sha256) else {
                logger.error("a function's code package is missing from the store", metadata: ["function": "\(namespace)/\(name)", "sha256": "\(sha256)"])
                return
            }
            try await control.prepareCode(namespace: namespace, name: name, sha256: sha256, field: "codeSha256")
            // The merged /opt tree of its layers (their packages fetched first when another node stored them).
            try await control.prepareLayers(namespace: namespace, name: name, layers: layers)
        } catch {
            logger.error("cannot unpack a function's code", metadata: ["function": "\(namespace)/\(name)", "sha256": "\(sha256)", "error": "\(error)"])
        }
    }
}
