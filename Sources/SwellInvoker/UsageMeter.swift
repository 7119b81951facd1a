import Foundation
import Logging
import ServiceLifecycle
import SwellModel
import SwellStore
import Synchronization

/// Meters every invocation into per-hour usage (GB-seconds, requests, errors, cold starts,
/// latency histogram) by namespace, function and version, samples the instance count of
/// every version once a second for the hour's peak, and writes what it collected to the
/// `UsageStore` once a second (and at shutdown), off the invoke path.
///
/// `add` costs one lock and a dictionary update; nothing on the invoke path waits for disk.
///
/// ```swift
/// let meter = UsageMeter(store: usageStore, prices: .defaults, sampler: { runtime.instanceSamples() }, logger: logger)
/// meter.add(record)          // from RecordWriter, for every invocation
/// await meter.flush()        // before answering GET /v1/usage
/// ```
public final class UsageMeter: Service, Sendable {
    public let store: any UsageStore
    let logger: Logger
    private let sampler: Mutex<@Sendable () -> [InstanceSample]>
    let clock: @Sendable () -> Date
    let interval: Duration
    private let accumulator = Mutex(UsageAccumulator())
    private let currentPrices: Mutex<PriceTable>
    /// Flushes run one at a time, so that a reader's flush returns only once every earlier
    /// delta is stored.
    private let gate = AsyncGate()

    /// - Parameters:
    ///   - sampler: the instances alive now, per function version (called once per `interval`).
    ///   - clock: the wall clock (hour bucketing of samples); tests pass their own.
    public init(
        store: any UsageStore, prices: PriceTable, sampler: @escaping @Sendable () -> [InstanceSample] = { [] }, logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() }, interval: Duration = .seconds(1)
    ) {
        self.store = store
        self.currentPrices = Mutex(prices)
        self.sampler = Mutex(sampler)
        self.logger = logger
        self.clock = clock
        self.interval = interval
    }

    /// Meters one invocation.
    public func add(_ record: InvocationRecord) {
        accumulator.withLock { $0.add(record) }
    }

    /// Sets what tells the instances alive (the runtime exists after the meter).
    public func sampleInstances(with sampler: @escaping @Sendable () -> [InstanceSample]) {
        self.sampler.withLock { $0 = sampler }
    }

    /// Takes one instance sample now.
    public func sample() {
        let samples = sampler.withLock { $0 }()
        let now = clock()
        accumulator.withLock { $0.observe(samples, at: now) }
    }

    /// The price table in force.
    public var prices: PriceTable { currentPrices.withLock { $0 } }

    /// Stores and applies a new price table.
    public func setPrices(_ prices: PriceTable) async throws {
        try await store.setPrices(prices)
        currentPrices.withLock { $0 = prices }
    }

    /// Writes everything collected so far; returns once it (and every earlier flush) is stored.
    public func flush() async {
        await gate.acquire()
        let batch = accumulator.withLock { $0.take() }
        do {
            try await store.add(batch)
        } catch {
            // Put it back for the next attempt rather than lose it.
            logger.error("cannot write usage", metadata: ["error": "\(error)", "rows": "\(batch.count)"])
            accumulator.withLock { acc in
                for r in batch { acc.merge(r) }
            }
        }
        gate.release()
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                try? await Task.sleep(for: interval)
                sample()
                await flush()
            }
        } onGracefulShutdown: {}
        sample()
        await flush()
    }
}

/// A first-come, first-served lock for async code that suspends instead of blocking a thread.
final class AsyncGate: Sendable {
    private struct State {
        var busy = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { s -> Bool in
                if s.busy {
                    s.waiters.append(continuation)
                    return false
                }
                s.busy = true
                return true
            }
            if granted { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.busy = false
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}
