import Foundation
import PostgresNIO

extension PostgresStore: NodeRegistry {
    public func heartbeat(_ node: NodeStatus) async throws {
        try await run(
            """
            INSERT INTO nodes (id, address, started_at, version, status, heartbeat_at)
            VALUES (?, ?, ?, ?, ?, extract(epoch FROM clock_timestamp()))
            ON CONFLICT (id) DO UPDATE SET address = excluded.address, version = excluded.version, status = excluded.status,
                heartbeat_at = excluded.heartbeat_at
            """,
            [node.id, node.address, node.startedAt.timeIntervalSince1970, node.version, try json(node)])
    }

    public func nodes() async throws -> [NodeStatus] {
        // Nodes gone for an hour are forgotten.
        try await run("DELETE FROM nodes WHERE heartbeat_at < extract(epoch FROM clock_timestamp()) - 3600", [])
        return try await rows(
            """
            SELECT status, (extract(epoch FROM clock_timestamp()) - heartbeat_at)::float8 AS age FROM nodes ORDER BY started_at, id
            """, []
        ).map { row in
            var node = try decodeJSON(NodeStatus.self, try row.decode("status"))
            node.secondsSinceHeartbeat = max(0, try row.decode("age", as: Double.self))
            return node
        }
    }

    public func removeNode(id: String) async throws {
        try await run("DELETE FROM nodes WHERE id = ?", [id])
    }
}
