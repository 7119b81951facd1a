import Foundation
import PostgresNIO
import SwellModel

/// The audit log in the PostgreSQL store every node shares (migration `v6-audit`): entries of
/// all nodes in one sequence, read newest first from any node. As in `audit.db`, a trigger
/// refuses every UPDATE and DELETE of an entry.
public final class PostgresAuditStore: AuditStore {
    let pg: PostgresStore

    public init(store: PostgresStore) {
        self.pg = store
    }

    static let migration: (name: String, statements: [String]) = ("v6-audit", [
        """
        CREATE TABLE audit (
            id BIGSERIAL PRIMARY KEY, time DOUBLE PRECISION NOT NULL, key_id TEXT NOT NULL, role TEXT NOT NULL,
            address TEXT NOT NULL, namespace TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, details TEXT NOT NULL)
        """,
        "CREATE INDEX audit_by_namespace ON audit (namespace, id)",
        """
        CREATE FUNCTION swell_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only';
        END $$
        """,
        "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION swell_audit_append_only()",
        "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION swell_audit_append_only()",
    ])

    public func append(_ entry: AuditEntry) async throws -> AuditEntry {
        let details = try entry.detailsText()
        let id = try await pg.rows(
            """
            INSERT INTO audit (time, key_id, role, address, namespace, action, target, details)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
            """,
            [
                entry.time.timeIntervalSince1970, entry.keyID, entry.role.rawValue, entry.address, entry.namespace,
                entry.action.rawValue, entry.target, details,
            ]
        ).first?.decode("id", as: Int64.self) ?? 0
        var stored = entry
        stored.id = id
        return stored
    }

    public func entries(namespace: String?, before: Int64?, limit: Int) async throws -> [AuditEntry] {
        var sql = "SELECT * FROM audit WHERE id < ?"
        var arguments: [(any PostgresThrowingDynamicTypeEncodable)?] = [before ?? Int64.max]
        if let namespace {
            sql += " AND namespace = ?"
            arguments.append(namespace)
        }
        sql += " ORDER BY id DESC LIMIT ?"
        arguments.append(limit)
        let decoder = JSONDecoder()
        return try await pg.rows(sql, arguments).map { row in
            let details: String = try row.decode("details")
            return AuditEntry(
                id: try row.decode("id", as: Int64.self), time: try row.date("time"), keyID: try row.decode("key_id"),
                role: Role(rawValue: try row.decode("role")) ?? .invoker, address: try row.decode("address"),
                namespace: try row.decode("namespace"), action: AuditAction(rawValue: try row.decode("action")) ?? .other,
                target: try row.decode("target"), details: (try? decoder.decode(ConfigValue.self, from: Data(details.utf8))) ?? .null)
        }
    }
}
