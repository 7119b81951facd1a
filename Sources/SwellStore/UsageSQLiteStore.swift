import Foundation
import GRDB
import SwellModel

/// The embedded `UsageStore`: `usage.db` beside the control plane's database, in WAL mode.
///
/// Tables: `usage_hours` (a version's hour), `usage_namespace_hours` and `usage_function_days`
/// (roll-ups kept by `add` in the same transaction), `prices`. Latency histograms are BLOBs in
/// `LatencyHistogram.encoded` form. All access is async on GRDB's queues.
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

    static let counterColumns = """
        invocations INTEGER NOT NULL, errors INTEGER NOT NULL, cold_starts INTEGER NOT NULL,
        billed_ms INTEGER NOT NULL, mb_ms INTEGER NOT NULL, peak_instances INTEGER NOT NULL,
        memory_mb INTEGER NOT NULL, always_on_mb_hours INTEGER NOT NULL, latency BLOB NOT NULL
        """

    init(writer: any DatabaseWriter) throws {
        db = writer
        var m = DatabaseMigrator()
        m.registerMigration("v1-usage") { db in
            try db.execute(sql: """
                CREATE TABLE usage_hours (
                    hour INTEGER NOT NULL, namespace TEXT NOT NULL, function TEXT NOT NULL, version TEXT NOT NULL,
                    \(Self.counterColumns),
                    PRIMARY KEY (namespace, hour, function, version)) WITHOUT ROWID;
                CREATE INDEX usage_hours_by_function ON usage_hours (namespace, function, hour);
                CREATE TABLE usage_namespace_hours (
                    hour INTEGER NOT NULL, namespace TEXT NOT NULL, \(Self.counterColumns),
                    PRIMARY KEY (namespace, hour)) WITHOUT ROWID;
                CREATE TABLE usage_function_days (
                    day INTEGER NOT NULL, namespace TEXT NOT NULL, function TEXT NOT NULL, \(Self.counterColumns),
                    PRIMARY KEY (namespace, day, function)) WITHOUT ROWID;
                CREATE INDEX usage_function_days_by_function ON usage_function_days (namespace, function, day);
                CREATE TABLE prices (
                    id INTEGER PRIMARY KEY CHECK (id = 1), per_gb_second DOUBLE NOT NULL,
                    per_million_requests DOUBLE NOT NULL, always_on_per_gb_hour DOUBLE NOT NULL);
                """)
        }
        try m.migrate(writer)
    }

    // MARK: Writing

    public func add(_ deltas: [UsageRecord]) async throws {
        guard !deltas.isEmpty else { return }
        try await db.write { db in
            let version = try Table(db, "usage_hours", keys: ["namespace", "hour", "function", "version"])
            let namespaceHour = try Table(db, "usage_namespace_hours", keys: ["namespace", "hour"])
            let functionDay = try Table(db, "usage_function_days", keys: ["namespace", "day", "function"])
            let functionHourPeak = try db.makeStatement(
                sql: "SELECT COALESCE(SUM(peak_instances), 0) FROM usage_hours WHERE namespace = ? AND hour = ? AND function = ?")
            for delta in deltas {
                let k = delta.key
                let versionKey: [any DatabaseValueConvertible] = [k.namespace, k.hour, k.function, k.version]
                let old = try version.fetch(versionKey)
                var merged = old ?? UsageCounters(
                    invocations: 0, errors: 0, coldStarts: 0, billedMs: 0, mbMs: 0, peakInstances: 0, memoryMB: 0)
                merged.merge(delta.counters)
                try version.store(versionKey, merged)
                // What the version's hour added to the roll-ups: its totals, and the change of
                // its peak and always-on figure.
                let peakChange = merged.peakInstances - (old?.peakInstances ?? 0)
                let alwaysOnChange = merged.alwaysOnMBHours - (old?.alwaysOnMBHours ?? 0)

                let nsKey: [any DatabaseValueConvertible] = [k.namespace, k.hour]
                var ns = try namespaceHour.fetch(nsKey) ?? UsageCounters()
                ns.addTotals(delta.counters)
                ns.peakInstances += peakChange
                ns.alwaysOnMBHours += alwaysOnChange
                ns.memoryMB = max(ns.memoryMB, merged.memoryMB)
                try namespaceHour.store(nsKey, ns)

                let dayKey: [any DatabaseValueConvertible] = [k.namespace, UsageHour.day(of: k.hour), k.function]
                var day = try functionDay.fetch(dayKey) ?? UsageCounters()
                day.addTotals(delta.counters)
                day.alwaysOnMBHours += alwaysOnChange
                day.memoryMB = max(day.memoryMB, merged.memoryMB)
                let hourPeak = try Int64.fetchOne(functionHourPeak, arguments: [k.namespace, k.hour, k.function]) ?? 0
                day.peakInstances = max(day.peakInstances, hourPeak)
                try functionDay.store(dayKey, day)
            }
        }
    }

    /// Reads and writes the counter columns of one table by its key columns.
    struct Table {
        let select: Statement
        let upsert: Statement

        init(_ db: Database, _ name: String, keys: [String]) throws {
            let condition = keys.map { "\($0) = ?" }.joined(separator: " AND ")
            select = try db.makeStatement(sql: "SELECT \(SQLiteUsageStore.counterList) FROM \(name) WHERE \(condition)")
            let columns = keys + SQLiteUsageStore.counterNames
            upsert = try db.makeStatement(sql: """
                INSERT OR REPLACE INTO \(name) (\(columns.joined(separator: ", ")))
                VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))
                """)
        }

        func fetch(_ key: [any DatabaseValueConvertible]) throws -> UsageCounters? {
            try Row.fetchOne(select, arguments: StatementArguments(key)).map { SQLiteUsageStore.counters($0, offset: 0) }
        }

        func store(_ key: [any DatabaseValueConvertible], _ c: UsageCounters) throws {
            let values: [any DatabaseValueConvertible] = [
                c.invocations, c.errors, c.coldStarts, c.billedMs, c.mbMs, c.peakInstances, c.memoryMB, c.alwaysOnMBHours,
                Data(c.latency.encoded),
            ]
            try upsert.execute(arguments: StatementArguments(key + values))
        }
    }

    static let counterNames = [
        "invocations", "errors", "cold_starts", "billed_ms", "mb_ms", "peak_instances", "memory_mb", "always_on_mb_hours", "latency",
    ]

    /// The counter columns of a row whose first `offset` columns are its key, in `counterNames` order.
    static func counters(_ row: Row, offset: Int) -> UsageCounters {
        let blob = try? row.withUnsafeData(atIndex: offset + 8) { data in
            data.flatMap { $0.withUnsafeBytes { LatencyHistogram(encoded: $0) } }
        }
        return UsageCounters(
            invocations: row[offset], errors: row[offset + 1], coldStarts: row[offset + 2], billedMs: row[offset + 3],
            mbMs: row[offset + 4], peakInstances: row[offset + 5], memoryMB: row[offset + 6],
            latency: (blob ?? nil) ?? LatencyHistogram(), alwaysOnMBHours: row[offset + 7])
    }

    static var counterList: String { counterNames.joined(separator: ", ") }

    // MARK: Reading

    /// `WHERE time >= ? AND time < ? [AND namespace = ?] [AND function = ?]`.
    static func filter(time: String, from: Int64, to: Int64, namespace: String?, function: String?) -> (String, StatementArguments) {
        var sql = "WHERE \(time) >= ? AND \(time) < ?"
        var arguments: StatementArguments = [from, to]
        if let namespace {
            sql += " AND namespace = ?"
            arguments += [namespace]
        }
        if let function {
            sql += " AND function = ?"
            arguments += [function]
        }
        return (sql, arguments)
    }

    public func versionHours(namespace: String?, function: String?, fromHour: Int64, toHour: Int64) async throws -> [UsageRecord] {
        guard fromHour < toHour else { return [] }
        let (condition, arguments) = Self.filter(time: "hour", from: fromHour, to: toHour, namespace: namespace, function: function)
        return try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT hour, namespace, function, version, \(Self.counterList) FROM usage_hours \(condition)", arguments: arguments).map { row in
                UsageRecord(key: UsageKey(hour: row[0], namespace: row[1], function: row[2], version: row[3]), counters: Self.counters(row, offset: 4))
            }
        }
    }

    public func namespaceHours(namespace: String?, fromHour: Int64, toHour: Int64) async throws -> [UsageRecord] {
        guard fromHour < toHour else { return [] }
        let (condition, arguments) = Self.filter(time: "hour", from: fromHour, to: toHour, namespace: namespace, function: nil)
        return try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT hour, namespace, \(Self.counterList) FROM usage_namespace_hours \(condition)", arguments: arguments).map { row in
                UsageRecord(key: UsageKey(hour: row[0], namespace: row[1], function: "", version: ""), counters: Self.counters(row, offset: 2))
            }
        }
    }

    public func functionDays(namespace: String?, function: String?, fromDay: Int64, toDay: Int64) async throws -> [UsageRecord] {
        guard fromDay < toDay else { return [] }
        let (condition, arguments) = Self.filter(time: "day", from: fromDay, to: toDay, namespace: namespace, function: function)
        return try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT day, namespace, function, \(Self.counterList) FROM usage_function_days \(condition)", arguments: arguments).map { row in
                UsageRecord(key: UsageKey(hour: row[0], namespace: row[1], function: row[2], version: ""), counters: Self.counters(row, offset: 3))
            }
        }
    }

    public func peakInstances(namespace: String?, fromHour: Int64, toHour: Int64) async throws -> Int64 {
        guard fromHour < toHour else { return 0 }
        let (condition, arguments) = Self.filter(time: "hour", from: fromHour, to: toHour, namespace: namespace, function: nil)
        return try await db.read { db in
            try Int64.fetchOne(db, sql: """
                SELECT COALESCE(MAX(peak), 0) FROM (SELECT SUM(peak_instances) AS peak FROM usage_namespace_hours \(condition) GROUP BY hour)
                """, arguments: arguments) ?? 0
        }
    }

    // MARK: Prices

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
