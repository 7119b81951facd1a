import Foundation
import SwellModel
import SwellStore
import Testing

/// The store contract, run against the SQLite implementation (in memory and on disk).
@Suite struct SQLiteStoreTests {
    static func makeStores() throws -> [SQLiteStore] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swell-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return [try SQLiteStore.inMemory(), try SQLiteStore(path: dir.appendingPathComponent("swell.db").path)]
    }

    let config = FunctionConfig(runtime: .nodejs20, handler: "index.handler", codeSha256: String(repeating: "a", count: 64))

    @Test func functionUIDsAreAllocatedOnceDistinctAndKept() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swell-uids-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("swell.db").path
        let store = try SQLiteStore(path: path)
        var seen: [String: UInt32] = [:]
        // Names a hash of the name would have sent to one slot are just names here.
        for ns in ["a", "b"] {
            for i in 0..<200 { seen["\(ns)/f\(i)"] = try store.allocateUID(namespace: ns, name: "f\(i)", range: .standard) }
        }
        #expect(Set(seen.values).count == seen.count)
        #expect(seen.values.allSatisfy { UIDRange.standard.contains($0) })
        // Idempotent, and durable across a reopen.
        #expect(try store.allocateUID(namespace: "a", name: "f7", range: .standard) == seen["a/f7"])
        let reopened = try SQLiteStore(path: path)
        #expect(try reopened.functionUIDs() == seen)
        // A deleted function's uid is never handed to another one.
        _ = try reopened.deleteFunction(namespace: "a", name: "f199")
        let fresh = try reopened.allocateUID(namespace: "c", name: "new", range: .standard)
        #expect(!seen.values.contains(fresh))
        // A full range says so.
        #expect(throws: IdentityError.exhausted(UIDRange(first: 10, count: 1))) {
            _ = try reopened.allocateUID(namespace: "c", name: "x", range: UIDRange(first: 10, count: 1))
            _ = try reopened.allocateUID(namespace: "c", name: "y", range: UIDRange(first: 10, count: 1))
        }
    }

    @Test func functionsRevisionsOnlyMoveOnChange() throws {
        for store in try Self.makeStores() {
            let a = try store.putFunction(namespace: "default", name: "f", config: config)
            let same = try store.putFunction(namespace: "default", name: "f", config: config)
            #expect(same.revision == a.revision)
            var changed = config
            changed.memory = 256
            let b = try store.putFunction(namespace: "default", name: "f", config: changed)
            #expect(b.revision == a.revision + 1)
            let catalog = try store.loadCatalog()
            #expect(catalog.functions.count == 1 && catalog.functions[0].config.memory == 256)
            #expect(catalog.namespaces.contains("default"))
        }
    }

    @Test func publishingFreezesAndIsIdempotent() throws {
        for store in try Self.makeStores() {
            _ = try store.putFunction(namespace: "n", name: "f", config: config)
            let (v1, created1) = try store.publishVersion(namespace: "n", name: "f", description: "first")
            #expect(v1.version == 1 && created1)
            let (again, created2) = try store.publishVersion(namespace: "n", name: "f", description: "")
            #expect(again.version == 1 && !created2)
            var changed = config
            changed.environment = ["A": "1"]
            _ = try store.putFunction(namespace: "n", name: "f", config: changed)
            let (v2, _) = try store.publishVersion(namespace: "n", name: "f", description: "")
            #expect(v2.version == 2)
            let versions = try store.loadCatalog().versions.sorted { $0.version < $1.version }
            #expect(versions.map(\.config.environment) == [[:], ["A": "1"]])
            #expect(throws: SwellError.self) { try store.publishVersion(namespace: "n", name: "missing", description: "") }
        }
    }

    @Test func deleteRemovesVersionsAndAliases() throws {
        for store in try Self.makeStores() {
            _ = try store.putFunction(namespace: "n", name: "f", config: config)
            _ = try store.publishVersion(namespace: "n", name: "f", description: "")
            try store.putAlias(AliasRecord(namespace: "n", function: "f", name: "live", config: AliasConfig(version: 1)))
            #expect(try store.deleteFunction(namespace: "n", name: "f"))
            #expect(!(try store.deleteFunction(namespace: "n", name: "f")))
            let c = try store.loadCatalog()
            #expect(c.functions.isEmpty && c.versions.isEmpty && c.aliases.isEmpty)
        }
    }

    @Test func keysAreStoredByHashAndRevocable() throws {
        for store in try Self.makeStores() {
            try store.createKey(KeyRecord(id: "k1", namespace: "team", role: .developer, name: "ci", hash: "h1", createdAt: Date()))
            #expect(try store.revokeKey(namespace: "team", id: "k1"))
            #expect(!(try store.revokeKey(namespace: "team", id: "k1")))
            #expect(!(try store.revokeKey(namespace: "other", id: "k1")))
            let keys = try store.loadCatalog().keys
            #expect(keys.count == 1 && keys[0].revoked && keys[0].hash == "h1")
        }
    }

    @Test func invocationRecordsRoundTrip() throws {
        for store in try Self.makeStores() {
            let r = InvocationRecord(requestID: "r1", namespace: "n", function: "f", version: "1", status: "error", errorType: "Timeout",
                                     coldStart: true, initMs: 12.5, durationMs: 1000, billedMs: 1000, memoryMB: 128, startedAt: Date())
            try store.appendInvocations([r])
            let got = try store.invocations(namespace: "n", function: "f", limit: 10)
            #expect(got.count == 1 && got[0].errorType == "Timeout" && got[0].coldStart && got[0].initMs == 12.5)
        }
    }
}
