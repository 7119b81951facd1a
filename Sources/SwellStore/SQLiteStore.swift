import Foundation
import GRDB
import SwellModel

/// The embedded store: one SQLite database in WAL mode, with versioned migrations.
///
/// ```swift
/// let store = try SQLiteStore(path: "/var/lib/swell/swell.db")
/// let catalog = try store.loadCatalog()
/// ```
public final class SQLiteStore: ControlStore, RecordStore, Sendable {
    let db: any DatabaseWriter
    private let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()
    private let decoder = JSONDecoder()

    /// Opens (creating and migrating) the database at `path`.
    public convenience init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        try self.init(writer: DatabasePool(path: path, configuration: config))
    }

    /// An in-memory database, for tests.
    public static func inMemory() throws -> SQLiteStore {
        try SQLiteStore(writer: DatabaseQueue())
    }

    init(writer: any DatabaseWriter) throws {
        self.db = writer
        try Self.migrator.migrate(writer)
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-control-plane") { db in
            try db.execute(sql: """
                CREATE TABLE namespaces (name TEXT PRIMARY KEY, created_at DOUBLE NOT NULL);
                CREATE TABLE functions (
                    namespace TEXT NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL, revision INTEGER NOT NULL,
                    created_at DOUBLE NOT NULL, updated_at DOUBLE NOT NULL, PRIMARY KEY (namespace, name));
                CREATE TABLE versions (
                    namespace TEXT NOT NULL, function TEXT NOT NULL, version INTEGER NOT NULL, config TEXT NOT NULL,
                    description TEXT NOT NULL, published_at DOUBLE NOT NULL, PRIMARY KEY (namespace, function, version));
                CREATE TABLE aliases (
                    namespace TEXT NOT NULL, function TEXT NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL,
                    PRIMARY KEY (namespace, function, name));
                CREATE TABLE keys (
                    id TEXT PRIMARY KEY, namespace TEXT NOT NULL, role TEXT NOT NULL, name TEXT NOT NULL,
                    hash TEXT NOT NULL UNIQUE, created_at DOUBLE NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
                """)
        }
        m.registerMigration("v1-records") { db in
            try db.execute(sql: """
                CREATE TABLE invocations (
                    request_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, function TEXT NOT NULL, version TEXT NOT NULL,
                    status TEXT NOT NULL, error_type TEXT, cold_start INTEGER NOT NULL, init_ms DOUBLE NOT NULL,
                    duration_ms DOUBLE NOT NULL, billed_ms INTEGER NOT NULL, memory_mb INTEGER NOT NULL, started_at DOUBLE NOT NULL);
                CREATE INDEX invocations_by_function ON invocations (namespace, function, started_at);
                CREATE TABLE logs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, time DOUBLE NOT NULL, namespace TEXT NOT NULL, function TEXT NOT NULL,
                    version TEXT NOT NULL, instance TEXT NOT NULL, request_id TEXT, stream TEXT NOT NULL, message TEXT NOT NULL);
                CREATE INDEX logs_by_function ON logs (namespace, function, id);
                CREATE INDEX logs_by_request ON logs (request_id);
                """)
        }
        m.registerMigration("v2-function-uids") { db in
            // One uid per function, handed out once and never reused (rows outlive their functions).
            try db.execute(sql: """
                CREATE TABLE function_uids (
                    namespace TEXT NOT NULL, name TEXT NOT NULL, uid INTEGER NOT NULL UNIQUE, PRIMARY KEY (namespace, name));
                """)
        }
        // Log lines live in logs.db (LogStore) since; lines stored here before are dropped.
        m.registerMigration("v2-logs-in-own-database") { db in
            try db.execute(sql: "DROP TABLE IF EXISTS logs")
        }
        // A revision is never given twice to a name, even across delete and re-create: one counter.
        m.registerMigration("v3-function-revision-counter") { db in
            try db.execute(sql: """
                CREATE TABLE function_revisions (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL);
                INSERT INTO function_revisions (id, last) SELECT 1, COALESCE(MAX(revision), 0) FROM functions;
                """)
        }
        return m
    }

    // MARK: Function uids

    /// Every function's uid, keyed by `namespace/name`.
    public func functionUIDs() async throws -> [String: UInt32] {
        try await db.read { db in
            var result: [String: UInt32] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT namespace, name, uid FROM function_uids") {
                let ns: String = row["namespace"]
                let name: String = row["name"]
                let uid: Int64 = row["uid"]
                result["\(ns)/\(name)"] = UInt32(truncatingIfNeeded: uid)
            }
            return result
        }
    }

    /// The function's uid, allocated (in one transaction, so concurrent callers agree) if it has none.
    public func allocateUID(namespace: String, name: String, range: UIDRange) async throws -> UInt32 {
        try await db.write { db in
            if let uid = try Int64.fetchOne(db, sql: "SELECT uid FROM function_uids WHERE namespace = ? AND name = ?", arguments: [namespace, name]) {
                return UInt32(truncatingIfNeeded: uid)
            }
            let highest = try Int64.fetchOne(
                db, sql: "SELECT MAX(uid) FROM function_uids WHERE uid >= ? AND uid < ?",
                arguments: [Int64(range.first), Int64(range.first) + Int64(range.count)])
            guard let uid = range.next(afterHighest: highest.map { UInt32(truncatingIfNeeded: $0) }) else {
                throw IdentityError.exhausted(range)
            }
            try db.execute(
                sql: "INSERT INTO function_uids (namespace, name, uid) VALUES (?, ?, ?)", arguments: [namespace, name, Int64(uid)])
            return uid
        }
    }

    // MARK: ControlStore

    public func loadCatalog() async throws -> CatalogSnapshot {
        try await db.read { db in
            var snapshot = CatalogSnapshot()
            snapshot.namespaces = try String.fetchAll(db, sql: "SELECT name FROM namespaces ORDER BY name")
            snapshot.functions = try Row.fetchAll(db, sql: "SELECT * FROM functions").map(functionRecord)
            snapshot.versions = try Row.fetchAll(db, sql: "SELECT * FROM versions").map(versionRecord)
            snapshot.aliases = try Row.fetchAll(db, sql: "SELECT * FROM aliases").map { row in
                AliasRecord(
                    namespace: row["namespace"], function: row["function"], name: row["name"],
                    config: try decoder.decode(AliasConfig.self, from: Data((row["config"] as String).utf8)))
            }
            snapshot.keys = try Row.fetchAll(db, sql: "SELECT * FROM keys").map { row in
                KeyRecord(
                    id: row["id"], namespace: row["namespace"], role: Role(rawValue: row["role"]) ?? .invoker, name: row["name"],
                    hash: row["hash"], createdAt: Date(timeIntervalSince1970: row["created_at"]), revoked: row["revoked"])
            }
            return snapshot
        }
    }

    public func ensureNamespace(_ namespace: String) async throws {
        try await db.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO namespaces (name, created_at) VALUES (?, ?)",
                arguments: [namespace, Date().timeIntervalSince1970])
        }
    }

    public func putFunction(namespace: String, name: String, config: FunctionConfig) async throws -> FunctionRecord {
        let json = try json(config)
        let now = Date()
        return try await db.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO namespaces (name, created_at) VALUES (?, ?)", arguments: [namespace, now.timeIntervalSince1970])
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM functions WHERE namespace = ? AND name = ?", arguments: [namespace, name]) {
                let existing = try functionRecord(row)
                if existing.config == config { return existing }
                let revision = try Self.nextRevision(db)
                try db.execute(
                    sql: "UPDATE functions SET config = ?, revision = ?, updated_at = ? WHERE namespace = ? AND name = ?",
                    arguments: [json, revision, now.timeIntervalSince1970, namespace, name])
                return FunctionRecord(
                    namespace: namespace, name: name, config: config, revision: revision,
                    createdAt: existing.createdAt, updatedAt: now)
            }
            // Revisions never repeat for a name, even across delete and re-create.
            let revision = try Self.nextRevision(db)
            try db.execute(
                sql: "INSERT INTO functions (namespace, name, config, revision, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [namespace, name, json, revision, now.timeIntervalSince1970, now.timeIntervalSince1970])
            return FunctionRecord(namespace: namespace, name: name, config: config, revision: revision, createdAt: now, updatedAt: now)
        }
    }

    /// The next function revision (one counter for all functions, never going back).
    static func nextRevision(_ db: Database) throws -> Int {
        try db.execute(sql: "UPDATE function_revisions SET last = last + 1 WHERE id = 1")
        return try Int.fetchOne(db, sql: "SELECT last FROM function_revisions WHERE id = 1") ?? 1
    }

    public func deleteFunction(namespace: String, name: String) async throws -> Bool {
        try await db.write { db in
            try db.execute(sql: "DELETE FROM functions WHERE namespace = ? AND name = ?", arguments: [namespace, name])
            let deleted = db.changesCount > 0
            try db.execute(sql: "DELETE FROM versions WHERE namespace = ? AND function = ?", arguments: [namespace, name])
            try db.execute(sql: "DELETE FROM aliases WHERE namespace = ? AND function = ?", arguments: [namespace, name])
            return deleted
        }
    }

    public func publishVersion(namespace: String, name: String, description: String) async throws -> (VersionRecord, created: Bool) {
        try await db.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM functions WHERE namespace = ? AND name = ?", arguments: [namespace, name]) else {
                throw SwellError.notFound("function \(name) does not exist")
            }
            let latest = try functionRecord(row).config.versioned
            if let newest = try Row.fetchOne(
                db, sql: "SELECT * FROM versions WHERE namespace = ? AND function = ? ORDER BY version DESC LIMIT 1",
                arguments: [namespace, name]).map(versionRecord), newest.config == latest
            {
                return (newest, false)
            }
            let next = (try Int.fetchOne(
                db, sql: "SELECT COALESCE(MAX(version), 0) FROM versions WHERE namespace = ? AND function = ?",
                arguments: [namespace, name]) ?? 0) + 1
            let record = VersionRecord(namespace: namespace, function: name, version: next, config: latest, description: description, publishedAt: Date())
            try db.execute(
                sql: "INSERT INTO versions (namespace, function, version, config, description, published_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [namespace, name, next, try json(latest), description, record.publishedAt.timeIntervalSince1970])
            return (record, true)
        }
    }

    public func putAlias(_ alias: AliasRecord) async throws {
        let json = try json(alias.config)
        try await db.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO aliases (namespace, function, name, config) VALUES (?, ?, ?, ?)",
                arguments: [alias.namespace, alias.function, alias.name, json])
        }
    }

    public func deleteAlias(namespace: String, function: String, name: String) async throws -> Bool {
        try await db.write { db in
            try db.execute(sql: "DELETE FROM aliases WHERE namespace = ? AND function = ? AND name = ?", arguments: [namespace, function, name])
            return db.changesCount > 0
        }
    }

    public func createKey(_ key: KeyRecord) async throws {
        try await db.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO namespaces (name, created_at) VALUES (?, ?)", arguments: [key.namespace, key.createdAt.timeIntervalSince1970])
            try db.execute(
                sql: "INSERT INTO keys (id, namespace, role, name, hash, created_at, revoked) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [key.id, key.namespace, key.role.rawValue, key.name, key.hash, key.createdAt.timeIntervalSince1970, key.revoked])
        }
    }

    public func revokeKey(namespace: String, id: String) async throws -> Bool {
        try await db.write { db in
            try db.execute(sql: "UPDATE keys SET revoked = 1 WHERE namespace = ? AND id = ? AND revoked = 0", arguments: [namespace, id])
            return db.changesCount > 0
        }
    }

    // MARK: RecordStore

    public func appendInvocations(_ records: [InvocationRecord]) async throws {
        guard !records.isEmpty else { return }
        try await db.write { db in
            let statement = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO invocations (request_id, namespace, function, version, status, error_type, cold_start,
                    init_ms, duration_ms, billed_ms, memory_mb, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for r in records {
                try statement.execute(arguments: [
                    r.requestID, r.namespace, r.function, r.version, r.status, r.errorType, r.coldStart, r.initMs,
                    r.durationMs, r.billedMs, r.memoryMB, r.startedAt.timeIntervalSince1970,
                ])
            }
        }
    }

    public func invocations(namespace: String, function: String, limit: Int) async throws -> [InvocationRecord] {
        try await db.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM invocations WHERE namespace = ? AND function = ? ORDER BY started_at DESC LIMIT ?",
                arguments: [namespace, function, limit]
            ).map { row in
                InvocationRecord(
                    requestID: row["request_id"], namespace: row["namespace"], function: row["function"], version: row["version"],
                    status: row["status"], errorType: row["error_type"], coldStart: row["cold_start"], initMs: row["init_ms"],
                    durationMs: row["duration_ms"], billedMs: row["billed_ms"], memoryMB: row["memory_mb"],
                    startedAt: Date(timeIntervalSince1970: row["started_at"]))
            }
        }
    }

    public func pruneInvocations(maxAge: TimeInterval) async throws {
        let cutoff = Date().timeIntervalSince1970 - maxAge
        try await db.write { db in
            try db.execute(sql: "DELETE FROM invocations WHERE started_at < ?", arguments: [cutoff])
        }
    }

    // MARK: Rows

    private func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    private func functionRecord(_ row: Row) throws -> FunctionRecord {
        FunctionRecord(
            namespace: row["namespace"], name: row["name"],
            config: try decoder.decode(FunctionConfig.self, from: Data((row["config"] as String).utf8)),
            revision: row["revision"], createdAt: Date(timeIntervalSince1970: row["created_at"]),
            updatedAt: Date(timeIntervalSince1970: row["updated_at"]))
    }

    private func versionRecord(_ row: Row) throws -> VersionRecord {
        VersionRecord(
            namespace: row["namespace"], function: row["function"], version: row["version"],
            config: try decoder.decode(FunctionConfig.self, from: Data((row["config"] as String).utf8)),
            description: row["description"], publishedAt: Date(timeIntervalSince1970: row["published_at"]))
    }
}
