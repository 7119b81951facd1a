import Foundation
import GRDB
import SwellModel

/// The embedded `UsageStore`: `usage.db` beside the control plane's database, in WAL mode.
///
/// One row per hour, namespace, function and version (`usage_hours`); the latency histogram
/// is a BLOB in `LatencyHistogram.encoded` form. All access is async on GRDB's queues.
///
/// ```swift
/// let usage = try SQLiteUsageStore(path: "/var/lib/swell/usage.db")
/// try await usage.add(accumulator.take())
/// ```
public final class SQLiteUsageStore: UsageStore, Sendable {
    let db: any DatabaseWriter

    /// Opens (creating and migrating) the database at `path`.
    public convenience init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            guard !db.configuration.readonly else { return }
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        try self.init(writer: DatabasePool(path: path, configuration: config))
    }

    /// An in-memory database, for tests.
    public static func inMemory() throws -> SQLiteUsageStore {
        try SQLiteUsageStore(writer: DatabaseQueue())
    }

    init(writer: any DatabaseWriter) throws {
        db = writer
        var m = DatabaseMigrator()
        m.registerMigration("v1-usage") { db in
            try db.execute(sql: """
                CREATE TABLE usage_hours (
                    hour INTEGER NOT NULL, namespace TEXT NOT NULL, function TEXT NOT NULL, version TEXT NOT NULL,
                    invocations INTEGER NOT NULL, errors INTEGER NOT NULL, cold_starts INTEGER NOT NULL,
                    billed_ms INTEGER NOT NULL, mb_ms INTEGER NOT NULL, peak_instances INTEGER NOT NULL,
                    memory_mb INTEGER NOT NULL, latency BLOB NOT NULL,
                    PRIMARY KEY (namespace, hour, function, version)) WITHOUT ROWID;
                CREATE TABLE prices (
                    id INTEGER PRIMARY KEY CHECK (id = 1), per_gb_second DOUBLE NOT NULL,
                    per_million_requests DOUBLE NOT NULL, always_on_per_gb_hour DOUBLE NOT NULL);
                """)
        }
        try m.migrate(writer)
    }

    public func add(_ deltas: [UsageRecord]) async throws {
        guard !deltas.isEmpty else { return }
        try await db.write { db in
            let select = try db.makeStatement(sql: """
                SELECT invocations, errors, cold_starts, billed_ms, mb_ms, peak_instances, memory_mb, latency FROM usage_hours
                WHERE namespace = ? AND hour = ? AND function = ? AND version = ?
                """)
            let upsert = try db.makeStatement(sql: """
                INSERT OR REPLACE INTO usage_hours
                (hour, namespace, function, version, invocations, errors, cold_starts, billed_ms, mb_ms, peak_instances, memory_mb, latency)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for delta in deltas {
                let k = delta.key
                var c = delta.counters
                if let row = try Row.fetchOne(select, arguments: [k.namespace, k.hour, k.function, k.version]) {
                    c.merge(Self.counters(row))
                }
                try upsert.execute(arguments: [
                    k.hour, k.namespace, k.function, k.version, c.invocations, c.errors, c.coldStarts, c.billedMs, c.mbMs,
                    c.peakInstances, c.memoryMB, Data(c.latency.encoded),
                ])
            }
        }
    }

    static func counters(_ row: Row) -> UsageCounters {
        let blob: Data = row["latency"] ?? Data()
        return UsageCounters(
            invocations: row["invocations"], errors: row["errors"], coldStarts: row["cold_starts"], billedMs: row["billed_ms"],
            mbMs: row["mb_ms"], peakInstances: row["peak_instances"], memoryMB: row["memory_mb"],
            latency: LatencyHistogram(encoded: blob) ?? LatencyHistogram())
    }

    public func usage(namespace: String?, function: String?, fromHour: Int64, toHour: Int64) async throws -> [UsageRecord] {
        try await db.read { db in
            var sql = "SELECT * FROM usage_hours WHERE hour >= ? AND hour < ?"
            var arguments: StatementArguments = [fromHour, toHour]
            if let namespace {
                sql += " AND namespace = ?"
                arguments += [namespace]
            }
            if let function {
                sql += " AND function = ?"
                arguments += [function]
            }
            sql += " ORDER BY namespace, hour, function, version"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                UsageRecord(
                    key: UsageKey(hour: row["hour"], namespace: row["namespace"], function: row["function"], version: row["version"]),
                    counters: Self.counters(row))
            }
        }
    }

    public func prices() async throws -> PriceTable? {
        try await db.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM prices WHERE id = 1").map { row in
                PriceTable(
                    perGBSecond: row["per_gb_second"], perMillionRequests: row["per_million_requests"],
                    alwaysOnPerGBHour: row["always_on_per_gb_hour"])
            }
        }
    }

    public func setPrices(_ prices: PriceTable) async throws {
        try await db.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO prices (id, per_gb_second, per_million_requests, always_on_per_gb_hour) VALUES (1, ?, ?, ?)",
                arguments: [prices.perGBSecond, prices.perMillionRequests, prices.alwaysOnPerGBHour])
        }
    }
}
