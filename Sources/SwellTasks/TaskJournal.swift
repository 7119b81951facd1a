import Foundation
import Logging
import SwellStore
import Synchronization

/// Writes task changes to `tasks.db` with group commit: one writer thread takes everything
/// queued since its last transaction and applies it in one transaction (one fsync), so
/// a burst of enqueues shares a handful of fsyncs instead of paying one each.
///
/// `commit` returns once the writes are durable (the enqueue path answers 202 only then);
/// `append` queues writes that may trail (attempt starts and ends, state changes) — they
/// go out with the next transaction, usually within a millisecond or two. Either way the
/// writer takes every queued write at once: enqueues, starts and finishes of many tasks
/// share one transaction.
public final class TaskJournal: Sendable {
    struct Pending {
        var writes: [TaskWrite]
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
        /// Writes (task inserts, starts, finishes, state changes) in those transactions.
        public var writes = 0
        /// Seconds spent applying transactions, fsync included.
        public var commitSeconds = 0.0
        /// Tasks inserted per transaction, for the transactions that inserted any:
        /// `taskBuckets[i]` counts those with at most `Stats.taskBucketBounds[i]` tasks.
        public var taskBuckets = [Int](repeating: 0, count: Stats.taskBucketBounds.count)
        /// Transactions that inserted tasks, and the tasks they inserted.
        public var taskCommits = 0
        public var tasks = 0

        /// Upper bounds of the tasks-per-commit histogram (the last bucket, `+Inf`, is `taskCommits`).
        public static let taskBucketBounds = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    }

    let store: TaskStore
    let logger: Logger
    private let state = Mutex(State())
    /// Signalled when `pending` goes from empty to not empty (the writer then takes it all).
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let counters = Mutex(Stats())

    public init(store: TaskStore, logger: Logger) {
        self.store = store
        self.logger = logger
        let thread = Thread { [self] in self.loop() }
        thread.name = "swell-task-journal"
        thread.start()
    }

    /// Queues writes and waits until they are on disk (one transaction: all or none).
    public func commit(_ writes: [TaskWrite]) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            if !enqueue(Pending(writes: writes, waiter: c)) { c.resume(throwing: CancellationError()) }
        }
    }

    /// Queues writes without waiting for them.
    public func append(_ writes: [TaskWrite]) {
        if !enqueue(Pending(writes: writes, waiter: nil)) {
            logger.error("task journal is closed; writes dropped", metadata: ["count": "\(writes.count)"])
        }
    }

    /// Queues one write without waiting for it.
    public func append(_ write: TaskWrite) {
        append([write])
    }

    private func enqueue(_ pending: Pending) -> Bool {
        let (accepted, first) = state.withLock { s -> (Bool, Bool) in
            guard !s.stopped else { return (false, false) }
            s.pending.append(pending)
            return (true, s.pending.count == 1)
        }
        // The writer takes everything queued when it wakes: only the first write since it
        // last looked needs to wake it.
        if first { wake.signal() }
        return accepted
    }

    /// Waits until everything queued so far is on disk.
    public func flush() async {
        try? await commit([])
    }

    /// Applies what is queued, then stops the writer thread.
    public func close() {
        state.withLock { $0.stopped = true }
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
        var writes: [TaskWrite] = []
        writes.reserveCapacity(batch.reduce(0) { $0 + $1.writes.count })
        var inserted = 0
        for p in batch {
            for w in p.writes {
                if case .insert = w { inserted += 1 }
                writes.append(w)
            }
        }
        var failure: (any Error)?
        if !writes.isEmpty {
            let started = ContinuousClock.now
            do {
                try store.apply(writes)
            } catch {
                failure = error
                logger.error("task journal write failed", metadata: ["error": "\(error)", "writes": "\(writes.count)"])
            }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            counters.withLock { c in
                c.commits += 1
                c.writes += writes.count
                c.commitSeconds += seconds
                if inserted > 0 {
                    c.taskCommits += 1
                    c.tasks += inserted
                    if let bucket = Stats.taskBucketBounds.firstIndex(where: { inserted <= $0 }) { c.taskBuckets[bucket] += 1 }
                }
            }
        }
        for p in batch {
            guard let waiter = p.waiter else { continue }
            if let failure { waiter.resume(throwing: failure) } else { waiter.resume() }
        }
    }
}
