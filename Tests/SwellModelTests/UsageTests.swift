import Foundation
import SwellModel
import Testing

/// Metering as values: hour bucketing, accumulation, histograms, grouping and prices.
@Suite struct UsageTests {
    /// 2026-12-01T13:00:00Z.
    static let hour13: Int64 = 1_796_130_000

    static func record(
        at seconds: Double, fn: String = "grade", version: String = "$LATEST", ms: Double, memory: Int = 128, error: Bool = false,
        cold: Bool = false, ns: String = "default"
    ) -> InvocationRecord {
        InvocationRecord(
            requestID: UUID().uuidString, namespace: ns, function: fn, version: version, status: error ? "error" : "success",
            errorType: error ? "Unhandled" : nil, coldStart: cold, initMs: 0, durationMs: ms,
            billedMs: InvocationRecord.billed(durationMs: ms), memoryMB: memory, startedAt: Date(timeIntervalSince1970: seconds))
    }

    @Test func hoursAndLabels() {
        #expect(UsageHour.hourLabel(Self.hour13) == "2026-12-01T13:00Z")
        #expect(UsageHour.start(of: Date(timeIntervalSince1970: Double(Self.hour13) + 3599.9)) == Self.hour13)
        #expect(UsageHour.start(of: Date(timeIntervalSince1970: Double(Self.hour13) + 3600)) == Self.hour13 + 3600)
        #expect(UsageHour.start(of: Date(timeIntervalSince1970: -1)) == -3600)
        #expect(UsageHour.dayLabel(Self.hour13 + 11 * 3600) == "2026-12-02")
        #expect(UsageHour.dayLabel(Self.hour13 + 10 * 3600) == "2026-12-01")
        #expect(UsageHour.day(of: Self.hour13) == Self.hour13 - 13 * 3600)
        #expect(UsageHour.hourLabel(0) == "1970-01-01T00:00Z")
    }

    @Test func accumulatesByHourAndVersionWithAMockClock() {
        var acc = UsageAccumulator()
        let t = Double(Self.hour13)
        acc.add(Self.record(at: t + 10, ms: 0.2, memory: 1024))  // billed 1 ms
        acc.add(Self.record(at: t + 3599, ms: 10.01, memory: 1024, error: true, cold: true))  // billed 11 ms
        acc.add(Self.record(at: t + 3600, ms: 5, memory: 512))  // next hour
        acc.add(Self.record(at: t + 20, version: "2", ms: 3, memory: 256))
        // Samples: two pools of one version add up; the larger of two samples is the peak.
        acc.observe([
            InstanceSample(namespace: "default", function: "grade", version: "$LATEST", instances: 2, memoryMB: 1024),
            InstanceSample(namespace: "default", function: "grade", version: "$LATEST", instances: 1, memoryMB: 1024),
        ], at: Date(timeIntervalSince1970: t + 30))
        acc.observe([InstanceSample(namespace: "default", function: "grade", version: "$LATEST", instances: 2, memoryMB: 1024)],
            at: Date(timeIntervalSince1970: t + 40))
        let rows = acc.take()
        #expect(acc.take().isEmpty)
        #expect(rows.count == 3)
        let latest13 = rows.first { $0.key == UsageKey(hour: Self.hour13, namespace: "default", function: "grade", version: "$LATEST") }!
        #expect(latest13.counters.invocations == 2)
        #expect(latest13.counters.errors == 1)
        #expect(latest13.counters.coldStarts == 1)
        #expect(latest13.counters.billedMs == 12)
        #expect(latest13.counters.mbMs == 12 * 1024)
        #expect(latest13.counters.gbSeconds == 0.012)
        #expect(latest13.counters.peakInstances == 3)
        let v2 = rows.first { $0.key.version == "2" }!
        #expect(v2.counters.peakInstances == 1, "an invocation implies at least one instance")
        let next = rows.first { $0.key.hour == Self.hour13 + 3600 }!
        #expect(next.counters.billedMs == 5)
        #expect(next.counters.memoryMB == 512)
    }

    @Test func histogramPercentilesMergeAndEncode() {
        var a = LatencyHistogram()
        for ms in 1...100 { a.record(milliseconds: Double(ms)) }
        let p50 = a.percentile(0.5)!
        let p99 = a.percentile(0.99)!
        #expect(abs(p50 - 50) / 50 < 0.05)
        #expect(abs(p99 - 99) / 99 < 0.05)
        #expect(a.percentile(1) == 100)
        #expect(a.percentile(0) != nil)
        // Splitting the values over two histograms and merging gives the same histogram.
        var b = LatencyHistogram()
        var c = LatencyHistogram()
        for ms in 1...100 { if ms % 2 == 0 { b.record(milliseconds: Double(ms)) } else { c.record(milliseconds: Double(ms)) } }
        b.merge(c)
        #expect(b == a)
        #expect(LatencyHistogram(encoded: a.encoded) == a)
        #expect(LatencyHistogram(encoded: [1, 2, 3]) == nil)
        var one = LatencyHistogram()
        one.record(milliseconds: 7.3)
        #expect(one.percentile(0.5) == 7.3 && one.percentile(0.99) == 7.3, "clamped to the values seen")
        #expect(LatencyHistogram().percentile(0.5) == nil)
        #expect(LatencyHistogram.bucket(micros: Int64.max) == 255)
    }

    @Test func reportGroupsAndPrices() {
        let prices = PriceTable(perGBSecond: 0.5, perMillionRequests: 2_000_000, alwaysOnPerGBHour: 3)
        func row(_ hourOffset: Int64, _ fn: String, version: String = "$LATEST", invocations: Int64, mbMs: Int64, peak: Int64, memory: Int64) -> UsageRecord {
            UsageRecord(
                key: UsageKey(hour: Self.hour13 + hourOffset * 3600, namespace: "default", function: fn, version: version),
                counters: UsageCounters(invocations: invocations, errors: 0, coldStarts: 0, billedMs: mbMs / memory, mbMs: mbMs, peakInstances: peak, memoryMB: memory))
        }
        let records = [
            row(0, "a", invocations: 2, mbMs: 1024 * 1000, peak: 2, memory: 1024),  // 1 GB-s, 2 GB-h always-on
            row(0, "b", invocations: 1, mbMs: 512 * 2000, peak: 1, memory: 512),  // 1 GB-s, 0.5 GB-h
            row(0, "a", version: "1", invocations: 1, mbMs: 0, peak: 1, memory: 1024),
            row(11, "a", invocations: 1, mbMs: 2048 * 1000, peak: 1, memory: 2048),  // next day (UTC)
        ]
        let byHour = UsageReport.build(records, by: .hour, prices: prices, namespaceLabel: "default")
        #expect(byHour.rows.map(\.period) == ["2026-12-01T13:00Z", "2026-12-02T00:00Z"])
        #expect(byHour.rows[0].figures.peakInstances == 4, "versions and functions add up within the hour")
        #expect(byHour.rows[0].figures.gbSeconds == 2)
        #expect(byHour.rows[0].figures.cost == UsageCost(requests: 8, compute: 1, total: 9))
        let hourAlwaysOn: Double = 3.5 * 3
        #expect(byHour.rows[0].figures.alwaysOnCost == hourAlwaysOn)
        let byDay = UsageReport.build(records, by: .day, prices: prices, namespaceLabel: "default")
        #expect(byDay.rows.map(\.period) == ["2026-12-01", "2026-12-02"])
        let byFunction = UsageReport.build(records, by: .function, prices: prices, namespaceLabel: "default")
        #expect(byFunction.rows.map(\.function) == ["a", "b"])
        #expect(byFunction.rows[0].period == nil)
        #expect(byFunction.rows[0].figures.invocations == 4)
        #expect(byFunction.rows[0].figures.peakInstances == 3, "the busiest hour of the function, its versions added up")
        #expect(byFunction.totals.invocations == 5)
        #expect(byFunction.totals.gbSeconds == 4)
        #expect(byFunction.totals.peakInstances == 4)
        let totalAlwaysOn: Double = 5.5 * 3
        #expect(byFunction.totals.alwaysOnCost == totalAlwaysOn)
        #expect(byFunction.totals.p50Ms == nil, "no latency recorded")
    }

    @Test func priceUpdatesNameTheField() throws {
        let updated = try PriceTable.defaults.updated(with: ["perGBSecond": 0.001])
        #expect(updated.perGBSecond == 0.001)
        #expect(updated.perMillionRequests == PriceTable.defaults.perMillionRequests)
        #expect(throws: SwellError.self) { try PriceTable.defaults.updated(with: ["perGBSecond": -1]) }
        do {
            _ = try PriceTable.defaults.updated(with: ["perGBSeconds": 1])
            Issue.record("an unknown field must be refused")
        } catch {
            #expect(error.description.contains("perGBSeconds"))
        }
        do {
            _ = try PriceTable.defaults.updated(with: ["alwaysOnPerGBHour": "cheap"])
            Issue.record("a string must be refused")
        } catch {
            #expect(error.description.contains("alwaysOnPerGBHour"))
        }
        let cost = PriceTable(perGBSecond: 0.0000166667, perMillionRequests: 0.2, alwaysOnPerGBHour: 0.0125).cost(requests: 1_000_000, gbSeconds: 400_000)
        #expect(abs(cost.compute - 6.66668) < 1e-9)
        #expect(abs(cost.requests - 0.2) < 1e-12)
    }

    @Test func auditRoutesClassify() {
        #expect(AuditAction.classify(method: "PUT", route: "/v1/namespaces/{ns}/functions/{name}")?.action == .functionDeploy)
        #expect(AuditAction.classify(method: "GET", route: "/v1/namespaces/{ns}/functions/{name}") == nil)
        #expect(AuditAction.classify(method: "POST", route: "/v1/namespaces/{ns}/functions/{name}/invoke") == nil)
        #expect(AuditAction.classify(method: "PUT", route: "/v1/prices")?.action == .pricesPut)
        #expect(AuditAction.classify(method: "POST", route: "/v1/namespaces/{ns}/workflows")?.action == .other)
        #expect(AuditAction.classify(method: "PUT", route: "/v1/namespaces/{ns}/workflows/{name}")?.action == .workflowDeploy)
        #expect(AuditAction.classify(method: "POST", route: "/v1/namespaces/{ns}/workflows/{name}/executions/{execution}/stop")?.target == "execution")
        // Starting an execution and task-token callbacks are the data plane, like invocations.
        #expect(AuditAction.classify(method: "POST", route: "/v1/namespaces/{ns}/workflows/{name}/executions") == nil)
        #expect(AuditAction.classify(method: "POST", route: "/v1/namespaces/{ns}/workflow-tasks/{verb}") == nil)
        #expect(AuditAction.classify(method: "DELETE", route: "/v1/namespaces/{ns}/keys/{id}")?.target == "id")
    }
}

extension UsageTests {
    @Test func spansCutAtMidnights() {
        let midnight: Int64 = 1_796_083_200
        let s = UsageSpan(fromHour: midnight + 5 * 3600, toHour: midnight + (3 * 24 + 7) * 3600)
        #expect(s.head == (midnight + 5 * 3600)..<(midnight + 86_400))
        #expect(s.days == (midnight + 86_400)..<(midnight + 3 * 86_400))
        #expect(s.tail == (midnight + 3 * 86_400)..<(midnight + (3 * 24 + 7) * 3600))
        let whole = UsageSpan(fromHour: midnight, toHour: midnight + 2 * 86_400)
        #expect(whole.head.isEmpty && whole.tail.isEmpty && whole.days == midnight..<(midnight + 2 * 86_400))
        let inside = UsageSpan(fromHour: midnight + 3600, toHour: midnight + 7200)
        #expect(inside.days.isEmpty && inside.tail.isEmpty && inside.head == (midnight + 3600)..<(midnight + 7200))
        let acrossOne = UsageSpan(fromHour: midnight + 20 * 3600, toHour: midnight + 28 * 3600)
        #expect(acrossOne.days.isEmpty && acrossOne.head == (midnight + 20 * 3600)..<(midnight + 28 * 3600))
    }
}
