import Foundation
import Logging
import Synchronization

/// Writes workflow changes with group commit: one writer thread takes everything queued since
/// its last transaction and applies it in one transaction (one fsync), so the steps of many
/// executions share a handful of fsyncs. Writes are applied in the order they were queued, so
/// what is on disk is always a prefix of what was queued (what replay after a crash relies on).
///
/// `commit` returns once its writes (and everything queued before) are durable; `append`
/// queues writes without waiting.
public final class WorkflowJournal: Sendable {
    struct Pending {
        var writes: [WorkflowWrite]
        var waiter: CheckedContinuation<Void, any Error>?
    }

    struct State {
        var pending: [Pending] = []
        var stopped = false
    }

    /// What the journal has done since the server started, for the metrics.
    public struct Stats: Sendable, Hashable {
        /// Transactions applied (each one fsync).
        public var commits = 0
        public var writes = 0
        /// Seconds spent applying transactions, fsync included.
        public var commitSeconds = 0.0
        public var failures = 0

        public init() {}
    }

    let store: any WorkflowStore
    let logger: Logger
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let counters = Mutex(Stats())

    public init(store: any WorkflowStore, logger: Logger) {
        self.store = store
        self.logger = logger
        let thread = Thread { [self] in self.loop() }
        thread.name = "swell-workflow-journal"
        thread.start()
    }

    /// Queues writes and waits until they are on disk.
    public func commit(_ writes: [WorkflowWrite]) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            if !enqueue(Pending(writes: writes, waiter: c)) { c.resume(throwing: CancellationError()) }
        }
    }

    /// Queues writes without waiting for them.
    public func append(_ writes: [WorkflowWrite]) {
        if !enqueue(Pending(writes: writes, waiter: nil)) {
            logger.error("workflow journal is closed; writes dropped", metadata: ["count": "\(writes.count)"])
        }
    }

    /// Waits until everything queued so far is on disk.
    public func flush() async throws {
        try await commit([])
    }

    private func enqueue(_ pending: Pending) -> Bool {
        let (accepted, first) = state.withLock { s -> (Bool, Bool) in
            guard !s.stopped else { return (false, false) }
            s.pending.append(pending)
            return (true, s.pending.count == 1)
        }
        if first { wake.signal() }
        return accepted
    }

    /// Applies what is queued, then stops the writer thread.
    public func close() {
        let already = state.withLock { s in
            defer { s.stopped = true }
            return s.stopped
        }
        guard !already else { return }
        wake.signal()
        done.wait()
    }

    public var stats: Stats { counters.withLock { $0 } }

    private func loop() {
        while true {
            wake.wait()
            let (batch, stopped) = state.withLock { s in
                let b = s.pending
                s.pending.removeAll(keepingCapacity: true)
                return (b, s.stopped)
            }
            if !batch.isEmpty { write(batch) }
            if stopped {
                let rest = state.withLock { s in
                    let b = s.pending
                    s.pending.removeAll()
                    return b
                }
                if !rest.isEmpty { write(rest) }
                done.signal()
                return
            }
        }
    }

    private func write(_ batch: [Pending]) {
        let writes = batch.flatMap(\.writes)
        var failure: (any Error)?
        if !writes.isEmpty {
            let started = ContinuousClock.now
            do {
                try store.apply(writes)
            } catch {
                failure = error
                logger.error("workflow journal write failed", metadata: ["error": "\(error)", "writes": "\(writes.count)"])
            }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            counters.withLock { c in
                c.commits += 1
                c.writes += writes.count
                c.commitSeconds += seconds
                if failure != nil { c.failures += 1 }
            }
        }
        for p in batch {
            guard let waiter = p.waiter else { continue }
            if let failure { waiter.resume(throwing: failure) } else { waiter.resume() }
        }
    }
}
