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
/// go out with the next transaction, usually within a millisecond or two.
public final class TaskJournal: Sendable {
    struct Pending {
        var writes: [TaskWrite]
        var waiter: CheckedContinuation<Void, any Error>?
    }

    struct State {
        var pending: [Pending] = []
        var stopped = false
        var flushed: [CheckedContinuation<Void, Never>] = []
    }

    let store: TaskStore
    let logger: Logger
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    /// Transactions and writes applied, for the metrics.
    private let counters = Mutex((transactions: 0, writes: 0))

    public init(store: TaskStore, logger: Logger) {
        self.store = store
        self.logger = logger
        let thread = Thread { [self] in self.loop() }
        thread.name = "swell-task-journal"
        thread.start()
    }

    /// Queues writes and waits until they are on disk.
    public func commit(_ writes: [TaskWrite]) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let accepted = state.withLock { s in
                guard !s.stopped else { return false }
                s.pending.append(Pending(writes: writes, waiter: c))
                return true
            }
            if accepted { wake.signal() } else { c.resume(throwing: CancellationError()) }
        }
    }

    /// Queues writes without waiting for them.
    public func append(_ writes: [TaskWrite]) {
        let accepted = state.withLock { s in
            guard !s.stopped else { return false }
            s.pending.append(Pending(writes: writes, waiter: nil))
            return true
        }
        if accepted { wake.signal() } else { logger.error("task journal is closed; writes dropped", metadata: ["count": "\(writes.count)"]) }
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

    public var stats: (transactions: Int, writes: Int) { counters.withLock { $0 } }

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
            do {
                try store.apply(writes)
            } catch {
                failure = error
                logger.error("task journal write failed", metadata: ["error": "\(error)", "writes": "\(writes.count)"])
            }
            counters.withLock {
                $0.transactions += 1
                $0.writes += writes.count
            }
        }
        for p in batch {
            guard let waiter = p.waiter else { continue }
            if let failure { waiter.resume(throwing: failure) } else { waiter.resume() }
        }
    }
}
