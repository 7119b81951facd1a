import Foundation
import Logging

/// Writes workflow changes with group commit (a `GroupCommitWriter`): one writer thread takes
/// everything queued since its last transaction and applies it in one transaction (one
/// fsync), so the steps of many executions share a handful of fsyncs. Writes are applied in
/// the order they were queued, so what is on disk is always a prefix of what was queued
/// (what replay after a crash relies on).
///
/// `commit` returns once its writes (and everything queued before) are durable; `append`
/// queues writes without waiting.
public final class WorkflowJournal: Sendable {
    /// What the journal has done since the server started, for the metrics.
    public typealias Stats = GroupCommitWriter<WorkflowWrite>.Stats

    let store: any WorkflowStore
    let logger: Logger
    private let writer: GroupCommitWriter<WorkflowWrite>

    public init(store: any WorkflowStore, logger: Logger) {
        self.store = store
        self.logger = logger
        writer = GroupCommitWriter(name: "workflow journal", logger: logger) { writes in try store.apply(writes) }
    }

    /// Queues writes and waits until they are on disk.
    public func commit(_ writes: [WorkflowWrite]) async throws {
        try await writer.commit(writes)
    }

    /// Queues writes without waiting for them.
    public func append(_ writes: [WorkflowWrite]) {
        writer.append(writes)
    }

    /// Waits until everything queued so far is on disk.
    public func flush() async throws {
        try await writer.flush()
    }

    /// Applies what is queued, then stops the writer thread.
    public func close() {
        writer.close()
    }

    public var stats: Stats { writer.stats }
}
