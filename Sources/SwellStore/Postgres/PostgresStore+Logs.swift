import Foundation
import PostgresNIO
import SwellModel

extension PostgresStore: LogStorage {
    public func append(_ lines: [LogLine], drops: [LogStreamKey: LogDrops]) async throws -> [LogLine] {
        guard !lines.isEmpty || !drops.isEmpty else { return [] }
        var ids = streams.withLock { $0 }
        // Streams are created outside the transaction (once per function, ever).
        for key in Set(lines.map { LogStreamKey(namespace: $0.namespace, function: $0.function) }).union(drops.keys) where ids[key] == nil {
            ids[key] = try await stream(key)
        }
        let known = ids
        streams.withLock { $0.merge(known) { a, _ in a } }
        return try await transaction { c in
            var stored = lines
            if !lines.isEmpty {
                let fns = lines.map { known[LogStreamKey(namespace: $0.namespace, function: $0.function)]! }
                let sizes = lines.map { Int64(LogStore.size(of: $0.message)) }
                let inserted = try await c.rows(
                    """
                    INSERT INTO logs (fn, time, version, instance, request_id, stream, message, size)
                    SELECT fn, t, v, i, NULLIF(r, ''), s, m, z
                    FROM unnest(?::int8[], ?::float8[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int8[])
                        WITH ORDINALITY AS x(fn, t, v, i, r, s, m, z, n)
                    ORDER BY n RETURNING id
                    """,
                    [
                        fns, lines.map(\.time.timeIntervalSince1970), lines.map(\.version), lines.map(\.instance),
                        lines.map { $0.requestID ?? "" }, lines.map(\.stream), lines.map(\.message), sizes,
                    ])
                // Ids come from one sequence in insertion order: sorted, they match the lines in order.
                let newIDs = try inserted.map { try $0.decode("id", as: Int64.self) }.sorted()
                for i in stored.indices { stored[i].id = newIDs[i] }
                var totals: [Int64: (lines: Int64, bytes: Int64)] = [:]
                for (fn, size) in zip(fns, sizes) {
                    totals[fn, default: (0, 0)].lines += 1
                    totals[fn, default: (0, 0)].bytes += size
                }
                for (fn, t) in totals.sorted(by: { $0.key < $1.key }) {
                    try await c.run("UPDATE log_streams SET lines = lines + ?, bytes = bytes + ? WHERE id = ?", [t.lines, t.bytes, fn])
                }
            }
            for (key, d) in drops.sorted(by: { ($0.key.namespace, $0.key.function) < ($1.key.namespace, $1.key.function) }) {
                try await c.run(
                    """
                    UPDATE log_streams SET rate_limited_lines = rate_limited_lines + ?, rate_limited_bytes = rate_limited_bytes + ?,
                        queue_full_lines = queue_full_lines + ?, queue_full_bytes = queue_full_bytes + ?, cut_lines = cut_lines + ?
                    WHERE id = ?
                    """,
                    [d.rateLimitedLines, d.rateLimitedBytes, d.queueFullLines, d.queueFullBytes, d.cutLines, known[key]!])
            }
            return stored
        }
    }

    private func stream(_ key: LogStreamKey) async throws -> Int64 {
        try await run(
            "INSERT INTO log_streams (namespace, function) VALUES (?, ?) ON CONFLICT (namespace, function) DO NOTHING",
            [key.namespace, key.function])
        return try await rows("SELECT id FROM log_streams WHERE namespace = ? AND function = ?", [key.namespace, key.function])[0]
            .decode("id", as: Int64.self)
    }

    public func lines(_ q: LogQuery) async throws -> [LogLine] {
        guard let fn = try await rows(
            "SELECT id FROM log_streams WHERE namespace = ? AND function = ?", [q.namespace, q.function]
        ).first?.decode("id", as: Int64.self) else { return [] }
        var after = q.after
        if let since = q.since {
            guard let first = try await rows(
                "SELECT id FROM logs WHERE fn = ? AND time >= ? ORDER BY time LIMIT 1", [fn, since.timeIntervalSince1970]
            ).first?.decode("id", as: Int64.self) else { return [] }
            after = max(after, first - 1)
        }
        var sql = "SELECT * FROM logs WHERE fn = ? AND id > ?"
        var args: [(any PostgresThrowingDynamicTypeEncodable)?] = [fn, after]
        if let rid = q.requestID {
            sql += " AND request_id = ?"
            args.append(rid)
        }
        sql += q.newest ? " ORDER BY id DESC LIMIT ?" : " ORDER BY id LIMIT ?"
        args.append(q.limit)
        let result = try await rows(sql, args).map { row in
            LogLine(
                id: try row.decode("id"), time: try row.date("time"), namespace: q.namespace, function: q.function,
                version: try row.decode("version"), instance: try row.decode("instance"), requestID: try row.decode("request_id"),
                stream: try row.decode("stream"), message: try row.decode("message"))
        }
        return q.newest ? result.reversed() : result
    }

    public func drops(namespace: String, function: String) async throws -> LogDrops {
        guard let row = try await rows("SELECT * FROM log_streams WHERE namespace = ? AND function = ?", [namespace, function]).first else {
            return LogDrops()
        }
        return LogDrops(
            rateLimitedLines: try row.decode("rate_limited_lines"), rateLimitedBytes: try row.decode("rate_limited_bytes"),
            queueFullLines: try row.decode("queue_full_lines"), queueFullBytes: try row.decode("queue_full_bytes"),
            cutLines: try row.decode("cut_lines"), prunedLines: try row.decode("pruned_lines"))
    }

    public func usage() async throws -> [(key: LogStreamKey, lines: Int, bytes: Int)] {
        try await rows("SELECT namespace, function, lines, bytes FROM log_streams ORDER BY namespace, function", []).map {
            (key: LogStreamKey(namespace: try $0.decode("namespace"), function: try $0.decode("function")),
             lines: try $0.decode("lines", as: Int.self), bytes: try $0.decode("bytes", as: Int.self))
        }
    }

    /// The log tables with their indexes, as PostgreSQL counts them.
    public func databaseBytes() async throws -> Int {
        try await rows(
            "SELECT (pg_total_relation_size('logs') + pg_total_relation_size('log_streams'))::int8 AS n", []
        )[0].decode("n", as: Int.self)
    }

    /// As the SQLite store's: expired lines first, then the oldest lines of the functions
    /// above their allowance (the table's size standing for the file's), in short transactions.
    @discardableResult
    public func prune(_ policy: LogRetentionPolicy, now: Date, batch: Int) async throws -> LogPruneReport {
        var report = LogPruneReport()
        let cutoff = now.timeIntervalSince1970 - policy.maxAge
        for stream in try await streamsForRetention() {
            while true {
                let removed = try await deleteLines(
                    stream: stream.id, "SELECT id, size FROM logs WHERE fn = ? AND time < ? ORDER BY time LIMIT ?", [stream.id, cutoff, batch])
                report.expiredLines += removed.lines
                if removed.lines < batch { break }
            }
        }
        let current = try await streamsForRetention()
        let allowances = policy.allowances(current, fileBytes: try await databaseBytes())
        for (id, allowance) in allowances.sorted(by: { $0.key < $1.key }) {
            var excess = (current.first { $0.id == id }?.bytes ?? 0) - allowance
            while excess > 0 {
                // The oldest lines whose running total first covers the excess.
                let removed = try await deleteLines(
                    stream: id,
                    """
                    SELECT id, size FROM (
                        SELECT id, size, SUM(size) OVER (ORDER BY id) - size AS before FROM (
                            SELECT id, size FROM logs WHERE fn = ? ORDER BY id LIMIT ?) AS oldest) AS running
                    WHERE before < ?
                    """,
                    [id, batch, excess])
                report.trimmedLines += removed.lines
                excess -= removed.bytes
                if removed.lines == 0 { break }
            }
        }
        report.databaseBytes = try await databaseBytes()
        return report
    }

    private func streamsForRetention() async throws -> [LogRetentionPolicy.Stream] {
        try await rows("SELECT id, namespace, bytes FROM log_streams", []).map {
            LogRetentionPolicy.Stream(id: try $0.decode("id"), namespace: try $0.decode("namespace"), bytes: try $0.decode("bytes"))
        }
    }

    /// Deletes the lines the query selects (`id`, `size`) and updates the stream's totals, in one transaction.
    private func deleteLines(
        stream: Int64, _ select: String, _ arguments: [(any PostgresThrowingDynamicTypeEncodable)?]
    ) async throws -> (lines: Int, bytes: Int) {
        try await transaction { c -> (lines: Int, bytes: Int) in
            let rows = try await c.rows(select, arguments)
            let ids = try rows.map { try $0.decode("id", as: Int64.self) }
            guard !ids.isEmpty else { return (0, 0) }
            let bytes = try rows.reduce(0) { $0 + (try $1.decode("size", as: Int.self)) }
            try await c.run("DELETE FROM logs WHERE id = ANY(?::int8[])", [ids])
            try await c.run(
                "UPDATE log_streams SET lines = lines - ?, bytes = bytes - ?, pruned_lines = pruned_lines + ? WHERE id = ?",
                [ids.count, bytes, ids.count, stream])
            return (ids.count, bytes)
        }
    }
}
