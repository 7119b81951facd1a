import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import SwellInvoker
import SwellModel
import SwellRuntime
import SwellStore

/// Wiring of metering for `swell serve`.
enum Metering {
    /// The meter over `usage.db` in the data directory, with the price table in force: the
    /// `--prices` file's when given (stored, so that it outlives the server), else the stored
    /// one, else the defaults.
    /// - Parameter shared: the store every node shares (scale-out); nil: `usage.db`.
    static func meter(data: String, store shared: (any UsageStore)? = nil, prices given: PriceTable?, logger: Logger) async throws -> UsageMeter {
        let store: any UsageStore
        if let shared {
            store = shared
        } else {
            try DataDirectory.privateDatabases(["usage.db", "audit.db"], in: data)
            store = try SQLiteUsageStore(path: "\(data)/usage.db")
        }
        var prices = try await store.prices() ?? .defaults
        if let given {
            try await store.setPrices(given)
            prices = given
        }
        return UsageMeter(store: store, prices: prices, logger: logger)
    }

    /// The instances alive now per function version (every pool's live count and memory).
    static func instanceSamples(_ runtime: RuntimeManager) -> [InstanceSample] {
        runtime.allPools().map { pool in
            InstanceSample(
                namespace: pool.key.namespace, function: pool.key.name, version: pool.key.version.description,
                instances: pool.load().instances, memoryMB: pool.config.memory)
        }
    }
}

extension DataDirectory {
    /// Makes databases of the data directory 0600 (created empty when absent), with their
    /// `-wal` and `-shm` files, as `prepare` does for the control plane's.
    static func privateDatabases(_ names: [String], in path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw DirectoryError(description: "cannot open the data directory \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        for name in names {
            try privateFile(name, in: fd, directory: path, create: true)
            for suffix in ["-wal", "-shm"] { try privateFile(name + suffix, in: fd, directory: path, create: false) }
        }
    }
}
