import Foundation
import GRDB
import SwellModel

/// A change to the task tables; the journal applies many in one transaction (one fsync).
public enum TaskWrite: Sendable {
    case insert(TaskRecord)
    /// An attempt began: the task is running and the attempt is recorded.
    case started(TaskAttempt, starts: Int)
    /// An attempt ended.
    case attemptFinished(TaskAttempt)
    /// The task's state changed (queued again for a retry, or final).
    case state(id: String, state: TaskState, attempts: Int, runAt: Date, finishedAt: Date?, result: Data?, error: Data?, at: Date)
    /// A finished task is run again: queued now, attempts and age counted afresh.
    case redrive(id: String, at: Date)
    /// Retention: finished tasks (and their attempts) older than the date go.
    case purge(finishedBefore: Date)
}

/// Per-namespace settings of the async queue.
public struct NamespaceTaskLimits: Sendable, Codable, Hashable {
    /// Tasks started per second (nil: unlimited) and the bucket's burst.
    public var ratePerSecond: Double?
    public var burst: Double?
    /// Share of dispatch relative to other namespaces (default 1).
    public var weight: Double

    public init(ratePerSecond: Double? = nil, burst: Double? = nil, weight: Double = 1) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        self.weight = weight
    }
}

/// Counts of tasks per state.
public typealias TaskSummary = [TaskState: Int]

/// The async task tables in their own SQLite database (`tasks.db`, WAL, `synchronous=FULL`),
/// apart from the control plane so that the queue's group commits never wait on it.
public final class TaskStore: TaskStorage, Sendable {
    let db: any DatabaseWriter

    public convenience init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        try self.init(writer: DatabasePool(path: path, configuration: config))
    }

    public static func inMemory() throws -> TaskStore { try TaskStore(writer: DatabaseQueue()) }

    init(writer: any DatabaseWriter) throws {
        db = writer
        var m = DatabaseMigrator()
        m.registerMigration("v1-tasks") { db in
            try db.execute(sql: """
                CREATE TABLE tasks (
                    id TEXT PRIMARY KEY, namespace TEXT NOT NULL, function TEXT NOT NULL, qualifier TEXT NOT NULL,
                    state TEXT NOT NULL, priority INTEGER NOT NULL, payload BLOB NOT NULL, idempotency_key TEXT,
                    timeout INTEGER, created_at DOUBLE NOT NULL, run_at DOUBLE NOT NULL, attempts INTEGER NOT NULL,
                    starts INTEGER NOT NULL, updated_at DOUBLE NOT NULL, finished_at DOUBLE, result BLOB, error BLOB);
                CREATE INDEX tasks_by_function ON tasks (namespace, function, created_at);
                CREATE INDEX tasks_by_state ON tasks (namespace, state, created_at);
                CREATE INDEX tasks_pending ON tasks (state) WHERE state IN ('queued', 'running');
                CREATE INDEX tasks_idempotency ON tasks (namespace, function, idempotency_key) WHERE idempotency_key IS NOT NULL;
                CREATE TABLE task_attempts (
                    task_id TEXT NOT NULL, number INTEGER NOT NULL, request_id TEXT NOT NULL, started_at DOUBLE NOT NULL,
                    finished_at DOUBLE, outcome TEXT, error_type TEXT, error BLOB, queue_delay_ms DOUBLE NOT NULL,
                    duration_ms DOUBLE, cold_start INTEGER NOT NULL, PRIMARY KEY (task_id, number));
                CREATE TABLE namespace_limits (namespace TEXT PRIMARY KEY, settings TEXT NOT NULL);
                """)
        }
        // The newest tasks of a namespace, unfiltered (the console's task list), without
        // sorting the whole namespace: one index walk whatever the number of tasks.
        m.registerMigration("v2-tasks-by-namespace") { db in
            try db.execute(sql: "CREATE INDEX tasks_by_namespace ON tasks (namespace, created_at, id)")
        }
        m.registerMigration("v3-trace-parent") { db in
            try db.execute(sql: "ALTER TABLE tasks ADD COLUMN trace_parent TEXT")
        }
        try m.migrate(writer)
    }

    // MARK: Writes

    /// Applies the writes in one transaction: when this returns, they are on disk.
    /// Statements are prepared once per connection and reused (a busy queue applies
    /// thousands of writes a second).
    public func apply(_ writes: [TaskWrite]) async throws {
        try await db.write { db in try Self.apply(writes, db) }
    }

    /// `apply`, on the caller's thread (the task journal's own thread, which exists to wait
    /// for commits).
    public func applyBlocking(_ writes: [TaskWrite]) throws {
        try db.write { db in try Self.apply(writes, db) }
    }

    static func apply(_ writes: [TaskWrite], _ db: Database) throws {
        for step in TaskWriteStep.plan(writes) {
            switch step {
            case .write(let w):
                try apply(w, db)
            case .attempt(let a):
                try putAttempt(a, db)
            case .startedAttempt(let a, let starts):
                try markRunning(a, starts: starts, db)
                try putAttempt(a, db)
            case .state(let w, let starts):
                try updateState(w, starts: starts, db)
            }
        }
    }

    /// A task's state row (`starts` too when a plan step carries it); any other write as `apply` does.
    private static func updateState(_ write: TaskWrite, starts: Int?, _ db: Database) throws {
        guard case .state(let id, let state, let attempts, let runAt, let finishedAt, let result, let error, let at) = write else {
            return try apply(write, db)
        }
        let sql = starts == nil
            ? "UPDATE tasks SET state = ?, attempts = ?, run_at = ?, finished_at = ?, result = ?, error = ?, updated_at = ? WHERE id = ?"
            : "UPDATE tasks SET state = ?, attempts = ?, run_at = ?, finished_at = ?, result = ?, error = ?, updated_at = ?, starts = ? WHERE id = ?"
        try SQLiteBinder.run(db.cachedStatement(sql: sql), db) { b in
            b.bind(state.rawValue)
            b.bind(attempts)
            b.bind(runAt)
            b.bind(finishedAt)
            b.bind(result)
            b.bind(error)
            b.bind(at)
            if let starts { b.bind(starts) }
            b.bind(id)
        }
    }

    /// An attempt's whole row (started, and ended when it has).
    /// (The journal's statements bind their values with `SQLiteBinder`, in the order of the placeholders.)
    static func putAttempt(_ a: TaskAttempt, _ db: Database) throws {
        try SQLiteBinder.run(db.cachedStatement(sql: """
            INSERT OR REPLACE INTO task_attempts (task_id, number, request_id, started_at, queue_delay_ms, cold_start, finished_at,
                outcome, error_type, error, duration_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """), db) { b in
                b.bind(a.taskID)
                b.bind(a.number)
                b.bind(a.requestID)
                b.bind(a.startedAt)
                b.bind(a.queueDelayMs)
                b.bind(a.coldStart)
                b.bind(a.finishedAt)
                b.bind(a.outcome)
                b.bind(a.errorType)
                b.bind(a.error)
                b.bind(a.durationMs)
            }
    }

    /// An attempt began: its task is running.
    static func markRunning(_ a: TaskAttempt, starts: Int, _ db: Database) throws {
        try SQLiteBinder.run(db.cachedStatement(sql: "UPDATE tasks SET state = 'running', starts = ?, updated_at = ? WHERE id = ?"), db) { b in
            b.bind(starts)
            b.bind(a.startedAt)
            b.bind(a.taskID)
        }
    }

    static func apply(_ w: TaskWrite, _ db: Database) throws {
        switch w {
        case .insert(let t):
            try SQLiteBinder.run(db.cachedStatement(sql: """
                INSERT INTO tasks (id, namespace, function, qualifier, state, priority, payload, idempotency_key, timeout,
                    created_at, run_at, attempts, starts, updated_at, finished_at, result, error, trace_parent)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """), db) { b in
                    b.bind(t.id)
                    b.bind(t.namespace)
                    b.bind(t.function)
                    b.bind(t.qualifier)
                    b.bind(t.state.rawValue)
                    b.bind(t.priority)
                    b.bind(t.payload)
                    b.bind(t.idempotencyKey)
                    b.bind(t.timeout)
                    b.bind(t.createdAt)
                    b.bind(t.runAt)
                    b.bind(t.attempts)
                    b.bind(t.starts)
                    b.bind(t.updatedAt)
                    b.bind(t.finishedAt)
                    b.bind(t.result)
                    b.bind(t.error)
                    b.bind(t.traceParent)
                }
        case .started(let a, let starts):
            try markRunning(a, starts: starts, db)
            try SQLiteBinder.run(db.cachedStatement(sql: """
                INSERT OR REPLACE INTO task_attempts (task_id, number, request_id, started_at, queue_delay_ms, cold_start)
                VALUES (?, ?, ?, ?, ?, 0)
                """), db) { b in
                    b.bind(a.taskID)
                    b.bind(a.number)
                    b.bind(a.requestID)
                    b.bind(a.startedAt)
                    b.bind(a.queueDelayMs)
                }
        case .attemptFinished(let a):
            try SQLiteBinder.run(db.cachedStatement(sql: """
                UPDATE task_attempts SET finished_at = ?, outcome = ?, error_type = ?, error = ?, duration_ms = ?, cold_start = ?
                WHERE task_id = ? AND number = ?
                """), db) { b in
                    b.bind(a.finishedAt)
                    b.bind(a.outcome)
                    b.bind(a.errorType)
                    b.bind(a.error)
                    b.bind(a.durationMs)
                    b.bind(a.coldStart)
                    b.bind(a.taskID)
                    b.bind(a.number)
                }
        case .state:
            try updateState(w, starts: nil, db)
        case .redrive(let id, let at):
            let t = at.timeIntervalSince1970
            try db.execute(
                sql: """
                    UPDATE tasks SET state = 'queued', attempts = 0, run_at = ?, created_at = ?, finished_at = NULL,
                        result = NULL, error = NULL, updated_at = ? WHERE id = ?
                    """,
                arguments: [t, t, t, id])
        case .purge(let before):
            let cutoff = before.timeIntervalSince1970
            try db.execute(
                sql: """
                    DELETE FROM task_attempts WHERE task_id IN
                        (SELECT id FROM tasks WHERE finished_at IS NOT NULL AND finished_at < ?)
                    """,
                arguments: [cutoff])
            try db.execute(sql: "DELETE FROM tasks WHERE finished_at IS NOT NULL AND finished_at < ?", arguments: [cutoff])
        }
    }

    public func setLimits(_ limits: NamespaceTaskLimits, namespace: String) async throws {
        let json = String(decoding: try JSONEncoder().encode(limits), as: UTF8.self)
        try await db.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO namespace_limits (namespace, settings) VALUES (?, ?)", arguments: [namespace, json])
        }
    }

    public func allLimits() async throws -> [String: NamespaceTaskLimits] {
        try await db.read { db in
            var out: [String: NamespaceTaskLimits] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT namespace, settings FROM namespace_limits") {
                let text: String = row["settings"]
                out[row["namespace"]] = try JSONDecoder().decode(NamespaceTaskLimits.self, from: Data(text.utf8))
            }
            return out
        }
    }

    // MARK: Recovery

    /// Tasks that must run (queued, or running when the server stopped). Attempts left
    /// open by a crash are closed as `interrupted`, so a re-run shows as an extra attempt.
    public func recover(at now: Date) async throws -> [TaskRecord] {
        try await db.write { db in
            try db.execute(
                sql: "UPDATE task_attempts SET finished_at = ?, outcome = 'interrupted' WHERE finished_at IS NULL",
                arguments: [now.timeIntervalSince1970])
            try db.execute(sql: "UPDATE tasks SET state = 'queued', updated_at = ? WHERE state = 'running'", arguments: [now.timeIntervalSince1970])
            return try Row.fetchAll(db, sql: "SELECT * FROM tasks WHERE state = 'queued' ORDER BY created_at").map(Self.task)
        }
    }

    /// Idempotency keys used since `since`, oldest first (loaded once at start; the hot path keeps them in memory).
    public func recentIdempotencyKeys(since: Date) async throws -> [StoredIdempotencyKey] {
        try await db.read { db in
            try Row.fetchAll(
                db, sql: "SELECT namespace, function, idempotency_key, id, created_at FROM tasks WHERE idempotency_key IS NOT NULL AND created_at >= ? ORDER BY created_at",
                arguments: [since.timeIntervalSince1970]
            ).map {
                StoredIdempotencyKey(
                    namespace: $0["namespace"], function: $0["function"], key: $0["idempotency_key"], taskID: $0["id"],
                    createdAt: Date(timeIntervalSince1970: $0["created_at"]))
            }
        }
    }

    // MARK: Queries

    public func task(id: String, namespace: String) async throws -> TaskRecord? {
        try await db.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tasks WHERE id = ? AND namespace = ?", arguments: [id, namespace]).map(Self.task)
        }
    }

    public func attempts(taskID: String) async throws -> [TaskAttempt] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM task_attempts WHERE task_id = ? ORDER BY number", arguments: [taskID]).map { r in
                TaskAttempt(
                    taskID: r["task_id"], number: r["number"], requestID: r["request_id"],
                    startedAt: Date(timeIntervalSince1970: r["started_at"]),
                    finishedAt: (r["finished_at"] as Double?).map { Date(timeIntervalSince1970: $0) }, outcome: r["outcome"],
                    errorType: r["error_type"], error: r["error"], queueDelayMs: r["queue_delay_ms"], durationMs: r["duration_ms"],
                    coldStart: r["cold_start"])
            }
        }
    }

    /// Newest first. `before` is the cursor of the last page (`createdAt|id` of its last task).
    public func list(
        namespace: String, function: String?, state: TaskState?, since: Date?, until: Date?, before: (Date, String)?, limit: Int
    ) async throws -> [TaskRecord] {
        let q = Self.listQuery(namespace: namespace, function: function, state: state, since: since, until: until, before: before, limit: limit)
        return try await db.read { db in try Row.fetchAll(db, sql: q.sql, arguments: q.sqliteArguments).map(Self.task) }
    }

    public func summary(namespace: String, function: String?) async throws -> TaskSummary {
        try await db.read { db in
            var sql = "SELECT state, COUNT(*) AS n FROM tasks WHERE namespace = ?"
            var args: [any DatabaseValueConvertible] = [namespace]
            if let function {
                sql += " AND function = ?"
                args.append(function)
            }
            sql += " GROUP BY state"
            var out: TaskSummary = [:]
            for s in TaskState.allCases { out[s] = 0 }
            for row in try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args.map(\.databaseValue))) {
                if let s = TaskState(rawValue: row["state"]) { out[s] = row["n"] }
            }
            return out
        }
    }

    static func task(_ r: Row) -> TaskRecord {
        TaskRecord(
            id: r["id"], namespace: r["namespace"], function: r["function"], qualifier: r["qualifier"],
            state: TaskState(rawValue: r["state"]) ?? .queued, priority: r["priority"], payload: r["payload"],
            idempotencyKey: r["idempotency_key"], timeout: r["timeout"], createdAt: Date(timeIntervalSince1970: r["created_at"]),
            runAt: Date(timeIntervalSince1970: r["run_at"]), attempts: r["attempts"], starts: r["starts"],
            updatedAt: Date(timeIntervalSince1970: r["updated_at"]),
            finishedAt: (r["finished_at"] as Double?).map { Date(timeIntervalSince1970: $0) }, result: r["result"], error: r["error"],
            traceParent: r["trace_parent"])
    }
}
