import Foundation
import GRDB
import SwellModel

/// The audit log: append-only, read newest first in pages.
public protocol AuditStore: Sendable {
    /// Appends an entry and returns it with its id.
    func append(_ entry: AuditEntry) async throws -> AuditEntry
    /// Entries of `namespace` (every namespace when nil) with an id below `before`, newest first.
    func entries(namespace: String?, before: Int64?, limit: Int) async throws -> [AuditEntry]
}

/// The embedded `AuditStore`: `audit.db` in the data directory. Triggers refuse every
/// UPDATE and DELETE of an entry, so the log is append-only in the database itself.
public final class SQLiteAuditStore: AuditStore, Sendable {
    let db: any DatabaseWriter

    /// Opens (creating and migrating) the database at `path`.
    public convenience init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            guard !db.configuration.readonly else { return }
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        try self.init(writer: DatabasePool(path: path, configuration: config))
    }

    /// An in-memory database, for tests.
    public static func inMemory() throws -> SQLiteAuditStore {
        try SQLiteAuditStore(writer: DatabaseQueue())
    }

    init(writer: any DatabaseWriter) throws {
        db = writer
        var m = DatabaseMigrator()
        m.registerMigration("v1-audit") { db in
            try db.execute(sql: """
                CREATE TABLE audit (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, time DOUBLE NOT NULL, key_id TEXT NOT NULL, role TEXT NOT NULL,
                    address TEXT NOT NULL, namespace TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, details TEXT NOT NULL);
                CREATE INDEX audit_by_namespace ON audit (namespace, id);
                CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                """)
        }
        try m.migrate(writer)
    }

    public func append(_ entry: AuditEntry) async throws -> AuditEntry {
        let details = try entry.detailsText()
        return try await db.write { db in
            try db.execute(
                sql: """
                    INSERT INTO audit (time, key_id, role, address, namespace, action, target, details)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    entry.time.timeIntervalSince1970, entry.keyID, entry.role.rawValue, entry.address, entry.namespace,
                    entry.action.rawValue, entry.target, details,
                ])
            var stored = entry
            stored.id = db.lastInsertedRowID
            return stored
        }
    }

    public func entries(namespace: String?, before: Int64?, limit: Int) async throws -> [AuditEntry] {
        try await db.read { db in
            var sql = "SELECT * FROM audit WHERE id < ?"
            var arguments: StatementArguments = [before ?? Int64.max]
            if let namespace {
                sql += " AND namespace = ?"
                arguments += [namespace]
            }
            sql += " ORDER BY id DESC LIMIT ?"
            arguments += [limit]
            let decoder = JSONDecoder()
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                let details: String = row["details"]
                let roleName: String = row["role"]
                let actionName: String = row["action"]
                return AuditEntry(
                    id: row["id"], time: Date(timeIntervalSince1970: row["time"]), keyID: row["key_id"],
                    role: Role(rawValue: roleName) ?? .invoker, address: row["address"], namespace: row["namespace"],
                    action: AuditAction(rawValue: actionName) ?? .other, target: row["target"],
                    details: (try? decoder.decode(ConfigValue.self, from: Data(details.utf8))) ?? .null)
            }
        }
    }
}

extension AuditEntry {
    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// The details as stored (one JSON object, sorted keys), by every audit store.
    func detailsText() throws -> String {
        String(decoding: try Self.encoder.encode(details), as: UTF8.self)
    }
}
