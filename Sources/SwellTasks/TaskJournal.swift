import Foundation
import Logging
import SwellStore
import Synchronization

/// Writes task changes to `tasks.db` with group commit (a `GroupCommitWriter`): one writer
/// thread takes everything queued since its last transaction and applies it in one
/// transaction (one fsync), so a burst of enqueues shares a handful of fsyncs instead of
/// paying one each.
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
    private let writer: GroupCommitWriter<TaskWrite>
    /// The task-specific part of `Stats` (inserts per transaction); the writer keeps the rest.
    private final class InsertCounts: Sendable {
        let stats = Mutex(Stats())
    }

    private let inserts: InsertCounts

    public init(store: any TaskStorage, logger: Logger) {
        self.store = store
        self.logger = logger
        let inserts = InsertCounts()
        self.inserts = inserts
        writer = GroupCommitWriter(name: "task journal", trailingInterval: Self.trailingInterval, logger: logger) { writes in
            let inserted = writes.reduce(0) { n, w in if case .insert = w { n + 1 } else { n } }
            defer {
                if inserted > 0 {
                    inserts.stats.withLock { c in
                        c.taskCommits += 1
                        c.tasks += inserted
                        if let bucket = Stats.taskBucketBounds.firstIndex(where: { inserted <= $0 }) { c.taskBuckets[bucket] += 1 }
                    }
                }
            }
            if let sqlite = store as? TaskStore {
                try sqlite.applyBlocking(writes)
            } else {
                try GroupCommitWriter<TaskWrite>.wait { try await store.apply(writes) }
            }
        }
    }

    /// Queues writes and waits until they are on disk (one transaction: all or none).
    public func commit(_ writes: [TaskWrite]) async throws {
        try await writer.commit(writes)
    }

    /// Queues writes without waiting for them.
    public func append(_ writes: [TaskWrite]) {
        writer.append(writes)
    }

    /// Queues one write without waiting for it.
    public func append(_ write: TaskWrite) {
        writer.append([write])
    }

    /// Waits until everything queued so far is on disk.
    public func flush() async {
        try? await writer.flush()
    }

    /// Applies what is queued, then stops the writer thread.
    public func close() {
        writer.close()
    }

    public var stats: Stats {
        let w = writer.stats
        var s = inserts.stats.withLock { $0 }
        s.commits = w.commits
        s.writes = w.writes
        s.commitSeconds = w.commitSeconds
        return s
    }
}
