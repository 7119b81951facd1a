import Foundation
import SwellModel

// Every store is a protocol with two implementations: SQLite (the embedded default, one
// file per concern in the data directory) and PostgreSQL (`PostgresStore`: one database
// that many `swell serve` nodes share). All access is async: SQLite's runs on GRDB's own
// queues, PostgreSQL's on postgres-nio's event loops, never blocking the caller's thread.
// One contract suite per protocol (Tests/SwellStoreTests/*ContractTests.swift) runs
// against both.

/// Durable state of the control plane: namespaces, functions, versions, aliases and keys.
///
/// Writes happen on deploys and admin calls, never on the invoke path; the server keeps
/// an in-memory catalog loaded from `loadCatalog()` and updated after each write.
public protocol ControlStore: Sendable {
    func loadCatalog() async throws -> CatalogSnapshot
    func ensureNamespace(_ namespace: String) async throws
    /// Creates or replaces `$LATEST`; the revision is bumped when the configuration changed.
    func putFunction(namespace: String, name: String, config: FunctionConfig) async throws -> FunctionRecord
    /// Deletes a function with its versions and aliases; false when it did not exist.
    func deleteFunction(namespace: String, name: String) async throws -> Bool
    /// Freezes `$LATEST` as the next version number, or returns the newest version when it already equals `$LATEST`.
    func publishVersion(namespace: String, name: String, description: String) async throws -> (VersionRecord, created: Bool)
    func putAlias(_ alias: AliasRecord) async throws
    func deleteAlias(namespace: String, function: String, name: String) async throws -> Bool
    func createKey(_ key: KeyRecord) async throws
    func revokeKey(namespace: String, id: String) async throws -> Bool
    /// Every function's uid, keyed by `namespace/name`.
    func functionUIDs() async throws -> [String: UInt32]
    /// The function's uid, allocated from `range` if it has none (never reused).
    func allocateUID(namespace: String, name: String, range: UIDRange) async throws -> UInt32
}

/// Invocation records, written behind requests in batches (log lines live in `LogStorage`).
public protocol RecordStore: Sendable {
    func appendInvocations(_ records: [InvocationRecord]) async throws
    func invocations(namespace: String, function: String, limit: Int) async throws -> [InvocationRecord]
    /// Applies retention: removes records older than `maxAge` seconds.
    func pruneInvocations(maxAge: TimeInterval) async throws
}

/// An idempotency key stored with its task.
public struct StoredIdempotencyKey: Sendable, Equatable {
    public var namespace: String
    public var function: String
    public var key: String
    public var taskID: String
    public var createdAt: Date

    public init(namespace: String, function: String, key: String, taskID: String, createdAt: Date) {
        self.namespace = namespace
        self.function = function
        self.key = key
        self.taskID = taskID
        self.createdAt = createdAt
    }
}

/// The async task tables: tasks, their attempts, and per-namespace limits.
public protocol TaskStorage: Sendable {
    /// Applies the writes in one transaction: when this returns, they are durable.
    func apply(_ writes: [TaskWrite]) async throws
    func setLimits(_ limits: NamespaceTaskLimits, namespace: String) async throws
    func allLimits() async throws -> [String: NamespaceTaskLimits]
    /// Tasks that must run (queued, or running when the server stopped). Attempts left
    /// open by a crash are closed as `interrupted`, so a re-run shows as an extra attempt.
    func recover(at now: Date) async throws -> [TaskRecord]
    /// Idempotency keys used since `since`, oldest first.
    func recentIdempotencyKeys(since: Date) async throws -> [StoredIdempotencyKey]
    func task(id: String, namespace: String) async throws -> TaskRecord?
    func attempts(taskID: String) async throws -> [TaskAttempt]
    /// Newest first. `before` is the cursor of the last page (`createdAt|id` of its last task).
    func list(
        namespace: String, function: String?, state: TaskState?, since: Date?, until: Date?, before: (Date, String)?, limit: Int
    ) async throws -> [TaskRecord]
    func summary(namespace: String, function: String?) async throws -> TaskSummary
}

/// What Swell keeps about each trigger: its pause switch and, for timers, the last fire.
public protocol TriggerStorage: Sendable {
    /// The pause switch set through the API (`nil`: never set, so the manifest's `enabled` decides).
    func paused(_ id: String) async throws -> Bool?
    func setPaused(_ id: String, _ paused: Bool?) async throws
    /// The scheduled time of the last timer fire that was handed to the task queue.
    func lastFire(_ id: String) async throws -> Date?
    func setLastFire(_ id: String, _ date: Date) async throws
    /// Claims the timer fire due at `due`: true for the one caller (of any node) that moves the
    /// last fire forward to it, false when a fire at or after `due` was claimed already.
    func claimFire(_ id: String, _ due: Date) async throws -> Bool
    /// Forgets triggers that no longer exist.
    func retain(_ ids: Set<String>) async throws
}

/// Function log lines, per function stream, with retention.
public protocol LogStorage: Sendable {
    /// Stores `lines` and adds `drops` to the streams' counters, in one transaction.
    /// - Returns: the lines with their ids (increasing per stream).
    func append(_ lines: [LogLine], drops: [LogStreamKey: LogDrops]) async throws -> [LogLine]
    /// A page of lines, oldest first.
    func lines(_ q: LogQuery) async throws -> [LogLine]
    /// What was not stored (or was removed) of a function's output since its logs began.
    func drops(namespace: String, function: String) async throws -> LogDrops
    /// Lines and accounted bytes stored per function.
    func usage() async throws -> [(key: LogStreamKey, lines: Int, bytes: Int)]
    /// What the log lines occupy in the database.
    func databaseBytes() async throws -> Int
    /// Removes expired lines, then the oldest lines of functions above their allowance.
    @discardableResult
    func prune(_ policy: LogRetentionPolicy, now: Date, batch: Int) async throws -> LogPruneReport
}

extension LogStorage {
    public func append(_ lines: [LogLine]) async throws -> [LogLine] { try await append(lines, drops: [:]) }

    @discardableResult
    public func prune(_ policy: LogRetentionPolicy) async throws -> LogPruneReport {
        try await prune(policy, now: Date(), batch: 5_000)
    }

    @discardableResult
    public func prune(_ policy: LogRetentionPolicy, now: Date) async throws -> LogPruneReport {
        try await prune(policy, now: now, batch: 5_000)
    }
}

/// Code package archives shared by every node (scale-out); an embedded server keeps them on
/// its own disk only (`CodeStore`), so it has none.
public protocol PackageStorage: Sendable {
    /// The size of `namespace`'s package with this digest, nil when it has none.
    func packageSize(namespace: String, sha256: String) async throws -> Int?
    /// Stores a package already checked by `CodeStore.put` (a second put of a digest changes nothing).
    func putPackage(_ data: Data, namespace: String, sha256: String) async throws
    /// The archive, nil when the namespace has none with this digest.
    func package(namespace: String, sha256: String) async throws -> Data?
}

/// A task queue many nodes share (PostgreSQL): each node claims batches of tasks with a
/// lease and renews it while it holds them; a task whose lease lapsed (its node died or
/// stalled) is claimed by another node, its open attempt closed as `interrupted`.
public protocol TaskLeasing: TaskStorage {
    /// Claims up to `limit` tasks for `node`: queued tasks due by `now` that nobody holds,
    /// and queued or running tasks whose lease lapsed (their open attempts end `interrupted`),
    /// highest priority first, then oldest. Tasks another node is claiming at the same
    /// moment are skipped, never waited for (`FOR UPDATE SKIP LOCKED`).
    /// - Returns: the claimed tasks, queued, with `lease` seconds to run them.
    func claimTasks(node: String, limit: Int, lease: TimeInterval, now: Date) async throws -> [TaskRecord]
    /// Extends `node`'s leases on these tasks until `until`.
    /// - Returns: the ids among them that `node` no longer holds (another node claimed them after the lease lapsed).
    func renewLeases(node: String, ids: [String], until: Date) async throws -> Set<String>
    /// Gives queued tasks back before their lease ends (a node stopping hands them on at once).
    func releaseLeases(node: String, ids: [String]) async throws
    /// Stops a queued task no node holds (or whose holder's lease lapsed).
    /// - Returns: true when it was stopped; false when it is not queued or a node holds it.
    func stopUnclaimed(id: String, namespace: String, at: Date) async throws -> Bool
    /// The task an idempotency key was used for since `since`, cluster-wide.
    func idempotentTask(namespace: String, function: String, key: String, since: Date) async throws -> String?
    /// Makes `taskID` the holder of an idempotency key unless a task holds it already within
    /// the window: the key is unique in the database, so of two nodes reserving the same new
    /// key at the same moment exactly one wins.
    /// - Returns: the task that holds the key: `taskID` when this call won it, else the earlier task.
    func reserveIdempotencyKey(namespace: String, function: String, key: String, taskID: String, at now: Date) async throws -> String
    /// Gives a key back that `taskID` reserved but never stored (its commit failed).
    func releaseIdempotencyKey(namespace: String, function: String, key: String, taskID: String) async throws
}

/// Changes to the control plane made by other nodes (scale-out): a revision that every
/// catalog write moves, and a notification when it moves.
public protocol CatalogWatching: Sendable {
    /// The catalog's revision: it moves with every write to functions, versions, aliases, keys or namespaces.
    func catalogRevision() async throws -> Int64
    /// Calls `changed` for every notification of a catalog change (PostgreSQL `LISTEN`), until
    /// cancelled or the connection fails (then it throws; callers fall back on the revision).
    func watchCatalog(_ changed: @escaping @Sendable () -> Void) async throws
}
