import Foundation
import PostgresNIO
import SwellModel

/// Idempotency keys unique across the nodes (migration `v7-task-idempotency`): one row per
/// function and key in `task_idempotency`, whose primary key is the unique index two nodes
/// enqueueing the same new key at the same moment meet on. `INSERT … ON CONFLICT` lets
/// exactly one of them hold the key; the other gets the holder's task id back.
extension PostgresStore {
    static let idempotencyMigration: (name: String, statements: [String]) = ("v7-task-idempotency", [
        """
        CREATE TABLE task_idempotency (
            namespace TEXT NOT NULL, function TEXT NOT NULL, key TEXT NOT NULL, task_id TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (namespace, function, key))
        """,
        "CREATE INDEX task_idempotency_by_time ON task_idempotency (created_at)",
        // The keys of the window so far, each held by its first task.
        """
        INSERT INTO task_idempotency (namespace, function, key, task_id, created_at)
        SELECT DISTINCT ON (namespace, function, idempotency_key) namespace, function, idempotency_key, id, created_at FROM tasks
        WHERE idempotency_key IS NOT NULL AND created_at >= extract(epoch FROM clock_timestamp()) - \(Int(TaskLimits.idempotencyWindow))
        ORDER BY namespace, function, idempotency_key, created_at, id
        """,
    ])

    /// How long a key may stay held by a task that was never stored (its node's commit failed,
    /// or the node died between the reservation and the commit) before another task may take it.
    static let unstoredHolderGrace: TimeInterval = 60

    public func reserveIdempotencyKey(namespace: String, function: String, key: String, taskID: String, at now: Date) async throws -> String {
        let t = now.timeIntervalSince1970
        // A key is taken over when its holder is older than the window, or was never stored.
        if let won = try await rows(
            """
            INSERT INTO task_idempotency AS k (namespace, function, key, task_id, created_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (namespace, function, key) DO UPDATE SET task_id = excluded.task_id, created_at = excluded.created_at
            WHERE k.created_at < excluded.created_at - ?
                OR (k.created_at < excluded.created_at - ? AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.id = k.task_id))
            RETURNING task_id
            """, [namespace, function, key, taskID, t, TaskLimits.idempotencyWindow, Self.unstoredHolderGrace]
        ).first {
            return try won.decode("task_id", as: String.self)
        }
        // The conflicting row is committed (ON CONFLICT waited for its transaction): its holder answers.
        guard let holder = try await rows(
            "SELECT task_id FROM task_idempotency WHERE namespace = ? AND function = ? AND key = ?", [namespace, function, key]
        ).first else {
            // Removed in between (a failed commit released it): try again.
            return try await reserveIdempotencyKey(namespace: namespace, function: function, key: key, taskID: taskID, at: now)
        }
        return try holder.decode("task_id", as: String.self)
    }

    public func releaseIdempotencyKey(namespace: String, function: String, key: String, taskID: String) async throws {
        try await run(
            "DELETE FROM task_idempotency WHERE namespace = ? AND function = ? AND key = ? AND task_id = ?", [namespace, function, key, taskID])
    }

    /// Forgets keys older than the window (they no longer hold anything).
    public func pruneIdempotencyKeys(before: Date) async throws {
        try await run("DELETE FROM task_idempotency WHERE created_at < ?", [before.timeIntervalSince1970])
    }
}
