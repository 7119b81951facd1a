import Foundation
import GRDB

/// What Swell keeps about each trigger across restarts: whether it is paused and, for
/// timers, the last scheduled time that fired. Kafka offsets live in the broker (the
/// trigger's consumer group), where standard tools see them.
public final class TriggerStore: TriggerStorage, Sendable {
    let db: any DatabaseWriter

    public convenience init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        try self.init(writer: DatabaseQueue(path: path, configuration: config))
    }

    public static func inMemory() throws -> TriggerStore { try TriggerStore(writer: DatabaseQueue()) }

    init(writer: any DatabaseWriter) throws {
        db = writer
        var m = DatabaseMigrator()
        m.registerMigration("v1-triggers") { db in
            try db.execute(sql: """
                CREATE TABLE trigger_state (
                    id TEXT PRIMARY KEY,
                    paused INTEGER,
                    last_fire REAL
                )
                """)
        }
        try m.migrate(db)
    }

    /// The pause switch set through the API (`nil`: never set, so the manifest's `enabled` decides).
    public func paused(_ id: String) async throws -> Bool? {
        try await db.read { db in
            try Row.fetchOne(db, sql: "SELECT paused FROM trigger_state WHERE id = ?", arguments: [id])?["paused"]
        }
    }

    public func setPaused(_ id: String, _ paused: Bool?) async throws {
        try await db.write { db in
            try db.execute(sql: """
                INSERT INTO trigger_state (id, paused) VALUES (?, ?)
                ON CONFLICT(id) DO UPDATE SET paused = excluded.paused
                """, arguments: [id, paused])
        }
    }

    /// The scheduled time of the last timer fire that was handed to the task queue.
    public func lastFire(_ id: String) async throws -> Date? {
        try await db.read { db in
            let t: Double? = try Row.fetchOne(db, sql: "SELECT last_fire FROM trigger_state WHERE id = ?", arguments: [id])?["last_fire"]
            return t.map { Date(timeIntervalSince1970: $0) }
        }
    }

    public func setLastFire(_ id: String, _ date: Date) async throws {
        try await db.write { db in
            try db.execute(sql: """
                INSERT INTO trigger_state (id, last_fire) VALUES (?, ?)
                ON CONFLICT(id) DO UPDATE SET last_fire = excluded.last_fire
                """, arguments: [id, date.timeIntervalSince1970])
        }
    }

    public func claimFire(_ id: String, _ due: Date) async throws -> Bool {
        try await db.write { db in
            try db.execute(sql: """
                INSERT INTO trigger_state (id, last_fire) VALUES (?, ?)
                ON CONFLICT(id) DO UPDATE SET last_fire = excluded.last_fire WHERE last_fire IS NULL OR last_fire < excluded.last_fire
                """, arguments: [id, due.timeIntervalSince1970])
            return db.changesCount > 0
        }
    }

    /// Forgets triggers that no longer exist.
    public func retain(_ ids: Set<String>) async throws {
        try await db.write { db in
            let all = try String.fetchAll(db, sql: "SELECT id FROM trigger_state")
            for id in all where !ids.contains(id) {
                try db.execute(sql: "DELETE FROM trigger_state WHERE id = ?", arguments: [id])
            }
        }
    }
}
