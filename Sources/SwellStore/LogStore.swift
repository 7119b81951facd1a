import Foundation
import GRDB
import SwellModel
import Synchronization

/// A page of log lines to read.
public struct LogQuery: Sendable, Equatable {
    public var namespace: String
    public var function: String
    /// Only lines with a larger id (a cursor from an earlier page).
    public var after: Int64
    public var limit: Int
    public var requestID: String?
    /// Only lines written at or after this time.
    public var since: Date?
    /// The newest `limit` lines (still returned oldest first) instead of the oldest after the cursor.
    public var newest: Bool

    public init(namespace: String, function: String, after: Int64 = 0, limit: Int = 1000, requestID: String? = nil, since: Date? = nil, newest: Bool = false) {
        self.namespace = namespace
        self.function = function
        self.after = after
        self.limit = limit
        self.requestID = requestID
        self.since = since
        self.newest = newest
    }
}

/// How much of the log database retention removed.
public struct LogPruneReport: Sendable, Equatable {
    public var expiredLines = 0
    public var trimmedLines = 0
    /// Pages in use plus the write-ahead log after pruning.
    public var databaseBytes = 0
}

/// Function log lines in a database of their own (`logs.db`), so that logging at volume never
/// competes with the control plane's writes and the file's size can be bounded by itself.
///
/// Each function is a stream (`log_streams`) with running totals (lines, bytes) and counters of
/// what was not stored; lines are indexed by stream and id (paging, newest first) and by stream
/// and time (`since`). Retention (`prune`) reads only the small stream table to decide, then
/// deletes the oldest lines of the streams above their allowance, in short transactions.
///
/// All access is async: GRDB runs it on its own queues, never on the caller's thread.
///
/// ```swift
/// let logs = try LogStore(path: "/var/lib/swell/logs.db")
/// let page = try await logs.lines(LogQuery(namespace: "default", function: "hello", newest: true))
/// ```
public final class LogStore: LogStorage, Sendable {
    let db: any DatabaseWriter
    private let streams = Mutex<[LogStreamKey: Int64]>([:])

    /// Bytes accounted per line beyond its message (row, id, time, names and index entries).
    public static let rowOverhead = 96

    /// Opens (creating and migrating) the database at `path`.
    /// - Parameter walLimitBytes: the write-ahead log is checkpointed once it holds this much,
    ///   and truncated back to it afterwards (a single larger transaction still fits).
    public convenience init(path: String, walLimitBytes: Int = 4 << 20) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            guard !db.configuration.readonly else { return }
            // Only takes effect on a new file: lets pruning hand free pages back to the file system.
            try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(max(16, walLimitBytes / 4096))")
            try db.execute(sql: "PRAGMA journal_size_limit = \(walLimitBytes)")
        }
        try self.init(writer: DatabasePool(path: path, configuration: config))
    }

    /// An in-memory database, for tests.
    public static func inMemory() throws -> LogStore {
        try LogStore(writer: DatabaseQueue())
    }

    init(writer: any DatabaseWriter) throws {
        db = writer
        try Self.migrator.migrate(writer)
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-logs") { db in
            try db.execute(sql: """
                CREATE TABLE log_streams (
                    id INTEGER PRIMARY KEY, namespace TEXT NOT NULL, function TEXT NOT NULL,
                    lines INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,
                    rate_limited_lines INTEGER NOT NULL DEFAULT 0, rate_limited_bytes INTEGER NOT NULL DEFAULT 0,
                    queue_full_lines INTEGER NOT NULL DEFAULT 0, queue_full_bytes INTEGER NOT NULL DEFAULT 0,
                    cut_lines INTEGER NOT NULL DEFAULT 0, pruned_lines INTEGER NOT NULL DEFAULT 0,
                    UNIQUE (namespace, function));
                CREATE TABLE logs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, fn INTEGER NOT NULL, time DOUBLE NOT NULL, version TEXT NOT NULL,
                    instance TEXT NOT NULL, request_id TEXT, stream TEXT NOT NULL, message TEXT NOT NULL, size INTEGER NOT NULL);
                CREATE INDEX logs_by_function ON logs (fn, id);
                CREATE INDEX logs_by_function_time ON logs (fn, time);
                CREATE INDEX logs_by_request ON logs (fn, request_id) WHERE request_id IS NOT NULL;
                """)
        }
        return m
    }

    /// The accounted size of a line.
    public static func size(of message: String) -> Int {
        message.utf8.count + rowOverhead
    }

    // MARK: Writing

    /// Stores `lines` and adds `drops` to the streams' counters, in one transaction.
    /// - Returns: the lines with their ids.
    public func append(_ lines: [LogLine], drops: [LogStreamKey: LogDrops]) async throws -> [LogLine] {
        guard !lines.isEmpty || !drops.isEmpty else { return [] }
        let known = streams.withLock { $0 }
        let (stored, created) = try await db.write { db -> ([LogLine], [LogStreamKey: Int64]) in
            var ids = known
            var created: [LogStreamKey: Int64] = [:]
            func stream(_ namespace: String, _ function: String) throws -> Int64 {
                let key = LogStreamKey(namespace: namespace, function: function)
                if let id = ids[key] { return id }
                try db.execute(
                    sql: "INSERT OR IGNORE INTO log_streams (namespace, function) VALUES (?, ?)", arguments: [namespace, function])
                let id = try Int64.fetchOne(
                    db, sql: "SELECT id FROM log_streams WHERE namespace = ? AND function = ?", arguments: [namespace, function])!
                ids[key] = id
                created[key] = id
                return id
            }
            let insert = try db.cachedStatement(sql: """
                INSERT INTO logs (fn, time, version, instance, request_id, stream, message, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
            var totals: [Int64: (lines: Int, bytes: Int)] = [:]
            var stored = lines
            for i in stored.indices {
                let l = stored[i]
                let fn = try stream(l.namespace, l.function)
                let size = Self.size(of: l.message)
                try insert.execute(arguments: [fn, l.time.timeIntervalSince1970, l.version, l.instance, l.requestID, l.stream, l.message, size])
                stored[i].id = db.lastInsertedRowID
                totals[fn, default: (0, 0)].lines += 1
                totals[fn, default: (0, 0)].bytes += size
            }
            let count = try db.cachedStatement(sql: "UPDATE log_streams SET lines = lines + ?, bytes = bytes + ? WHERE id = ?")
            for (fn, t) in totals { try count.execute(arguments: [t.lines, t.bytes, fn]) }
            let dropped = try db.cachedStatement(sql: """
                UPDATE log_streams SET rate_limited_lines = rate_limited_lines + ?, rate_limited_bytes = rate_limited_bytes + ?,
                    queue_full_lines = queue_full_lines + ?, queue_full_bytes = queue_full_bytes + ?, cut_lines = cut_lines + ?
                WHERE id = ?
                """)
            for (key, d) in drops {
                let fn = try stream(key.namespace, key.function)
                try dropped.execute(arguments: [d.rateLimitedLines, d.rateLimitedBytes, d.queueFullLines, d.queueFullBytes, d.cutLines, fn])
            }
            return (stored, created)
        }
        if !created.isEmpty { streams.withLock { $0.merge(created) { a, _ in a } } }
        return stored
    }

    // MARK: Reading

    /// A page of lines, oldest first.
    public func lines(_ q: LogQuery) async throws -> [LogLine] {
        try await db.read { db in
            guard let fn = try Int64.fetchOne(
                db, sql: "SELECT id FROM log_streams WHERE namespace = ? AND function = ?", arguments: [q.namespace, q.function])
            else { return [] }
            var after = q.after
            if let since = q.since {
                guard let first = try Int64.fetchOne(
                    db, sql: "SELECT id FROM logs WHERE fn = ? AND time >= ? ORDER BY time LIMIT 1",
                    arguments: [fn, since.timeIntervalSince1970])
                else { return [] }
                after = max(after, first - 1)
            }
            var sql = "SELECT * FROM logs WHERE fn = ? AND id > ?"
            var args: StatementArguments = [fn, after]
            if let rid = q.requestID {
                sql += " AND request_id = ?"
                _ = args.append(contentsOf: [rid])
            }
            sql += q.newest ? " ORDER BY id DESC LIMIT ?" : " ORDER BY id LIMIT ?"
            _ = args.append(contentsOf: [q.limit])
            let rows = try Row.fetchAll(db, sql: sql, arguments: args).map { row in
                LogLine(
                    id: row["id"], time: Date(timeIntervalSince1970: row["time"]), namespace: q.namespace, function: q.function,
                    version: row["version"], instance: row["instance"], requestID: row["request_id"], stream: row["stream"],
                    message: row["message"])
            }
            return q.newest ? rows.reversed() : rows
        }
    }

    /// What was not stored (or was removed) of a function's output since its logs began.
    public func drops(namespace: String, function: String) async throws -> LogDrops {
        try await db.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT * FROM log_streams WHERE namespace = ? AND function = ?", arguments: [namespace, function])
            else { return LogDrops() }
            return LogDrops(
                rateLimitedLines: row["rate_limited_lines"], rateLimitedBytes: row["rate_limited_bytes"],
                queueFullLines: row["queue_full_lines"], queueFullBytes: row["queue_full_bytes"], cutLines: row["cut_lines"],
                prunedLines: row["pruned_lines"])
        }
    }

    /// Lines and accounted bytes stored per function.
    public func usage() async throws -> [(key: LogStreamKey, lines: Int, bytes: Int)] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT namespace, function, lines, bytes FROM log_streams ORDER BY namespace, function").map {
                (LogStreamKey(namespace: $0["namespace"], function: $0["function"]), $0["lines"], $0["bytes"])
            }
        }
    }

    /// Pages in use plus the write-ahead log: what the database occupies once free pages are returned.
    public func databaseBytes() async throws -> Int {
        let wal = walPath
        return try await db.read { db in
            let attributes = wal.flatMap { try? FileManager.default.attributesOfItem(atPath: $0) }
            return try Self.usedBytes(db) + ((attributes?[.size] as? Int) ?? 0)
        }
    }

    static func usedBytes(_ db: Database) throws -> Int {
        let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
        let free = try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
        let size = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
        return (pages - free) * size
    }

    private var walPath: String? {
        (db as? DatabasePool).map { $0.path + "-wal" }
    }

    // MARK: Retention

    /// Removes lines older than the policy's age, then the oldest lines of every function above
    /// its allowance (see `LogRetentionPolicy.allowances`), in transactions of at most `batch`
    /// lines so that writers are never held up for long; then returns free pages to the file
    /// system and truncates the write-ahead log.
    @discardableResult
    public func prune(_ policy: LogRetentionPolicy, now: Date, batch: Int) async throws -> LogPruneReport {
        var report = LogPruneReport()
        let cutoff = now.timeIntervalSince1970 - policy.maxAge
        let all = try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT id, namespace, bytes FROM log_streams").map {
                LogRetentionPolicy.Stream(id: $0["id"], namespace: $0["namespace"], bytes: $0["bytes"])
            }
        }
        for stream in all {
            while true {
                let removed = try await db.write { db -> Int in
                    let rows = try Row.fetchAll(
                        db, sql: "SELECT id, size FROM logs WHERE fn = ? AND time < ? ORDER BY time LIMIT ?",
                        arguments: [stream.id, cutoff, batch])
                    return try Self.delete(rows, stream: stream.id, prefix: false, db)
                }
                report.expiredLines += removed
                if removed < batch { break }
            }
        }

        let current = try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT id, namespace, bytes FROM log_streams").map {
                LogRetentionPolicy.Stream(id: $0["id"], namespace: $0["namespace"], bytes: $0["bytes"])
            }
        }
        let allowances = policy.allowances(current, fileBytes: try await databaseBytes())
        for (id, allowance) in allowances {
            var excess = (current.first { $0.id == id }?.bytes ?? 0) - allowance
            while excess > 0 {
                let wanted = excess
                let (removed, bytes) = try await db.write { db -> (Int, Int) in
                    let rows = try Row.fetchAll(db, sql: "SELECT id, size FROM logs WHERE fn = ? ORDER BY id LIMIT ?", arguments: [id, batch])
                    var chosen: [Row] = []
                    var bytes = 0
                    for row in rows where bytes < wanted {
                        chosen.append(row)
                        bytes += row["size"] as Int
                    }
                    return (try Self.delete(chosen, stream: id, prefix: true, db), bytes)
                }
                report.trimmedLines += removed
                excess -= bytes
                if removed == 0 { break }
            }
        }

        try await db.writeWithoutTransaction { db in
            let free = try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
            if free > 0 { try db.execute(sql: "PRAGMA incremental_vacuum(\(free))") }
            // Readers may hold the log back; what cannot be truncated now is next time.
            _ = try? db.checkpoint(.truncate)
        }
        report.databaseBytes = try await databaseBytes()
        return report
    }

    /// Deletes the given rows (`id`, `size`) of one stream and updates its totals; `prefix` says
    /// they are the stream's oldest lines by id, deleted with one range.
    private static func delete(_ rows: [Row], stream: Int64, prefix: Bool, _ db: Database) throws -> Int {
        let ids = rows.map { $0["id"] as Int64 }
        guard let last = ids.max() else { return 0 }
        let bytes = rows.reduce(0) { $0 + ($1["size"] as Int) }
        if prefix {
            try db.execute(sql: "DELETE FROM logs WHERE fn = ? AND id <= ?", arguments: [stream, last])
        } else {
            let statement = try db.cachedStatement(sql: "DELETE FROM logs WHERE id = ?")
            for id in ids { try statement.execute(arguments: [id]) }
        }
        try db.execute(
            sql: "UPDATE log_streams SET lines = lines - ?, bytes = bytes - ?, pruned_lines = pruned_lines + ? WHERE id = ?",
            arguments: [ids.count, bytes, ids.count, stream])
        return ids.count
    }
}
