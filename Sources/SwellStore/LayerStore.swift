import Foundation
import GRDB
import NIOPosix
import SwellModel

/// Layer versions, as the API and the control plane use them: `LayerStore` (SQLite,
/// `layers.db`) or `PostgresLayerStore` (shared by every node). Numbers are per layer name
/// from 1 and never reused; the content is a code package of the namespace (stored, and shared
/// between nodes, like function code).
public protocol LayerStorage: Sendable {
    /// Publishes the next version of `name`.
    func publishLayer(
        namespace: String, name: String, sha256: String, size: Int, description: String, runtimes: [String], license: String
    ) async throws -> LayerStore.Version
    func layerVersion(namespace: String, name: String, version: Int) async throws -> LayerStore.Version?
    /// The versions of `name`, newest first.
    func layerVersions(namespace: String, name: String) async throws -> [LayerStore.Version]
    /// The newest version of every layer of `namespace`, by name.
    func latestLayers(namespace: String) async throws -> [LayerStore.Version]
    /// Deletes a version (functions that use it keep their unpacked copy, as on Lambda).
    func deleteLayerVersion(namespace: String, name: String, version: Int) async throws
}

/// Layer versions: immutable, numbered per name from 1 (numbers are never reused, even after
/// a version is deleted), each naming a code package of its namespace (content-addressed in
/// ``CodeStore``). Kept in `layers.db`.
///
/// ```swift
/// let layers = try LayerStore(path: "\(data)/layers.db")
/// let v = try layers.publish(namespace: "default", name: "deps", sha256: sha, size: n, description: "", runtimes: [])
/// ```
public final class LayerStore: LayerStorage {
    public struct Version: Sendable, Hashable {
        public var namespace: String
        public var name: String
        public var version: Int
        public var sha256: String
        public var size: Int
        public var description: String
        public var compatibleRuntimes: [String]
        public var license: String
        public var createdAt: Date

        public init(
            namespace: String, name: String, version: Int, sha256: String, size: Int, description: String, compatibleRuntimes: [String],
            license: String, createdAt: Date
        ) {
            self.namespace = namespace
            self.name = name
            self.version = version
            self.sha256 = sha256
            self.size = size
            self.description = description
            self.compatibleRuntimes = compatibleRuntimes
            self.license = license
            self.createdAt = createdAt
        }
    }

    let db: any DatabaseWriter

    public convenience init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        try self.init(writer: DatabasePool(path: path, configuration: config))
        chmod(path, 0o600)
    }

    public static func inMemory() throws -> LayerStore { try LayerStore(writer: DatabaseQueue()) }

    init(writer: any DatabaseWriter) throws {
        db = writer
        var m = DatabaseMigrator()
        m.registerMigration("v1-layers") { db in
            try db.execute(sql: """
                CREATE TABLE layer_versions (
                    namespace TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
                    description TEXT NOT NULL, runtimes TEXT NOT NULL, license TEXT NOT NULL, created_at DOUBLE NOT NULL,
                    deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (namespace, name, version));
                """)
        }
        try m.migrate(writer)
    }

    /// Publishes the next version of `name`.
    public func publish(
        namespace: String, name: String, sha256: String, size: Int, description: String, runtimes: [String], license: String = ""
    ) throws -> Version {
        let runtimesJSON = String(decoding: try JSONEncoder().encode(runtimes), as: UTF8.self)
        return try db.write { db in
            let next = (try Int.fetchOne(
                db, sql: "SELECT COALESCE(MAX(version), 0) FROM layer_versions WHERE namespace = ? AND name = ?", arguments: [namespace, name]) ?? 0) + 1
            let now = Date()
            try db.execute(
                sql: """
                    INSERT INTO layer_versions (namespace, name, version, sha256, size, description, runtimes, license, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [namespace, name, next, sha256, size, description, runtimesJSON, license, now.timeIntervalSince1970])
            return Version(
                namespace: namespace, name: name, version: next, sha256: sha256, size: size, description: description,
                compatibleRuntimes: runtimes, license: license, createdAt: now)
        }
    }

    public func version(namespace: String, name: String, version: Int) throws -> Version? {
        try db.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM layer_versions WHERE namespace = ? AND name = ? AND version = ? AND deleted = 0",
                arguments: [namespace, name, version]
            ).map(Self.version)
        }
    }

    /// The versions of `name`, newest first.
    public func versions(namespace: String, name: String) throws -> [Version] {
        try db.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM layer_versions WHERE namespace = ? AND name = ? AND deleted = 0 ORDER BY version DESC",
                arguments: [namespace, name]
            ).map(Self.version)
        }
    }

    /// The newest version of every layer of `namespace`, by name.
    public func latest(namespace: String) throws -> [Version] {
        try db.read { db in
            try Row.fetchAll(
                db, sql: """
                    SELECT * FROM layer_versions v WHERE namespace = ? AND deleted = 0 AND version = (
                        SELECT MAX(version) FROM layer_versions w WHERE w.namespace = v.namespace AND w.name = v.name AND w.deleted = 0)
                    ORDER BY name
                    """, arguments: [namespace]
            ).map(Self.version)
        }
    }

    /// Deletes a version (functions that use it keep their unpacked copy, as on Lambda).
    public func delete(namespace: String, name: String, version: Int) throws {
        try db.write { db in
            try db.execute(
                sql: "UPDATE layer_versions SET deleted = 1 WHERE namespace = ? AND name = ? AND version = ?", arguments: [namespace, name, version])
        }
    }

    static func version(_ row: Row) throws -> Version {
        let runtimes = (try? JSONDecoder().decode([String].self, from: Data((row["runtimes"] as String).utf8))) ?? []
        return Version(
            namespace: row["namespace"], name: row["name"], version: row["version"], sha256: row["sha256"], size: row["size"],
            description: row["description"], compatibleRuntimes: runtimes, license: row["license"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]))
    }
}

// The protocol's async face: GRDB's blocking calls run on NIO's thread pool.
extension LayerStore {
    public func publishLayer(
        namespace: String, name: String, sha256: String, size: Int, description: String, runtimes: [String], license: String
    ) async throws -> Version {
        try await NIOThreadPool.singleton.runIfActive {
            try self.publish(namespace: namespace, name: name, sha256: sha256, size: size, description: description, runtimes: runtimes, license: license)
        }
    }

    public func layerVersion(namespace: String, name: String, version: Int) async throws -> Version? {
        try await NIOThreadPool.singleton.runIfActive { try self.version(namespace: namespace, name: name, version: version) }
    }

    public func layerVersions(namespace: String, name: String) async throws -> [Version] {
        try await NIOThreadPool.singleton.runIfActive { try self.versions(namespace: namespace, name: name) }
    }

    public func latestLayers(namespace: String) async throws -> [Version] {
        try await NIOThreadPool.singleton.runIfActive { try self.latest(namespace: namespace) }
    }

    public func deleteLayerVersion(namespace: String, name: String, version: Int) async throws {
        try await NIOThreadPool.singleton.runIfActive { try self.delete(namespace: namespace, name: name, version: version) }
    }
}
