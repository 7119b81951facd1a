import Foundation
import SwellModel
import Logging
import PostgresNIO
import Synchronization

/// The workflow tables in the PostgreSQL store many nodes share: definitions, versions,
/// aliases, executions, their journaled events and history (migration `v6-workflows`).
///
/// Executions have an owner with a lease, as tasks do: the node that creates (or redrives) an
/// execution runs it and renews its lease every second (``renewExecutionLeases(ids:)``); an
/// execution whose lease lapsed (`lease` seconds, its node died or stalled) is claimed by
/// another node (``openExecutions()``, at start and then every second: `FOR UPDATE SKIP
/// LOCKED`, so two nodes never claim the same one), which continues it from its journal.
/// Lease times are the database's clock.
///
/// `apply` is synchronous (the journal's writer thread calls it): it waits on that thread,
/// never on an event loop or the cooperative pool, for one transaction to commit, so a journal
/// commit is acknowledged only once PostgreSQL committed it.
public final class PostgresWorkflowStore: WorkflowExecutionLeasing {
    let pg: PostgresStore
    /// This node's name (executions it creates or claims are its own).
    public let node: String
    /// How long an execution's lease lasts without a renewal before another node may claim it.
    public let lease: TimeInterval

    public init(store: PostgresStore, node: String, lease: TimeInterval = 5) {
        self.pg = store
        self.node = node
        self.lease = lease
    }

    static let migration: (name: String, statements: [String]) = ("v6-workflows", [
        """
        CREATE TABLE workflows (
            namespace TEXT NOT NULL, name TEXT NOT NULL, definition TEXT NOT NULL, revision BIGINT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL, triggers TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (namespace, name))
        """,
        """
        CREATE TABLE executions (
            id TEXT PRIMARY KEY, namespace TEXT NOT NULL, workflow TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
            input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT, seed BIGINT NOT NULL, definition TEXT NOT NULL,
            revision BIGINT NOT NULL, version TEXT NOT NULL DEFAULT '$LATEST', started_at DOUBLE PRECISION NOT NULL,
            stopped_at DOUBLE PRECISION, redrive_count BIGINT NOT NULL DEFAULT 0, owner TEXT, lease_until DOUBLE PRECISION)
        """,
        "CREATE INDEX executions_by_workflow ON executions (namespace, workflow, started_at)",
        "CREATE INDEX executions_running ON executions (status) WHERE status = 'RUNNING'",
        "CREATE INDEX executions_stopped ON executions (stopped_at) WHERE stopped_at IS NOT NULL",
        """
        CREATE TABLE execution_events (
            execution_id TEXT NOT NULL, sequence BIGINT NOT NULL, event BYTEA NOT NULL, PRIMARY KEY (execution_id, sequence))
        """,
        """
        CREATE TABLE workflow_versions (
            namespace TEXT NOT NULL, workflow TEXT NOT NULL, version BIGINT NOT NULL, definition TEXT NOT NULL,
            description TEXT NOT NULL, published_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (namespace, workflow, version))
        """,
        """
        CREATE TABLE workflow_aliases (
            namespace TEXT NOT NULL, workflow TEXT NOT NULL, name TEXT NOT NULL, version BIGINT NOT NULL,
            weights TEXT NOT NULL DEFAULT '{}', description TEXT NOT NULL DEFAULT '', PRIMARY KEY (namespace, workflow, name))
        """,
        """
        CREATE TABLE execution_history (
            execution_id TEXT NOT NULL, id BIGINT NOT NULL, event BYTEA NOT NULL, PRIMARY KEY (execution_id, id))
        """,
    ])

    // MARK: Definitions

    public func putWorkflow(
        namespace: String, name: String, definition: String, triggers: [TriggerConfig]
    ) async throws -> (WorkflowRecord, changed: Bool) {
        let triggersText = String(decoding: try JSONEncoder().encode(triggers), as: UTF8.self)
        return try await pg.transaction { c in
            let now = Date()
            // Creates the row when absent; locks it either way, so two nodes' deploys serialize.
            try await c.run(
                """
                INSERT INTO workflows (namespace, name, definition, revision, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)
                ON CONFLICT (namespace, name) DO NOTHING
                """, [namespace, name, definition, now.timeIntervalSince1970, now.timeIntervalSince1970])
            guard let row = try await c.rows("SELECT * FROM workflows WHERE namespace = ? AND name = ? FOR UPDATE", [namespace, name]).first else {
                throw PostgresStoreError(code: .migration, location: pg.location, reason: "workflow \(namespace)/\(name) vanished")
            }
            var record = try Self.workflow(row)
            if record.revision > 0, record.definition == definition, record.triggers == triggers { return (record, false) }
            // The revision counts definitions (a change of triggers alone keeps it).
            if record.revision == 0 || record.definition != definition { record.revision += 1 }
            record.definition = definition
            record.triggers = triggers
            record.updatedAt = now
            try await c.run(
                "UPDATE workflows SET definition = ?, revision = ?, updated_at = ?, triggers = ? WHERE namespace = ? AND name = ?",
                [definition, record.revision, now.timeIntervalSince1970, triggersText, namespace, name])
            return (record, true)
        }
    }

    public func workflowTriggers() async throws -> [(namespace: String, workflow: String, triggers: [TriggerConfig])] {
        try await pg.rows("SELECT * FROM workflows WHERE revision > 0 AND triggers != '[]' ORDER BY namespace, name", []).map { row in
            let record = try Self.workflow(row)
            return (record.namespace, record.name, record.triggers)
        }
    }

    public func deleteWorkflow(namespace: String, name: String) async throws -> Bool {
        try await pg.transaction { c in
            let deleted = try await c.rows("DELETE FROM workflows WHERE namespace = ? AND name = ? RETURNING name", [namespace, name]).count > 0
            try await c.run("DELETE FROM workflow_versions WHERE namespace = ? AND workflow = ?", [namespace, name])
            try await c.run("DELETE FROM workflow_aliases WHERE namespace = ? AND workflow = ?", [namespace, name])
            let ids = try await c.rows(
                "SELECT id FROM executions WHERE namespace = ? AND workflow = ? AND status != 'RUNNING'", [namespace, name]
            ).map { try $0.decode("id", as: String.self) }
            for id in ids { try await Self.deleteExecution(c, id) }
            return deleted
        }
    }

    public func workflow(namespace: String, name: String) async throws -> WorkflowRecord? {
        try await pg.rows("SELECT * FROM workflows WHERE namespace = ? AND name = ? AND revision > 0", [namespace, name]).first.map(Self.workflow)
    }

    public func workflows(namespace: String) async throws -> [WorkflowRecord] {
        try await pg.rows("SELECT * FROM workflows WHERE namespace = ? AND revision > 0 ORDER BY name", [namespace]).map(Self.workflow)
    }

    public func publishWorkflow(namespace: String, name: String, description: String) async throws -> (WorkflowVersionRecord, created: Bool)? {
        try await pg.transaction { c in
            // The workflow's row is the lock two nodes publishing at once take in turn.
            guard let current = try await c.rows(
                "SELECT * FROM workflows WHERE namespace = ? AND name = ? AND revision > 0 FOR UPDATE", [namespace, name]
            ).first.map(Self.workflow) else { return nil }
            if let newest = try await c.rows(
                "SELECT * FROM workflow_versions WHERE namespace = ? AND workflow = ? ORDER BY version DESC LIMIT 1", [namespace, name]
            ).first.map(Self.version), newest.definition == current.definition {
                return (newest, false)
            }
            let next = try await c.rows(
                "SELECT COALESCE(MAX(version), 0) + 1 AS next FROM workflow_versions WHERE namespace = ? AND workflow = ?", [namespace, name]
            ).first?.decode("next", as: Int.self) ?? 1
            let record = WorkflowVersionRecord(
                namespace: namespace, workflow: name, version: next, definition: current.definition, description: description, publishedAt: Date())
            try await c.run(
                "INSERT INTO workflow_versions (namespace, workflow, version, definition, description, published_at) VALUES (?, ?, ?, ?, ?, ?)",
                [namespace, name, next, record.definition, description, record.publishedAt.timeIntervalSince1970])
            return (record, true)
        }
    }

    public func workflowVersions(namespace: String, name: String) async throws -> [WorkflowVersionRecord] {
        try await pg.rows("SELECT * FROM workflow_versions WHERE namespace = ? AND workflow = ? ORDER BY version", [namespace, name]).map(Self.version)
    }

    public func putWorkflowAlias(_ alias: WorkflowAliasRecord) async throws -> Bool {
        let versions = [alias.version] + alias.additionalVersionWeights.keys.sorted()
        let weights = SQLiteWorkflowStore.weightsText(alias.additionalVersionWeights)
        return try await pg.transaction { c in
            // Every version it names must exist (versions are never deleted on their own).
            let found = try await c.rows(
                "SELECT version FROM workflow_versions WHERE namespace = ? AND workflow = ? AND version = ANY(?::int8[])",
                [alias.namespace, alias.workflow, versions]
            ).count
            guard found == Set(versions).count else { return false }
            try await c.run(
                """
                INSERT INTO workflow_aliases (namespace, workflow, name, version, weights, description) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (namespace, workflow, name) DO UPDATE SET version = excluded.version, weights = excluded.weights,
                    description = excluded.description
                """, [alias.namespace, alias.workflow, alias.name, alias.version, weights, alias.description])
            return true
        }
    }

    public func deleteWorkflowAlias(namespace: String, workflow: String, name: String) async throws -> Bool {
        try await pg.rows(
            "DELETE FROM workflow_aliases WHERE namespace = ? AND workflow = ? AND name = ? RETURNING name", [namespace, workflow, name]
        ).count > 0
    }

    public func workflowAliases(namespace: String, workflow: String) async throws -> [WorkflowAliasRecord] {
        try await pg.rows("SELECT * FROM workflow_aliases WHERE namespace = ? AND workflow = ? ORDER BY name", [namespace, workflow]).map(Self.alias)
    }

    static func alias(_ row: PostgresRandomAccessRow) throws -> WorkflowAliasRecord {
        WorkflowAliasRecord(
            namespace: try row.decode("namespace"), workflow: try row.decode("workflow"), name: try row.decode("name"),
            version: try row.decode("version", as: Int.self),
            additionalVersionWeights: SQLiteWorkflowStore.weights(try row.decode("weights", as: String.self)),
            description: try row.decode("description"))
    }

    public func resolveWorkflow(namespace: String, name: String, qualifier: String?, random: Double) async throws -> ResolvedWorkflow? {
        guard let current = try await workflow(namespace: namespace, name: name) else { return nil }
        guard let qualifier, qualifier != "$LATEST" else {
            return ResolvedWorkflow(definition: current.definition, revision: current.revision, version: "$LATEST")
        }
        var number = Int(qualifier)
        if number == nil {
            number = try await pg.rows(
                "SELECT * FROM workflow_aliases WHERE namespace = ? AND workflow = ? AND name = ?", [namespace, name, qualifier]
            ).first.map(Self.alias)?.routing.pick(random)
        }
        guard let number, let version = try await pg.rows(
            "SELECT * FROM workflow_versions WHERE namespace = ? AND workflow = ? AND version = ?", [namespace, name, number]
        ).first.map(Self.version) else { return nil }
        return ResolvedWorkflow(definition: version.definition, revision: current.revision, version: String(version.version))
    }

    static func version(_ row: PostgresRandomAccessRow) throws -> WorkflowVersionRecord {
        WorkflowVersionRecord(
            namespace: try row.decode("namespace"), workflow: try row.decode("workflow"), version: try row.decode("version", as: Int.self),
            definition: try row.decode("definition"), description: try row.decode("description"), publishedAt: try row.date("published_at"))
    }

    static func workflow(_ row: PostgresRandomAccessRow) throws -> WorkflowRecord {
        WorkflowRecord(
            namespace: try row.decode("namespace"), name: try row.decode("name"), definition: try row.decode("definition"),
            revision: try row.decode("revision", as: Int.self), createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"),
            triggers: (try? JSONDecoder().decode([TriggerConfig].self, from: Data(try row.decode("triggers", as: String.self).utf8))) ?? [])
    }

    // MARK: Executions

    /// Applies the writes in one transaction and returns once it committed. It blocks its
    /// thread meanwhile: only the journal's own writer thread calls it.
    public func apply(_ writes: [WorkflowWrite]) throws {
        let outcome = Mutex<Result<Void, any Error>?>(nil)
        let committed = DispatchSemaphore(value: 0)
        // Detached so that it does not inherit anything of the caller; awaited right below.
        Task.detached { [self] in
            let result: Result<Void, any Error>
            do {
                try await applyAsync(writes)
                result = .success(())
            } catch {
                // postgres-nio's own description hides the reason; the journal logs this one.
                result = .failure(PostgresStoreError(code: .query, location: pg.location, reason: PostgresStore.describe(error)))
            }
            outcome.withLock { $0 = result }
            committed.signal()
        }
        committed.wait()
        try outcome.withLock { $0! }.get()
    }

    /// The transaction `apply` waits for.
    ///
    /// Fenced: the steps and the end of an execution are written only while this node owns it
    /// (checked under a share lock on its row, so no node claims it before this transaction
    /// ends): a node whose lease lapsed (it stalled) and that another node took over cannot
    /// write over the new owner's journal; it hears of the takeover at its next renewal. A
    /// `.create` of an execution another node created first (the same name started on two
    /// nodes at once) changes nothing, and its steps are fenced out the same way.
    public func applyAsync(_ writes: [WorkflowWrite]) async throws {
        guard !writes.isEmpty else { return }
        try await pg.transaction { c in
            var owned: [String: Bool] = [:]
            func mine(_ id: String) async throws -> Bool {
                if let known = owned[id] { return known }
                let row = try await c.rows("SELECT owner FROM executions WHERE id = ? FOR SHARE", [id]).first
                let isMine = try row?.decode("owner", as: String?.self) == node
                if !isMine {
                    pg.logger.warning("a write of a workflow execution this node no longer owns was dropped", metadata: ["execution": "\(id)"])
                }
                owned[id] = isMine
                return isMine
            }
            for write in writes {
                switch write {
                case .create(let r):
                    owned[r.id] = try await !c.rows(
                        """
                        INSERT INTO executions (id, namespace, workflow, name, status, input, output, error, cause, seed, definition,
                            revision, version, started_at, stopped_at, redrive_count, owner, lease_until)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, extract(epoch FROM clock_timestamp()) + ?)
                        ON CONFLICT (id) DO NOTHING RETURNING id
                        """,
                        [
                            r.id, r.namespace, r.workflow, r.name, r.status.rawValue, r.input, r.output, r.error, r.cause,
                            Int64(bitPattern: r.seed), r.definition, r.revision, r.version, r.startedAt.timeIntervalSince1970,
                            r.stoppedAt?.timeIntervalSince1970, r.redriveCount, node, lease,
                        ]).isEmpty
                case .step(let id, let sequence, let event, let history):
                    guard try await mine(id) else { continue }
                    try await c.run(
                        """
                        INSERT INTO execution_events (execution_id, sequence, event) VALUES (?, ?, ?)
                        ON CONFLICT (execution_id, sequence) DO UPDATE SET event = excluded.event
                        """, [id, sequence, ByteBuffer(bytes: event)])
                    // One statement for the step's history, however long (a Map's start records thousands of events).
                    if !history.isEmpty {
                        try await c.run(
                            """
                            INSERT INTO execution_history (execution_id, id, event)
                            SELECT ?, x.i, x.e FROM unnest(?::int8[], ?::bytea[]) AS x(i, e)
                            ON CONFLICT (execution_id, id) DO UPDATE SET event = excluded.event
                            """, [id, history.map { Int64($0.id) }, history.map { ByteBuffer(bytes: $0.event) }])
                    }
                case .finish(let id, let status, let output, let error, let cause, let at):
                    guard try await mine(id) else { continue }
                    try await c.run(
                        "UPDATE executions SET status = ?, output = ?, error = ?, cause = ?, stopped_at = ? WHERE id = ?",
                        [status.rawValue, output, error, cause, at.timeIntervalSince1970, id])
                case .redrive(let id, let fromSequence, let lastHistoryID, let count):
                    try await c.run("DELETE FROM execution_events WHERE execution_id = ? AND sequence >= ?", [id, fromSequence])
                    try await c.run("DELETE FROM execution_history WHERE execution_id = ? AND id > ?", [id, lastHistoryID])
                    // The node that redrives runs it.
                    try await c.run(
                        """
                        UPDATE executions SET status = 'RUNNING', output = NULL, error = NULL, cause = NULL, stopped_at = NULL,
                            redrive_count = ?, owner = ?, lease_until = extract(epoch FROM clock_timestamp()) + ? WHERE id = ?
                        """, [count, node, lease, id])
                    owned[id] = true
                case .purge(let before):
                    let ids = try await c.rows(
                        "SELECT id FROM executions WHERE status != 'RUNNING' AND stopped_at < ?", [before.timeIntervalSince1970]
                    ).map { try $0.decode("id", as: String.self) }
                    for id in ids { try await Self.deleteExecution(c, id) }
                }
            }
        }
    }

    static func deleteExecution(_ c: PostgresConnection, _ id: String) async throws {
        try await c.run("DELETE FROM execution_events WHERE execution_id = ?", [id])
        try await c.run("DELETE FROM execution_history WHERE execution_id = ?", [id])
        try await c.run("DELETE FROM executions WHERE id = ?", [id])
    }

    public func execution(id: String) async throws -> ExecutionRecord? {
        try await pg.rows("SELECT * FROM executions WHERE id = ?", [id]).first.map(Self.execution)
    }

    /// The node that runs an execution (nil: none, or no such execution).
    public func owner(executionID: String) async throws -> String? {
        try await pg.rows("SELECT owner FROM executions WHERE id = ?", [executionID]).first?.decode("owner", as: String?.self)
    }

    public func executions(namespace: String, workflow: String, status: ExecutionStatus?, before: (Date, String)?, limit: Int) async throws -> [ExecutionRecord] {
        let q = SQLiteWorkflowStore.executionsQuery(namespace: namespace, workflow: workflow, status: status, before: before, limit: limit)
        return try await pg.rows(q.sql, q.postgresArguments).map(Self.execution)
    }

    /// Claims and returns the running executions nobody holds: those without an owner and
    /// those whose owner's lease lapsed. They are this node's from now on (lease renewed).
    public func openExecutions() async throws -> [ExecutionRecord] {
        try await pg.rows(
            """
            UPDATE executions SET owner = ?, lease_until = extract(epoch FROM clock_timestamp()) + ? WHERE id IN (
                SELECT id FROM executions WHERE status = 'RUNNING'
                    AND (owner IS NULL OR lease_until IS NULL OR lease_until < extract(epoch FROM clock_timestamp()))
                FOR UPDATE SKIP LOCKED)
            RETURNING *
            """, [node, lease]
        ).map(Self.execution).sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }
    }

    /// Extends this node's leases on these executions.
    /// - Returns: the ids among them that another node holds now (it claimed them after this
    ///   node's lease lapsed): this node must stop running them. Ids not stored yet are not among them.
    public func renewExecutionLeases(ids: [String]) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        try await pg.run(
            """
            UPDATE executions SET lease_until = extract(epoch FROM clock_timestamp()) + ?
            WHERE id = ANY(?::text[]) AND owner = ? AND status = 'RUNNING'
            """, [lease, ids, node])
        return Set(try await pg.rows(
            "SELECT id FROM executions WHERE id = ANY(?::text[]) AND owner IS DISTINCT FROM ?", [ids, node]
        ).map { try $0.decode("id", as: String.self) })
    }

    public func events(executionID: String) async throws -> [Data] {
        try await pg.rows("SELECT event FROM execution_events WHERE execution_id = ? ORDER BY sequence", [executionID]).map {
            Data(buffer: try $0.decode("event", as: ByteBuffer.self))
        }
    }

    public func history(executionID: String, after: Int, limit: Int) async throws -> [Data] {
        try await pg.rows(
            "SELECT event FROM execution_history WHERE execution_id = ? AND id > ? ORDER BY id LIMIT ?", [executionID, after, limit]
        ).map { Data(buffer: try $0.decode("event", as: ByteBuffer.self)) }
    }

    static func execution(_ row: PostgresRandomAccessRow) throws -> ExecutionRecord {
        ExecutionRecord(
            id: try row.decode("id"), namespace: try row.decode("namespace"), workflow: try row.decode("workflow"), name: try row.decode("name"),
            status: ExecutionStatus(rawValue: try row.decode("status")) ?? .failed, input: try row.decode("input"),
            output: try row.decode("output", as: String?.self), error: try row.decode("error", as: String?.self),
            cause: try row.decode("cause", as: String?.self), seed: UInt64(bitPattern: try row.decode("seed", as: Int64.self)),
            definition: try row.decode("definition"), revision: try row.decode("revision", as: Int.self), version: try row.decode("version"),
            startedAt: try row.date("started_at"), stoppedAt: try row.optionalDate("stopped_at"),
            redriveCount: try row.decode("redrive_count", as: Int.self))
    }
}
