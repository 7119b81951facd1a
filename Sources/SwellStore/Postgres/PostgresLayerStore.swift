import Foundation
import PostgresNIO

/// Layer versions in the PostgreSQL store every node shares (migration `v6-layers`). A
/// version's content is a code package of its namespace, kept in the shared `packages` table
/// like function code (``CodeStore/store(_:namespace:sha256:)``), so any node can unpack it.
public final class PostgresLayerStore: LayerStorage {
    let pg: PostgresStore

    public init(store: PostgresStore) {
        self.pg = store
    }

    static let migration: (name: String, statements: [String]) = ("v6-layers", [
        """
        CREATE TABLE layer_versions (
            namespace TEXT NOT NULL, name TEXT NOT NULL, version BIGINT NOT NULL, sha256 TEXT NOT NULL, size BIGINT NOT NULL,
            description TEXT NOT NULL, runtimes TEXT NOT NULL, license TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
            deleted BOOLEAN NOT NULL DEFAULT FALSE, PRIMARY KEY (namespace, name, version))
        """,
        // The next number of each layer (numbers are never reused, even after a delete; two nodes publishing at once get two).
        """
        CREATE TABLE layer_numbers (namespace TEXT NOT NULL, name TEXT NOT NULL, last BIGINT NOT NULL, PRIMARY KEY (namespace, name))
        """,
    ])

    public func publishLayer(
        namespace: String, name: String, sha256: String, size: Int, description: String, runtimes: [String], license: String
    ) async throws -> LayerStore.Version {
        let runtimesJSON = String(decoding: try JSONEncoder().encode(runtimes), as: UTF8.self)
        let now = Date()
        return try await pg.transaction { c in
            // One upsert hands out the number: concurrent publishes of a name wait for each other's row lock.
            let next = try await c.rows(
                """
                INSERT INTO layer_numbers (namespace, name, last) VALUES (?, ?, 1)
                ON CONFLICT (namespace, name) DO UPDATE SET last = layer_numbers.last + 1 RETURNING last
                """, [namespace, name]
            ).first?.decode("last", as: Int.self) ?? 1
            try await c.run(
                """
                INSERT INTO layer_versions (namespace, name, version, sha256, size, description, runtimes, license, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [namespace, name, next, sha256, size, description, runtimesJSON, license, now.timeIntervalSince1970])
            return LayerStore.Version(
                namespace: namespace, name: name, version: next, sha256: sha256, size: size, description: description,
                compatibleRuntimes: runtimes, license: license, createdAt: now)
        }
    }

    public func layerVersion(namespace: String, name: String, version: Int) async throws -> LayerStore.Version? {
        try await pg.rows(
            "SELECT * FROM layer_versions WHERE namespace = ? AND name = ? AND version = ? AND NOT deleted", [namespace, name, version]
        ).first.map(Self.version)
    }

    public func layerVersions(namespace: String, name: String) async throws -> [LayerStore.Version] {
        try await pg.rows(
            "SELECT * FROM layer_versions WHERE namespace = ? AND name = ? AND NOT deleted ORDER BY version DESC", [namespace, name]
        ).map(Self.version)
    }

    public func latestLayers(namespace: String) async throws -> [LayerStore.Version] {
        try await pg.rows(
            """
            SELECT DISTINCT ON (name) * FROM layer_versions WHERE namespace = ? AND NOT deleted ORDER BY name, version DESC
            """, [namespace]
        ).map(Self.version)
    }

    public func deleteLayerVersion(namespace: String, name: String, version: Int) async throws {
        try await pg.run("UPDATE layer_versions SET deleted = TRUE WHERE namespace = ? AND name = ? AND version = ?", [namespace, name, version])
    }

    static func version(_ row: PostgresRandomAccessRow) throws -> LayerStore.Version {
        let runtimes = (try? JSONDecoder().decode([String].self, from: Data((try row.decode("runtimes", as: String.self)).utf8))) ?? []
        return LayerStore.Version(
            namespace: try row.decode("namespace"), name: try row.decode("name"), version: try row.decode("version", as: Int.self),
            sha256: try row.decode("sha256"), size: try row.decode("size", as: Int.self), description: try row.decode("description"),
            compatibleRuntimes: runtimes, license: try row.decode("license"), createdAt: try row.date("created_at"))
    }
}
