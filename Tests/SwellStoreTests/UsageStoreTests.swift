import Foundation
import SwellModel
@testable import SwellStore
import Testing

/// usage.db and audit.db on real files: merging deltas, reopening, paging, append-only.
@Suite struct UsageStoreTests {
    static func directory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swell-usage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    static func delta(_ hour: Int64, _ fn: String, invocations: Int64, mbMs: Int64, peak: Int64, ms: Double, ns: String = "default") -> UsageRecord {
        var latency = LatencyHistogram()
        for _ in 0..<invocations { latency.record(milliseconds: ms) }
        return UsageRecord(
            key: UsageKey(hour: hour, namespace: ns, function: fn, version: "$LATEST"),
            counters: UsageCounters(invocations: invocations, errors: 1, coldStarts: 0, billedMs: mbMs / 128, mbMs: mbMs, peakInstances: peak, memoryMB: 128, latency: latency))
    }

    @Test func deltasMergeAndSurviveReopening() async throws {
        let dir = try Self.directory()
        let hour: Int64 = 1_796_130_000
        do {
            let store = try SQLiteUsageStore(path: "\(dir)/usage.db")
            try await store.add([Self.delta(hour, "a", invocations: 2, mbMs: 1280, peak: 3, ms: 10), Self.delta(hour, "b", invocations: 1, mbMs: 128, peak: 1, ms: 1)])
            try await store.add([Self.delta(hour, "a", invocations: 1, mbMs: 128, peak: 2, ms: 100)])
            try await store.add([Self.delta(hour + 3600, "a", invocations: 1, mbMs: 128, peak: 1, ms: 5, ns: "other")])
            try await store.setPrices(PriceTable(perGBSecond: 1, perMillionRequests: 2, alwaysOnPerGBHour: 3))
        }
        let store = try SQLiteUsageStore(path: "\(dir)/usage.db")
        let rows = try await store.versionHours(namespace: "default", function: nil, fromHour: hour, toHour: hour + 3600).sorted { $0.key < $1.key }
        #expect(rows.map(\.key.function) == ["a", "b"])
        let a = rows[0].counters
        #expect(a.invocations == 3 && a.errors == 2 && a.mbMs == 1408 && a.billedMs == 11)
        #expect(a.peakInstances == 3, "the larger peak, not the sum")
        #expect(a.latency.count == 3 && a.latency.percentile(1) == 100)
        #expect(try await store.versionHours(namespace: "default", function: "b", fromHour: hour, toHour: hour + 7200).count == 1)
        #expect(try await store.versionHours(namespace: nil, function: nil, fromHour: hour, toHour: hour + 7200).count == 3)
        #expect(try await store.versionHours(namespace: "default", function: nil, fromHour: hour + 3600, toHour: hour + 7200).isEmpty)
        #expect(try await store.prices() == PriceTable(perGBSecond: 1, perMillionRequests: 2, alwaysOnPerGBHour: 3))
        #expect(try await SQLiteUsageStore.inMemory().prices() == nil)
    }

    /// The roll-ups give the same report as the version hours they summarize, for every grouping,
    /// over a range that starts and ends inside days.
    @Test func rollUpsAgreeWithVersionHours() async throws {
        let store = try SQLiteUsageStore.inMemory()
        var rng = SystemRandomNumberGenerator()
        let midnight: Int64 = 1_796_083_200  // 2026-12-01T00:00Z
        var deltas: [UsageRecord] = []
        for _ in 0..<400 {
            let hour = midnight + Int64.random(in: 0..<(24 * 4), using: &rng) * 3600
            let fn = ["a", "b", "c"].randomElement(using: &rng)!
            let version = ["$LATEST", "1"].randomElement(using: &rng)!
            let memory = Int64([128, 256, 1024].randomElement(using: &rng)!)
            var latency = LatencyHistogram()
            let n = Int64.random(in: 0...5, using: &rng)
            for _ in 0..<n { latency.record(milliseconds: Double.random(in: 0.1...500, using: &rng)) }
            let billed = n * Int64.random(in: 1...50, using: &rng)
            deltas.append(UsageRecord(
                key: UsageKey(hour: hour, namespace: ["default", "other"].randomElement(using: &rng)!, function: fn, version: version),
                counters: UsageCounters(
                    invocations: n, errors: n / 2, coldStarts: n > 3 ? 1 : 0, billedMs: billed, mbMs: billed * memory,
                    peakInstances: Int64.random(in: 0...6, using: &rng), memoryMB: memory, latency: latency)))
        }
        // In several batches, as the meter writes them.
        for batch in stride(from: 0, to: deltas.count, by: 37) { try await store.add(Array(deltas[batch..<min(deltas.count, batch + 37)])) }
        let prices = PriceTable(perGBSecond: 0.25, perMillionRequests: 1000, alwaysOnPerGBHour: 2)
        let from = midnight + 5 * 3600
        let to = midnight + (3 * 24 + 7) * 3600
        for namespace in ["default", nil] as [String?] {
            let truth = try await store.versionHours(namespace: namespace, function: nil, fromHour: from, toHour: to)
            for grouping in UsageGrouping.allCases {
                let expected = UsageReport.build(truth, by: grouping, prices: prices, namespaceLabel: namespace ?? "*")
                let got = try await store.report(namespace: namespace, function: nil, fromHour: from, toHour: to, by: grouping, prices: prices)
                #expect(got.rows.count == expected.rows.count, "\(grouping)")
                for (g, e) in zip(got.rows, expected.rows) { Self.expectClose(g, e, "\(grouping) \(namespace ?? "*")") }
                Self.expectClose(
                    UsageReport.Row(period: nil, namespace: "", figures: got.totals), UsageReport.Row(period: nil, namespace: "", figures: expected.totals),
                    "totals \(grouping) \(namespace ?? "*")")
            }
            let oneTruth = try await store.versionHours(namespace: namespace, function: "b", fromHour: from, toHour: to)
            for grouping in UsageGrouping.allCases {
                let expected = UsageReport.build(oneTruth, by: grouping, prices: prices, namespaceLabel: namespace ?? "*")
                let got = try await store.report(namespace: namespace, function: "b", fromHour: from, toHour: to, by: grouping, prices: prices)
                #expect(got.rows.count == expected.rows.count)
                for (g, e) in zip(got.rows, expected.rows) { Self.expectClose(g, e, "b \(grouping)") }
            }
        }
    }

    static func expectClose(_ g: UsageReport.Row, _ e: UsageReport.Row, _ what: String) {
        #expect(g.period == e.period && g.namespace == e.namespace && g.function == e.function, "\(what)")
        let a = g.figures
        let b = e.figures
        #expect(a.invocations == b.invocations && a.errors == b.errors && a.coldStarts == b.coldStarts && a.billedMs == b.billedMs, "\(what)")
        #expect(a.peakInstances == b.peakInstances, "\(what): peak \(a.peakInstances) != \(b.peakInstances)")
        #expect(abs(a.gbSeconds - b.gbSeconds) < 1e-9 && abs(a.alwaysOnCost - b.alwaysOnCost) < 1e-9, "\(what)")
        #expect(a.p50Ms == b.p50Ms && a.p99Ms == b.p99Ms, "\(what)")
        #expect(abs(a.cost.total - b.cost.total) < 1e-9, "\(what)")
    }

    @Test func auditIsAppendOnlyAndPagesNewestFirst() async throws {
        let dir = try Self.directory()
        let store = try SQLiteAuditStore(path: "\(dir)/audit.db")
        for i in 0..<5 {
            _ = try await store.append(AuditEntry(
                time: Date(), keyID: "k_\(i)", role: .admin, address: "127.0.0.1", namespace: i == 2 ? "other" : "default",
                action: .functionDeploy, target: "f\(i)", details: ["fields": ["memory"]]))
        }
        let page = try await store.entries(namespace: "default", before: nil, limit: 2)
        #expect(page.map(\.target) == ["f4", "f3"])
        let next = try await store.entries(namespace: "default", before: page.last!.id, limit: 10)
        #expect(next.map(\.target) == ["f1", "f0"])
        #expect(next[0].details == ["fields": ["memory"]] && next[0].role == .admin && next[0].action == .functionDeploy)
        #expect(try await store.entries(namespace: nil, before: nil, limit: 10).count == 5)
        // The database itself refuses to rewrite history.
        let raw = try SQLiteAuditStore(path: "\(dir)/audit.db")
        await #expect(throws: (any Error).self) { try await raw.db.write { try $0.execute(sql: "UPDATE audit SET key_id = 'x'") } }
        await #expect(throws: (any Error).self) { try await raw.db.write { try $0.execute(sql: "DELETE FROM audit") } }
        #expect(try await store.entries(namespace: nil, before: nil, limit: 10).allSatisfy { $0.keyID.hasPrefix("k_") })
    }
}
