import Foundation
import PostgresNIO

extension PostgresStore: TriggerStorage {
    public func paused(_ id: String) async throws -> Bool? {
        try await rows("SELECT paused FROM trigger_state WHERE id = ?", [id]).first?.decode("paused", as: Bool?.self) ?? nil
    }

    public func setPaused(_ id: String, _ paused: Bool?) async throws {
        try await run(
            "INSERT INTO trigger_state (id, paused) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET paused = excluded.paused", [id, paused])
    }

    public func lastFire(_ id: String) async throws -> Date? {
        try await rows("SELECT last_fire FROM trigger_state WHERE id = ?", [id]).first?.optionalDate("last_fire") ?? nil
    }

    public func setLastFire(_ id: String, _ date: Date) async throws {
        try await run(
            "INSERT INTO trigger_state (id, last_fire) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET last_fire = excluded.last_fire",
            [id, date.timeIntervalSince1970])
    }

    /// One row update decides: of nodes firing the same due time at once, one moves it.
    public func claimFire(_ id: String, _ due: Date) async throws -> Bool {
        !(try await rows(
            """
            INSERT INTO trigger_state (id, last_fire) VALUES (?, ?)
            ON CONFLICT (id) DO UPDATE SET last_fire = excluded.last_fire
                WHERE trigger_state.last_fire IS NULL OR trigger_state.last_fire < excluded.last_fire
            RETURNING id
            """,
            [id, due.timeIntervalSince1970])
        ).isEmpty
    }

    public func retain(_ ids: Set<String>) async throws {
        try await run("DELETE FROM trigger_state WHERE NOT (id = ANY(?::text[]))", [Array(ids)])
    }
}

extension PostgresStore: PackageStorage {
    public func packageSize(namespace: String, sha256: String) async throws -> Int? {
        try await rows("SELECT size FROM packages WHERE namespace = ? AND sha256 = ?", [namespace, sha256]).first?.decode("size", as: Int.self)
    }

    public func putPackage(_ data: Data, namespace: String, sha256: String) async throws {
        try await run(
            "INSERT INTO packages (namespace, sha256, size, data, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [namespace, sha256, data.count, data, Date().timeIntervalSince1970])
    }

    public func package(namespace: String, sha256: String) async throws -> Data? {
        try await rows("SELECT data FROM packages WHERE namespace = ? AND sha256 = ?", [namespace, sha256]).first?.decode("data", as: Data.self)
    }
}
