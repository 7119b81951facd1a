import Foundation
import SwellModel
import SwellStore
import Testing

/// The `ControlStore` and `RecordStore` contract, run against SQLite and PostgreSQL.
@Suite struct ControlStoreContractTests {
    static let config = FunctionConfig(runtime: .nodejs20, handler: "index.handler", codeSha256: String(repeating: "a", count: 64))

    @Test(arguments: StoreEngine.allCases)
    func functionUIDsAreAllocatedOnceDistinctAndNeverReused(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.control
            var seen: [String: UInt32] = [:]
            for ns in ["a", "b"] {
                for i in 0..<60 { seen["\(ns)/f\(i)"] = try await store.allocateUID(namespace: ns, name: "f\(i)", range: .standard) }
            }
            #expect(Set(seen.values).count == seen.count)
            #expect(seen.values.allSatisfy { UIDRange.standard.contains($0) })
            #expect(try await store.allocateUID(namespace: "a", name: "f7", range: .standard) == seen["a/f7"])
            #expect(try await store.functionUIDs() == seen)
            // A deleted function's uid is never handed to another one.
            _ = try await store.deleteFunction(namespace: "a", name: "f59")
            let fresh = try await store.allocateUID(namespace: "c", name: "new", range: .standard)
            #expect(!seen.values.contains(fresh))
            await #expect(throws: IdentityError.exhausted(UIDRange(first: 10, count: 1))) {
                _ = try await store.allocateUID(namespace: "c", name: "x", range: UIDRange(first: 10, count: 1))
                _ = try await store.allocateUID(namespace: "c", name: "y", range: UIDRange(first: 10, count: 1))
            }
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func concurrentUIDAllocationsNeverCollide(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let uids = try await withThrowingTaskGroup(of: UInt32.self) { group in
                for i in 0..<40 { group.addTask { try await s.control.allocateUID(namespace: "n", name: "f\(i)", range: .standard) } }
                return try await group.reduce(into: [UInt32]()) { $0.append($1) }
            }
            #expect(Set(uids).count == 40)
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func revisionsOnlyMoveOnChange(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.control
            let a = try await store.putFunction(namespace: "default", name: "f", config: Self.config)
            let same = try await store.putFunction(namespace: "default", name: "f", config: Self.config)
            #expect(same.revision == a.revision)
            var changed = Self.config
            changed.memory = 256
            let b = try await store.putFunction(namespace: "default", name: "f", config: changed)
            #expect(b.revision > a.revision)
            let catalog = try await store.loadCatalog()
            #expect(catalog.functions.count == 1 && catalog.functions[0].config.memory == 256 && catalog.functions[0].revision == b.revision)
            #expect(catalog.namespaces.contains("default"))
            // Deleted and created again: a revision never seen for the name.
            _ = try await store.deleteFunction(namespace: "default", name: "f")
            let c = try await store.putFunction(namespace: "default", name: "f", config: Self.config)
            #expect(c.revision > b.revision)
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func publishingFreezesAndIsIdempotent(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.control
            _ = try await store.putFunction(namespace: "n", name: "f", config: Self.config)
            let (v1, created1) = try await store.publishVersion(namespace: "n", name: "f", description: "first")
            #expect(v1.version == 1 && created1 && v1.description == "first")
            let (again, created2) = try await store.publishVersion(namespace: "n", name: "f", description: "")
            #expect(again.version == 1 && !created2)
            var changed = Self.config
            changed.environment = ["A": "1"]
            _ = try await store.putFunction(namespace: "n", name: "f", config: changed)
            let (v2, _) = try await store.publishVersion(namespace: "n", name: "f", description: "")
            #expect(v2.version == 2)
            let versions = try await store.loadCatalog().versions.sorted { $0.version < $1.version }
            #expect(versions.map(\.config.environment) == [[:], ["A": "1"]])
            await #expect(throws: SwellError.self) { try await store.publishVersion(namespace: "n", name: "missing", description: "") }
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func aliasesAreReplacedAndDeleted(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.control
            _ = try await store.putFunction(namespace: "n", name: "f", config: Self.config)
            try await store.putAlias(AliasRecord(namespace: "n", function: "f", name: "live", config: AliasConfig(version: 1)))
            try await store.putAlias(AliasRecord(namespace: "n", function: "f", name: "live", config: AliasConfig(version: 2)))
            #expect(try await store.loadCatalog().aliases.map(\.config.version) == [2])
            #expect(try await store.deleteAlias(namespace: "n", function: "f", name: "live"))
            #expect(!(try await store.deleteAlias(namespace: "n", function: "f", name: "live")))
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func deleteRemovesVersionsAndAliases(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.control
            _ = try await store.putFunction(namespace: "n", name: "f", config: Self.config)
            _ = try await store.publishVersion(namespace: "n", name: "f", description: "")
            try await store.putAlias(AliasRecord(namespace: "n", function: "f", name: "live", config: AliasConfig(version: 1)))
            #expect(try await store.deleteFunction(namespace: "n", name: "f"))
            #expect(!(try await store.deleteFunction(namespace: "n", name: "f")))
            let c = try await store.loadCatalog()
            #expect(c.functions.isEmpty && c.versions.isEmpty && c.aliases.isEmpty)
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func keysAreStoredByHashAndRevocable(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.control
            try await store.createKey(KeyRecord(id: "k1", namespace: "team", role: .developer, name: "ci", hash: "h1", createdAt: Date()))
            #expect(try await store.revokeKey(namespace: "team", id: "k1"))
            #expect(!(try await store.revokeKey(namespace: "team", id: "k1")))
            #expect(!(try await store.revokeKey(namespace: "other", id: "k1")))
            let c = try await store.loadCatalog()
            #expect(c.keys.count == 1 && c.keys[0].revoked && c.keys[0].hash == "h1" && c.keys[0].role == .developer)
            #expect(c.namespaces.contains("team"))
            // A hash is unique: a second key with it is refused.
            await #expect(throws: (any Error).self) {
                try await store.createKey(KeyRecord(id: "k2", namespace: "team", role: .admin, name: "dup", hash: "h1", createdAt: Date()))
            }
            try await store.ensureNamespace("team")
            try await store.ensureNamespace("empty")
            #expect(try await store.loadCatalog().namespaces == ["empty", "team"])
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func invocationRecordsRoundTripNewestFirstAndPrune(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.control
            let now = Date()
            let old = InvocationRecord(requestID: "r0", namespace: "n", function: "f", version: "$LATEST", status: "ok", errorType: nil,
                                       coldStart: false, initMs: 0, durationMs: 3, billedMs: 3, memoryMB: 128, startedAt: now.addingTimeInterval(-7200))
            let r = InvocationRecord(requestID: "r1", namespace: "n", function: "f", version: "1", status: "error", errorType: "Timeout",
                                     coldStart: true, initMs: 12.5, durationMs: 1000, billedMs: 1000, memoryMB: 128, startedAt: now)
            try await store.appendInvocations([old, r])
            let got = try await store.invocations(namespace: "n", function: "f", limit: 10)
            #expect(got.map(\.requestID) == ["r1", "r0"])
            #expect(got[0].errorType == "Timeout" && got[0].coldStart && got[0].initMs == 12.5 && got[0].billedMs == 1000)
            #expect(got[1].errorType == nil && !got[1].coldStart)
            #expect(try await store.invocations(namespace: "n", function: "other", limit: 10).isEmpty)
            try await store.pruneInvocations(maxAge: 3600)
            #expect(try await store.invocations(namespace: "n", function: "f", limit: 10).map(\.requestID) == ["r1"])
        }
    }

    /// SQLite only: the uid table outlives a reopen of the file.
    @Test func sqliteUIDsSurviveAReopen() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swell-uids-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("swell.db").path
        let uid = try await SQLiteStore(path: path).allocateUID(namespace: "a", name: "f", range: .standard)
        #expect(try await SQLiteStore(path: path).functionUIDs() == ["a/f": uid])
    }
}
