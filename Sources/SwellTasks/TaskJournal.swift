import Foundation
import Logging
import SwellStore
import Synchronization

/// Writes task changes to `tasks.db` with group commit: one writer thread takes everything
/// queued since its last transaction and applies it in one transaction (one fsync), so
/// a burst of enqueues shares a handful of fsyncs instead of paying one each.
///
/// `commit` returns once the writes are durable (the enqueue path answers 202 only then);
/// `append` queues writes that may trail (attempt starts and ends, state changes). The
/// writer takes every queued write at once, so enqueues, starts and finishes of many tasks
/// share one transaction. A commit goes out at once; a transaction of only trailing writes
/// goes out at least `trailingInterval` (2 ms) after the previous one of its kind, so that
/// a busy queue records the starts and finishes of many tasks per fsync instead of one
/// task's each (without it the writer, faster than the tasks, committed almost every start
/// and finish on its own). An idle queue's first trailing write goes out at once.
public final class TaskJournal: Sendable {
    struct Pending {
        var writes: [TaskWrite]
        var waiter: CheckedContinuation<Void, any Error>?
    }

    struct State {
        var pending: [Pending] = []
        /// Pending entries that someone waits for.
        var waiters = 0
        var stopped = false
        /// The writer is holding back trailing writes: a commit must wake it (`urgent`).
        var lingering = false
    }

    /// Least time between transactions that carry only trailing writes.
    static let trailingInterval: Duration = .milliseconds(2)

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

    let store: any TaskStorage
    let logger: Logger
    private let state = Mutex(State())
    /// Signalled when `pending` goes from empty to not empty (the writer then takes it all).
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    /// Signalled by a commit that arrives while the writer lingers.
    private let urgent = DispatchSemaphore(value: 0)
    private let counters = Mutex(Stats())

    public init(store: any TaskStorage, logger: Logger) {
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
        let (accepted, first, interrupt) = state.withLock { s -> (Bool, Bool, Bool) in
            guard !s.stopped else { return (false, false, false) }
            s.pending.append(pending)
            var interrupt = false
            if pending.waiter != nil {
                s.waiters += 1
                interrupt = s.lingering
                s.lingering = false
            }
            return (true, s.pending.count == 1, interrupt)
        }
        // The writer takes everything queued when it wakes: only the first write since it
        // last looked needs to wake it.
        if first { wake.signal() }
        if interrupt { urgent.signal() }
        return accepted
    }

    /// Waits until everything queued so far is on disk.
    public func flush() async {
        try? await commit([])
    }

    /// Applies what is queued, then stops the writer thread.
    public func close() {
        let interrupt = state.withLock { s in
            s.stopped = true
            defer { s.lingering = false }
            return s.lingering
        }
        wake.signal()
        if interrupt { urgent.signal() }
        done.wait()
    }

    public var stats: Stats { counters.withLock { $0 } }

    private func loop() {
        var lastTrailing: ContinuousClock.Instant?
        while true {
            wake.wait()
            if let lastTrailing { linger(until: lastTrailing + Self.trailingInterval) }
            let (batch, waiters, stopped) = state.withLock { s in
                let b = s.pending
                s.pending.removeAll(keepingCapacity: true)
                defer { s.waiters = 0 }
                return (b, s.waiters, s.stopped)
            }
            if !batch.isEmpty {
                write(batch)
                if waiters == 0 { lastTrailing = ContinuousClock.now }
            }
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

    /// Waits until `due` while only trailing writes are pending (more of them gather); a
    /// commit or `close` ends the wait at once.
    private func linger(until due: ContinuousClock.Instant) {
        while true {
            let now = ContinuousClock.now
            guard now < due else { return }
            let proceed = state.withLock { s in
                if s.waiters > 0 || s.stopped { return true }
                s.lingering = true
                return false
            }
            if proceed { return }
            let left = due - now
            let nanoseconds = Int(left.components.seconds) * 1_000_000_000 + Int(left.components.attoseconds / 1_000_000_000)
            _ = urgent.wait(timeout: .now() + .nanoseconds(nanoseconds))
            state.withLock { $0.lingering = false }
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
                if let sqlite = store as? TaskStore {
                    try sqlite.applyBlocking(writes)
                } else {
                    try Self.wait { [store, writes] in try await store.apply(writes) }
                }
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

    /// Runs an async store call to its end on the journal's own thread (which exists to
    /// wait for commits: blocking it holds up no one else).
    static func wait(_ body: @escaping @Sendable () async throws -> Void) throws {
        final class Outcome: @unchecked Sendable {
            // Written before `done` is signalled, read after it is waited for.
            var error: (any Error)?
        }
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        Task {
            do { try await body() } catch { outcome.error = error }
            done.signal()
        }
        done.wait()
        if let error = outcome.error { throw error }
    }
}
