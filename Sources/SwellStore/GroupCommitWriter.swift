import Foundation
import Logging
import Synchronization

/// Group commit: one writer thread takes everything queued since its last transaction and
/// hands it to `apply` at once (one transaction, one fsync), so the writes of many callers
/// share a handful of fsyncs instead of paying one each. Writes are applied in the order
/// they were queued, so what is on disk is always a prefix of what was queued (what replay
/// after a crash relies on). The task journal and the workflow journal are both this writer
/// with their own `apply`.
///
/// `commit` returns once its writes (and everything queued before) are durable; `append`
/// queues writes that may trail. With a `trailingInterval`, a transaction of only trailing
/// writes goes out at least that long after the previous one of its kind, so that a busy
/// queue records many callers' trailing writes per fsync; a commit goes out at once, and an
/// idle writer's first trailing write too.
///
/// ```swift
/// let writer = GroupCommitWriter<Int>(name: "numbers", logger: logger) { batch in try db.insert(batch) }
/// try await writer.commit([1, 2])
/// writer.close()
/// ```
public final class GroupCommitWriter<Write: Sendable>: Sendable {
    struct Pending {
        var writes: [Write]
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

    /// What the writer has done since it started, for the metrics.
    public struct Stats: Sendable, Hashable {
        /// Transactions applied (each one fsync).
        public var commits = 0
        /// Writes in those transactions.
        public var writes = 0
        /// Seconds spent applying transactions, fsync included.
        public var commitSeconds = 0.0
        /// Transactions whose `apply` threw.
        public var failures = 0

        public init() {}
    }

    /// Applies one batch (all the writes queued since the last one, in order) in one transaction.
    public typealias Apply = @Sendable ([Write]) throws -> Void

    let name: String
    let logger: Logger
    let trailingInterval: Duration?
    let apply: Apply
    private let state = Mutex(State())
    /// Signalled when `pending` goes from empty to not empty (the writer then takes it all).
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    /// Signalled by a commit that arrives while the writer lingers.
    private let urgent = DispatchSemaphore(value: 0)
    private let counters = Mutex(Stats())

    /// Starts the writer thread.
    /// - Parameters:
    ///   - name: names the log lines ("NAME write failed") and the thread (`swell-NAME`, dashed).
    ///   - trailingInterval: least time between transactions that carry only trailing
    ///     (`append`ed) writes; `nil` writes every batch as soon as the writer is free.
    ///   - apply: runs on the writer thread (blocking it is fine: it exists to wait for commits).
    public init(name: String, trailingInterval: Duration? = nil, logger: Logger, apply: @escaping Apply) {
        self.name = name
        self.logger = logger
        self.trailingInterval = trailingInterval
        self.apply = apply
        let thread = Thread { [self] in self.loop() }
        thread.name = "swell-" + name.replacingOccurrences(of: " ", with: "-")
        thread.start()
    }

    /// Queues writes and waits until they (and everything queued before) are on disk.
    /// Throws what `apply` threw for their batch, or `CancellationError` once closed.
    public func commit(_ writes: [Write]) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            if !enqueue(Pending(writes: writes, waiter: c)) { c.resume(throwing: CancellationError()) }
        }
    }

    /// Queues writes without waiting for them.
    public func append(_ writes: [Write]) {
        if !enqueue(Pending(writes: writes, waiter: nil)) {
            logger.error("\(name) is closed; writes dropped", metadata: ["count": "\(writes.count)"])
        }
    }

    /// Waits until everything queued so far is on disk.
    public func flush() async throws {
        try await commit([])
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

    /// Applies what is queued, then stops the writer thread. Later writes are refused.
    public func close() {
        let (already, interrupt) = state.withLock { s in
            defer {
                s.stopped = true
                s.lingering = false
            }
            return (s.stopped, s.lingering)
        }
        guard !already else { return }
        wake.signal()
        if interrupt { urgent.signal() }
        done.wait()
    }

    public var stats: Stats { counters.withLock { $0 } }

    private func loop() {
        var lastTrailing: ContinuousClock.Instant?
        while true {
            wake.wait()
            if let lastTrailing, let trailingInterval { linger(until: lastTrailing + trailingInterval) }
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
        var writes: [Write] = []
        writes.reserveCapacity(batch.reduce(0) { $0 + $1.writes.count })
        for p in batch { writes.append(contentsOf: p.writes) }
        var failure: (any Error)?
        if !writes.isEmpty {
            let started = ContinuousClock.now
            do {
                try apply(writes)
            } catch {
                failure = error
                logger.error("\(name) write failed", metadata: ["error": "\(String(reflecting: error))", "writes": "\(writes.count)"])
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

    /// Runs an async call to its end on the calling thread (the writer's own, in `apply`:
    /// blocking it holds up no one else).
    public static func wait(_ body: @escaping @Sendable () async throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        let outcome = WaitOutcome()
        Task {
            do { try await body() } catch { outcome.error = error }
            done.signal()
        }
        done.wait()
        if let error = outcome.error { throw error }
    }
}

/// The error of a call `GroupCommitWriter.wait` ran: written before its semaphore is
/// signalled, read after it is waited for.
private final class WaitOutcome: @unchecked Sendable {
    var error: (any Error)?
}
