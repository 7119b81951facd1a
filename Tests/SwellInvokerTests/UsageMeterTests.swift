import Foundation
import Logging
import MetricsTestKit
import SwellModel
import SwellScheduler
import SwellStore
import Synchronization
import Testing

@testable import SwellInvoker

/// The meter's shell with a mock clock and an in-memory store, and the invoke path's metrics
/// recorded into `TestMetrics`.
@Suite struct UsageMeterTests {
    /// 2026-12-01T13:00:00Z.
    static let hour13: Int64 = 1_796_130_000

    final class MockClock: Sendable {
        let now = Mutex(Date(timeIntervalSince1970: Double(UsageMeterTests.hour13) + 1800))
        func advance(_ seconds: Double) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
        func read() -> Date { now.withLock { $0 } }
    }

    static func record(at seconds: Int64, ms: Double, memory: Int) -> InvocationRecord {
        InvocationRecord(
            requestID: UUID().uuidString, namespace: "default", function: "grade", version: "$LATEST", status: "success", errorType: nil,
            coldStart: false, initMs: 0, durationMs: ms, billedMs: InvocationRecord.billed(durationMs: ms), memoryMB: memory,
            startedAt: Date(timeIntervalSince1970: Double(seconds)))
    }

    @Test func samplesFollowTheClockAndFlushesStoreEverything() async throws {
        let store = try SQLiteUsageStore.inMemory()
        let clock = MockClock()
        let instances = Mutex(3)
        let meter = UsageMeter(
            store: store, prices: .defaults,
            sampler: { [InstanceSample(namespace: "default", function: "grade", version: "$LATEST", instances: instances.withLock { $0 }, memoryMB: 512)] },
            logger: Logger(label: "test"), clock: { clock.read() })
        meter.add(Self.record(at: Self.hour13 + 10, ms: 4.2, memory: 512))
        meter.sample()  // 13:30, 3 instances
        clock.advance(3600)
        instances.withLock { $0 = 1 }
        meter.sample()  // 14:30, 1 instance
        await meter.flush()
        let rows = try await store.versionHours(namespace: "default", function: "grade", fromHour: Self.hour13, toHour: Self.hour13 + 7200)
            .sorted { $0.key < $1.key }
        #expect(rows.map(\.key.hour) == [Self.hour13, Self.hour13 + 3600])
        #expect(rows[0].counters.invocations == 1 && rows[0].counters.billedMs == 5 && rows[0].counters.mbMs == 5 * 512)
        #expect(rows[0].counters.peakInstances == 3 && rows[1].counters.peakInstances == 1)
        #expect(rows[1].counters.invocations == 0)
        // A second flush adds only what came since.
        meter.add(Self.record(at: Self.hour13 + 20, ms: 1, memory: 512))
        await meter.flush()
        await meter.flush()
        let again = try await store.versionHours(namespace: "default", function: "grade", fromHour: Self.hour13, toHour: Self.hour13 + 3600)
        #expect(again.first?.counters.invocations == 2)
        // Prices are stored and applied.
        let prices = PriceTable(perGBSecond: 1, perMillionRequests: 2, alwaysOnPerGBHour: 3)
        try await meter.setPrices(prices)
        #expect(meter.prices == prices)
        #expect(try await store.prices() == prices)
    }

    @Test func concurrentFlushesLoseNothing() async throws {
        let store = try SQLiteUsageStore.inMemory()
        let meter = UsageMeter(store: store, prices: .defaults, logger: Logger(label: "test"))
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask {
                    for j in 0..<50 { meter.add(Self.record(at: Self.hour13 + Int64(i * 50 + j), ms: 2, memory: 128)) }
                    await meter.flush()
                }
            }
        }
        let rows = try await store.versionHours(namespace: "default", function: nil, fromHour: Self.hour13, toHour: Self.hour13 + 3600)
        #expect(rows.first?.counters.invocations == 400)
        #expect(rows.first?.counters.latency.count == 400)
    }

    @Test func invocationMetricsRecordHistogramsErrorsAndThrottles() throws {
        let metrics = TestMetrics()
        let m = InvocationMetrics(factory: metrics)
        m.completed(namespace: "n", function: "f", coldStart: true, run: .milliseconds(20), initDuration: .milliseconds(300), queueWait: .milliseconds(2), errorType: nil)
        m.completed(namespace: "n", function: "f", coldStart: false, run: .milliseconds(5), initDuration: .zero, queueWait: .zero, errorType: "Timeout")
        m.completed(namespace: "n", function: "f", coldStart: false, run: .milliseconds(7), initDuration: .zero, queueWait: .zero, errorType: "Timeout")
        m.throttled(namespace: "n", function: "f", reason: .queueFull)
        let fn = [("namespace", "n"), ("function", "f")]
        #expect(try metrics.expectTimer(InvocationMetrics.Name.duration, fn + [("start", "warm")]).values == [5_000_000, 7_000_000])
        #expect(try metrics.expectTimer(InvocationMetrics.Name.duration, fn + [("start", "cold")]).values == [20_000_000])
        #expect(try metrics.expectTimer(InvocationMetrics.Name.initDuration, fn).values == [300_000_000])
        #expect(try metrics.expectTimer(InvocationMetrics.Name.queueWait, fn).values.count == 3)
        #expect(try metrics.expectCounter(InvocationMetrics.Name.errors, fn + [("type", "Timeout")]).totalValue == 2)
        #expect(try metrics.expectCounter(InvocationMetrics.Name.throttles, fn + [("reason", "queue_full")]).totalValue == 1)
        #expect((Duration.milliseconds(-3)).nanoseconds == 0)
    }
}
