import Foundation
import PostgresNIO
import SwellModel

/// Metering in the PostgreSQL store every node shares (migration `v6-usage`): the same tables
/// as `usage.db`. Each node's meter adds its own deltas; the hours of every node merge into
/// one row per version and hour (counters add up, peak and memory take the larger value,
/// latency histograms merge), so a report read on any node covers the whole cluster.
///
/// A batch is one transaction that first takes a transaction-level advisory lock: batches of
/// different nodes merge one after the other (they are small and come every few seconds), so
/// no merge reads a row another node is rewriting, and the roll-ups stay the sums of their hours.
public final class PostgresUsageStore: UsageStore {
    let pg: PostgresStore

    public init(store: PostgresStore) {
        self.pg = store
    }

    static let counterColumns = """
        invocations BIGINT NOT NULL, errors BIGINT NOT NULL, cold_starts BIGINT NOT NULL,
        billed_ms BIGINT NOT NULL, mb_ms BIGINT NOT NULL, peak_instances BIGINT NOT NULL,
        memory_mb BIGINT NOT NULL, always_on_mb_hours BIGINT NOT NULL, latency BYTEA NOT NULL
        """

    static let migration: (name: String, statements: [String]) = ("v6-usage", [
        """
        CREATE TABLE usage_hours (
            hour BIGINT NOT NULL, namespace TEXT NOT NULL, function TEXT NOT NULL, version TEXT NOT NULL, \(counterColumns),
            PRIMARY KEY (namespace, hour, function, version))
        """,
        "CREATE INDEX usage_hours_by_function ON usage_hours (namespace, function, hour)",
        "CREATE INDEX usage_hours_by_hour ON usage_hours (hour)",
        "CREATE TABLE usage_namespace_hours (hour BIGINT NOT NULL, namespace TEXT NOT NULL, \(counterColumns), PRIMARY KEY (namespace, hour))",
        """
        CREATE TABLE usage_function_days (
            day BIGINT NOT NULL, namespace TEXT NOT NULL, function TEXT NOT NULL, \(counterColumns), PRIMARY KEY (namespace, day, function))
        """,
        "CREATE INDEX usage_function_days_by_function ON usage_function_days (namespace, function, day)",
        """
        CREATE TABLE prices (
            id INT PRIMARY KEY CHECK (id = 1), per_gb_second DOUBLE PRECISION NOT NULL,
            per_million_requests DOUBLE PRECISION NOT NULL, always_on_per_gb_hour DOUBLE PRECISION NOT NULL)
        """,
    ])

    static let counterNames = [
        "invocations", "errors", "cold_starts", "billed_ms", "mb_ms", "peak_instances", "memory_mb", "always_on_mb_hours", "latency",
    ]
    static var counterList: String { counterNames.joined(separator: ", ") }
    /// The advisory lock usage batches take (any constant no other lock of Swell's uses).
    static let lockKey: Int64 = 7_356_227_101

    // MARK: Writing

    public func add(_ deltas: [UsageRecord]) async throws {
        guard !deltas.isEmpty else { return }
        try await pg.transaction { c in
            try await c.run("SELECT pg_advisory_xact_lock(?)", [Self.lockKey])
            let version = Table(name: "usage_hours", keys: ["namespace", "hour", "function", "version"])
            let namespaceHour = Table(name: "usage_namespace_hours", keys: ["namespace", "hour"])
            let functionDay = Table(name: "usage_function_days", keys: ["namespace", "day", "function"])
            for delta in deltas {
                let k = delta.key
                let versionKey: [any PostgresThrowingDynamicTypeEncodable] = [k.namespace, k.hour, k.function, k.version]
                let old = try await version.fetch(c, versionKey)
                var merged = old ?? UsageCounters(
                    invocations: 0, errors: 0, coldStarts: 0, billedMs: 0, mbMs: 0, peakInstances: 0, memoryMB: 0)
                merged.merge(delta.counters)
                try await version.store(c, versionKey, merged)
                let peakChange = merged.peakInstances - (old?.peakInstances ?? 0)
                let alwaysOnChange = merged.alwaysOnMBHours - (old?.alwaysOnMBHours ?? 0)

                let nsKey: [any PostgresThrowingDynamicTypeEncodable] = [k.namespace, k.hour]
                var ns = try await namespaceHour.fetch(c, nsKey) ?? UsageCounters()
                ns.addTotals(delta.counters)
                ns.peakInstances += peakChange
                ns.alwaysOnMBHours += alwaysOnChange
                ns.memoryMB = max(ns.memoryMB, merged.memoryMB)
                try await namespaceHour.store(c, nsKey, ns)

                let dayKey: [any PostgresThrowingDynamicTypeEncodable] = [k.namespace, UsageHour.day(of: k.hour), k.function]
                var day = try await functionDay.fetch(c, dayKey) ?? UsageCounters()
                day.addTotals(delta.counters)
                day.alwaysOnMBHours += alwaysOnChange
                day.memoryMB = max(day.memoryMB, merged.memoryMB)
                let hourPeak = try await c.rows(
                    "SELECT COALESCE(SUM(peak_instances), 0)::bigint AS peak FROM usage_hours WHERE namespace = ? AND hour = ? AND function = ?",
                    [k.namespace, k.hour, k.function]
                ).first?.decode("peak", as: Int64.self) ?? 0
                day.peakInstances = max(day.peakInstances, hourPeak)
                try await functionDay.store(c, dayKey, day)
            }
        }
    }

    /// Reads and upserts the counter columns of one table by its key columns.
    struct Table {
        var name: String
        var keys: [String]

        func fetch(_ c: PostgresConnection, _ key: [any PostgresThrowingDynamicTypeEncodable]) async throws -> UsageCounters? {
            let condition = keys.map { "\($0) = ?" }.joined(separator: " AND ")
            return try await c.rows("SELECT \(PostgresUsageStore.counterList) FROM \(name) WHERE \(condition)", key).first
                .map { try PostgresUsageStore.counters($0) }
        }

        func store(_ c: PostgresConnection, _ key: [any PostgresThrowingDynamicTypeEncodable], _ v: UsageCounters) async throws {
            let columns = keys + PostgresUsageStore.counterNames
            let updates = PostgresUsageStore.counterNames.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
            let values: [any PostgresThrowingDynamicTypeEncodable] = [
                v.invocations, v.errors, v.coldStarts, v.billedMs, v.mbMs, v.peakInstances, v.memoryMB, v.alwaysOnMBHours,
                ByteBuffer(bytes: v.latency.encoded),
            ]
            try await c.run(
                """
                INSERT INTO \(name) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))
                ON CONFLICT (\(keys.joined(separator: ", "))) DO UPDATE SET \(updates)
                """, key + values)
        }
    }

    static func counters(_ row: PostgresRandomAccessRow) throws -> UsageCounters {
        let blob = try row.decode("latency", as: ByteBuffer.self)
        let latency = Array(blob.readableBytesView).withUnsafeBytes { LatencyHistogram(encoded: $0) }
        return UsageCounters(
            invocations: try row.decode("invocations"), errors: try row.decode("errors"), coldStarts: try row.decode("cold_starts"),
            billedMs: try row.decode("billed_ms"), mbMs: try row.decode("mb_ms"), peakInstances: try row.decode("peak_instances"),
            memoryMB: try row.decode("memory_mb"), latency: latency ?? LatencyHistogram(), alwaysOnMBHours: try row.decode("always_on_mb_hours"))
    }

    // MARK: Reading

    static func filter(time: String, from: Int64, to: Int64, namespace: String?, function: String?) -> (String, [(any PostgresThrowingDynamicTypeEncodable)?]) {
        var sql = "WHERE \(time) >= ? AND \(time) < ?"
        var arguments: [(any PostgresThrowingDynamicTypeEncodable)?] = [from, to]
        if let namespace {
            sql += " AND namespace = ?"
            arguments.append(namespace)
        }
        if let function {
            sql += " AND function = ?"
            arguments.append(function)
        }
        return (sql, arguments)
    }

    public func versionHours(namespace: String?, function: String?, fromHour: Int64, toHour: Int64) async throws -> [UsageRecord] {
        guard fromHour < toHour else { return [] }
        let (condition, arguments) = Self.filter(time: "hour", from: fromHour, to: toHour, namespace: namespace, function: function)
        return try await pg.rows("SELECT hour, namespace, function, version, \(Self.counterList) FROM usage_hours \(condition)", arguments).map { row in
            UsageRecord(
                key: UsageKey(hour: try row.decode("hour"), namespace: try row.decode("namespace"), function: try row.decode("function"), version: try row.decode("version")),
                counters: try Self.counters(row))
        }
    }

    public func namespaceHours(namespace: String?, fromHour: Int64, toHour: Int64) async throws -> [UsageRecord] {
        guard fromHour < toHour else { return [] }
        let (condition, arguments) = Self.filter(time: "hour", from: fromHour, to: toHour, namespace: namespace, function: nil)
        return try await pg.rows("SELECT hour, namespace, \(Self.counterList) FROM usage_namespace_hours \(condition)", arguments).map { row in
            UsageRecord(
                key: UsageKey(hour: try row.decode("hour"), namespace: try row.decode("namespace"), function: "", version: ""),
                counters: try Self.counters(row))
        }
    }

    public func functionDays(namespace: String?, function: String?, fromDay: Int64, toDay: Int64) async throws -> [UsageRecord] {
        guard fromDay < toDay else { return [] }
        let (condition, arguments) = Self.filter(time: "day", from: fromDay, to: toDay, namespace: namespace, function: function)
        return try await pg.rows("SELECT day, namespace, function, \(Self.counterList) FROM usage_function_days \(condition)", arguments).map { row in
            UsageRecord(
                key: UsageKey(hour: try row.decode("day"), namespace: try row.decode("namespace"), function: try row.decode("function"), version: ""),
                counters: try Self.counters(row))
        }
    }

    public func peakInstances(namespace: String?, fromHour: Int64, toHour: Int64) async throws -> Int64 {
        guard fromHour < toHour else { return 0 }
        let (condition, arguments) = Self.filter(time: "hour", from: fromHour, to: toHour, namespace: namespace, function: nil)
        return try await pg.rows(
            """
            SELECT COALESCE(MAX(peak), 0)::bigint AS peak FROM (
                SELECT SUM(peak_instances) AS peak FROM usage_namespace_hours \(condition) GROUP BY hour) AS hours
            """, arguments
        ).first?.decode("peak", as: Int64.self) ?? 0
    }

    // MARK: Prices

    public func prices() async throws -> PriceTable? {
        try await pg.rows("SELECT * FROM prices WHERE id = 1", []).first.map { row in
            PriceTable(
                perGBSecond: try row.decode("per_gb_second"), perMillionRequests: try row.decode("per_million_requests"),
                alwaysOnPerGBHour: try row.decode("always_on_per_gb_hour"))
        }
    }

    public func setPrices(_ prices: PriceTable) async throws {
        try await pg.run(
            """
            INSERT INTO prices (id, per_gb_second, per_million_requests, always_on_per_gb_hour) VALUES (1, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET per_gb_second = excluded.per_gb_second,
                per_million_requests = excluded.per_million_requests, always_on_per_gb_hour = excluded.always_on_per_gb_hour
            """, [prices.perGBSecond, prices.perMillionRequests, prices.alwaysOnPerGBHour])
    }
}
