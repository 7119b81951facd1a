import Foundation
import PostgresNIO
import SwellModel

extension PostgresStore: ControlStore, RecordStore {
    // MARK: Function uids

    public func functionUIDs() async throws -> [String: UInt32] {
        var result: [String: UInt32] = [:]
        for row in try await rows("SELECT namespace, name, uid FROM function_uids", []) {
            result["\(try row.decode("namespace", as: String.self))/\(try row.decode("name", as: String.self))"] =
                UInt32(truncatingIfNeeded: try row.decode("uid", as: Int64.self))
        }
        return result
    }

    /// Allocated under an advisory lock, so that nodes allocating at once never pick the same uid.
    public func allocateUID(namespace: String, name: String, range: UIDRange) async throws -> UInt32 {
        try await transaction { c in
            try await c.run("SELECT pg_advisory_xact_lock(7356227002)", [])
            if let row = try await c.rows("SELECT uid FROM function_uids WHERE namespace = ? AND name = ?", [namespace, name]).first {
                return UInt32(truncatingIfNeeded: try row.decode("uid", as: Int64.self))
            }
            let highest = try await c.rows(
                "SELECT MAX(uid) AS highest FROM function_uids WHERE uid >= ? AND uid < ?",
                [Int64(range.first), Int64(range.first) + Int64(range.count)]
            ).first?.decode("highest", as: Int64?.self) ?? nil
            guard let uid = range.next(afterHighest: highest.map { UInt32(truncatingIfNeeded: $0) }) else {
                throw IdentityError.exhausted(range)
            }
            try await c.run("INSERT INTO function_uids (namespace, name, uid) VALUES (?, ?, ?)", [namespace, name, Int64(uid)])
            return uid
        }
    }

    // MARK: ControlStore

    /// One consistent snapshot (a repeatable-read transaction).
    public func loadCatalog() async throws -> CatalogSnapshot {
        try await transaction { c in
            try await c.run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", [])
            var snapshot = CatalogSnapshot()
            snapshot.namespaces = try await c.rows("SELECT name FROM namespaces ORDER BY name", []).map { try $0.decode("name") }
            snapshot.functions = try await c.rows("SELECT * FROM functions", []).map(functionRecord)
            snapshot.versions = try await c.rows("SELECT * FROM versions", []).map(versionRecord)
            snapshot.aliases = try await c.rows("SELECT * FROM aliases", []).map { row in
                AliasRecord(
                    namespace: try row.decode("namespace"), function: try row.decode("function"), name: try row.decode("name"),
                    config: try decodeJSON(AliasConfig.self, try row.decode("config")))
            }
            snapshot.keys = try await c.rows("SELECT * FROM keys", []).map { row in
                KeyRecord(
                    id: try row.decode("id"), namespace: try row.decode("namespace"),
                    role: Role(rawValue: try row.decode("role")) ?? .invoker, name: try row.decode("name"),
                    hash: try row.decode("hash"), createdAt: try row.date("created_at"), revoked: try row.decode("revoked"))
            }
            return snapshot
        }
    }

    public func ensureNamespace(_ namespace: String) async throws {
        try await run(
            "INSERT INTO namespaces (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING", [namespace, Date().timeIntervalSince1970])
    }

    public func putFunction(namespace: String, name: String, config: FunctionConfig) async throws -> FunctionRecord {
        let json = try json(config)
        let now = Date()
        return try await transaction { c in
            try await c.run(
                "INSERT INTO namespaces (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING", [namespace, now.timeIntervalSince1970])
            try await c.run("SELECT pg_advisory_xact_lock(hashtext(?))", ["function:\(namespace)/\(name)"])
            if let row = try await c.rows("SELECT * FROM functions WHERE namespace = ? AND name = ?", [namespace, name]).first {
                let existing = try functionRecord(row)
                if existing.config == config { return existing }
                let revision = try await c.rows(
                    "UPDATE functions SET config = ?, revision = nextval('function_revisions'), updated_at = ? WHERE namespace = ? AND name = ? RETURNING revision",
                    [json, now.timeIntervalSince1970, namespace, name])[0].decode("revision", as: Int.self)
                return FunctionRecord(
                    namespace: namespace, name: name, config: config, revision: revision, createdAt: existing.createdAt, updatedAt: now)
            }
            let revision = try await c.rows(
                """
                INSERT INTO functions (namespace, name, config, revision, created_at, updated_at)
                VALUES (?, ?, ?, nextval('function_revisions'), ?, ?) RETURNING revision
                """,
                [namespace, name, json, now.timeIntervalSince1970, now.timeIntervalSince1970])[0].decode("revision", as: Int.self)
            return FunctionRecord(namespace: namespace, name: name, config: config, revision: revision, createdAt: now, updatedAt: now)
        }
    }

    public func deleteFunction(namespace: String, name: String) async throws -> Bool {
        try await transaction { c in
            let deleted = try await c.rows("DELETE FROM functions WHERE namespace = ? AND name = ? RETURNING name", [namespace, name])
            try await c.run("DELETE FROM versions WHERE namespace = ? AND function = ?", [namespace, name])
            try await c.run("DELETE FROM aliases WHERE namespace = ? AND function = ?", [namespace, name])
            return !deleted.isEmpty
        }
    }

    public func publishVersion(namespace: String, name: String, description: String) async throws -> (VersionRecord, created: Bool) {
        let result: (VersionRecord, Bool) = try await transaction { c in
            try await c.run("SELECT pg_advisory_xact_lock(hashtext(?))", ["function:\(namespace)/\(name)"])
            guard let row = try await c.rows("SELECT * FROM functions WHERE namespace = ? AND name = ?", [namespace, name]).first else {
                throw SwellError.notFound("function \(name) does not exist")
            }
            let latest = try functionRecord(row).config.versioned
            if let newest = try await c.rows(
                "SELECT * FROM versions WHERE namespace = ? AND function = ? ORDER BY version DESC LIMIT 1", [namespace, name]
            ).first.map(versionRecord), newest.config == latest {
                return (newest, false)
            }
            let next = (try await c.rows(
                "SELECT COALESCE(MAX(version), 0) AS v FROM versions WHERE namespace = ? AND function = ?", [namespace, name]
            )[0].decode("v", as: Int.self)) + 1
            let record = VersionRecord(
                namespace: namespace, function: name, version: next, config: latest, description: description, publishedAt: Date())
            try await c.run(
                "INSERT INTO versions (namespace, function, version, config, description, published_at) VALUES (?, ?, ?, ?, ?, ?)",
                [namespace, name, next, try json(latest), description, record.publishedAt.timeIntervalSince1970])
            return (record, true)
        }
        return (result.0, created: result.1)
    }

    public func putAlias(_ alias: AliasRecord) async throws {
        try await run(
            """
            INSERT INTO aliases (namespace, function, name, config) VALUES (?, ?, ?, ?)
            ON CONFLICT (namespace, function, name) DO UPDATE SET config = excluded.config
            """,
            [alias.namespace, alias.function, alias.name, try json(alias.config)])
    }

    public func deleteAlias(namespace: String, function: String, name: String) async throws -> Bool {
        !(try await rows(
            "DELETE FROM aliases WHERE namespace = ? AND function = ? AND name = ? RETURNING name", [namespace, function, name])
        ).isEmpty
    }

    public func createKey(_ key: KeyRecord) async throws {
        try await transaction { c in
            try await c.run(
                "INSERT INTO namespaces (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [key.namespace, key.createdAt.timeIntervalSince1970])
            try await c.run(
                "INSERT INTO keys (id, namespace, role, name, hash, created_at, revoked) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [key.id, key.namespace, key.role.rawValue, key.name, key.hash, key.createdAt.timeIntervalSince1970, key.revoked])
        }
    }

    public func revokeKey(namespace: String, id: String) async throws -> Bool {
        !(try await rows(
            "UPDATE keys SET revoked = TRUE WHERE namespace = ? AND id = ? AND NOT revoked RETURNING id", [namespace, id])
        ).isEmpty
    }

    // MARK: RecordStore

    public func appendInvocations(_ records: [InvocationRecord]) async throws {
        guard !records.isEmpty else { return }
        // One statement per batch: arrays unnested into rows (a busy server writes thousands a
        // second); an empty error type stands for none.
        try await run(
            """
            INSERT INTO invocations (request_id, namespace, function, version, status, error_type, cold_start,
                init_ms, duration_ms, billed_ms, memory_mb, started_at)
            SELECT r, n, f, v, s, NULLIF(e, ''), c, i, d, b, m, t
            FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::boolean[],
                ?::float8[], ?::float8[], ?::int8[], ?::int8[], ?::float8[]) AS x(r, n, f, v, s, e, c, i, d, b, m, t)
            ON CONFLICT (request_id) DO UPDATE SET status = excluded.status, error_type = excluded.error_type,
                cold_start = excluded.cold_start, init_ms = excluded.init_ms, duration_ms = excluded.duration_ms,
                billed_ms = excluded.billed_ms, memory_mb = excluded.memory_mb, started_at = excluded.started_at
            """,
            [
                records.map(\.requestID), records.map(\.namespace), records.map(\.function), records.map(\.version),
                records.map(\.status), records.map { $0.errorType ?? "" }, records.map(\.coldStart), records.map(\.initMs),
                records.map(\.durationMs), records.map { Int64($0.billedMs) }, records.map { Int64($0.memoryMB) },
                records.map { $0.startedAt.timeIntervalSince1970 },
            ])
    }

    public func invocations(namespace: String, function: String, limit: Int) async throws -> [InvocationRecord] {
        try await rows(
            "SELECT * FROM invocations WHERE namespace = ? AND function = ? ORDER BY started_at DESC LIMIT ?", [namespace, function, limit]
        ).map { row in
            InvocationRecord(
                requestID: try row.decode("request_id"), namespace: try row.decode("namespace"), function: try row.decode("function"),
                version: try row.decode("version"), status: try row.decode("status"), errorType: try row.decode("error_type"),
                coldStart: try row.decode("cold_start"), initMs: try row.decode("init_ms"), durationMs: try row.decode("duration_ms"),
                billedMs: try row.decode("billed_ms"), memoryMB: try row.decode("memory_mb"), startedAt: try row.date("started_at"))
        }
    }

    public func pruneInvocations(maxAge: TimeInterval) async throws {
        try await run("DELETE FROM invocations WHERE started_at < ?", [Date().timeIntervalSince1970 - maxAge])
    }

    // MARK: Rows

    func functionRecord(_ row: PostgresRandomAccessRow) throws -> FunctionRecord {
        FunctionRecord(
            namespace: try row.decode("namespace"), name: try row.decode("name"),
            config: try decodeJSON(FunctionConfig.self, try row.decode("config")), revision: try row.decode("revision"),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }

    func versionRecord(_ row: PostgresRandomAccessRow) throws -> VersionRecord {
        VersionRecord(
            namespace: try row.decode("namespace"), function: try row.decode("function"), version: try row.decode("version"),
            config: try decodeJSON(FunctionConfig.self, try row.decode("config")), description: try row.decode("description"),
            publishedAt: try row.date("published_at"))
    }
}
