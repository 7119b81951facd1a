import Foundation
import GRDB
import SwellModel

/// A stored workflow definition (the Amazon States Language text, JSON).
public struct WorkflowRecord: Sendable, Hashable, Codable {
    public var namespace: String
    public var name: String
    /// The definition as JSON text (YAML is converted before it is stored).
    public var definition: String
    /// Bumped whenever the definition changes (an identical deploy keeps it).
    public var revision: Int
    public var createdAt: Date
    public var updatedAt: Date
    /// Timer, Kafka and object-store triggers that start executions of `$LATEST` (or each
    /// one's `qualifier`), as the manifest's `workflows.NAME.triggers` gives them.
    public var triggers: [TriggerConfig]

    public init(namespace: String, name: String, definition: String, revision: Int, createdAt: Date, updatedAt: Date, triggers: [TriggerConfig] = []) {
        self.namespace = namespace
        self.name = name
        self.definition = definition
        self.triggers = triggers
        self.revision = revision
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A published, immutable version of a workflow (1, 2, …).
public struct WorkflowVersionRecord: Sendable, Hashable {
    public var namespace: String
    public var workflow: String
    public var version: Int
    public var definition: String
    public var description: String
    public var publishedAt: Date

    public init(namespace: String, workflow: String, version: Int, definition: String, description: String, publishedAt: Date) {
        self.namespace = namespace
        self.workflow = workflow
        self.version = version
        self.definition = definition
        self.description = description
        self.publishedAt = publishedAt
    }
}

/// A name for a published version of a workflow (`live` → 3), optionally sending a weighted
/// share of the executions it starts to another version (`additionalVersionWeights`, as a
/// function alias's routing config).
public struct WorkflowAliasRecord: Sendable, Hashable {
    public var namespace: String
    public var workflow: String
    public var name: String
    public var version: Int
    /// Version number → share of starts in (0, 1); at most one entry.
    public var additionalVersionWeights: [Int: Double]
    public var description: String

    public init(namespace: String, workflow: String, name: String, version: Int, additionalVersionWeights: [Int: Double] = [:], description: String = "") {
        self.namespace = namespace
        self.workflow = workflow
        self.name = name
        self.version = version
        self.additionalVersionWeights = additionalVersionWeights
        self.description = description
    }

    /// The routing as a function alias's (its `pick` chooses a start's version).
    public var routing: AliasConfig {
        AliasConfig(version: version, additionalVersionWeights: additionalVersionWeights, description: description)
    }
}

/// What a start runs: a definition, the revision of `$LATEST` or the version it came from.
public struct ResolvedWorkflow: Sendable, Hashable {
    public var definition: String
    public var revision: Int
    /// `$LATEST` or the version number.
    public var version: String
}

/// Where an execution stands, as the store and the API name it (the Step Functions names).
public enum ExecutionStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case running = "RUNNING"
    case succeeded = "SUCCEEDED"
    case failed = "FAILED"
    case timedOut = "TIMED_OUT"
    case aborted = "ABORTED"
}

/// One execution of a workflow. The definition it started with is kept with it, so that an
/// update of the workflow never changes an execution under way (nor its replay).
public struct ExecutionRecord: Sendable, Hashable, Codable {
    /// `namespace/workflow/name`: unique, and what the engine keys executions by.
    public var id: String
    public var namespace: String
    public var workflow: String
    public var name: String
    public var status: ExecutionStatus
    /// The input as JSON text.
    public var input: String
    public var output: String?
    public var error: String?
    public var cause: String?
    /// The seed of the execution's random numbers (jitter, MathRandom, UUID, task tokens).
    public var seed: UInt64
    public var definition: String
    public var revision: Int
    /// The version that runs: `$LATEST` or a published version's number.
    public var version: String
    public var startedAt: Date
    public var stoppedAt: Date?
    public var redriveCount: Int

    public init(
        id: String, namespace: String, workflow: String, name: String, status: ExecutionStatus, input: String, output: String? = nil,
        error: String? = nil, cause: String? = nil, seed: UInt64, definition: String, revision: Int, version: String = "$LATEST", startedAt: Date, stoppedAt: Date? = nil,
        redriveCount: Int = 0
    ) {
        self.version = version
        self.id = id
        self.namespace = namespace
        self.workflow = workflow
        self.name = name
        self.status = status
        self.input = input
        self.output = output
        self.error = error
        self.cause = cause
        self.seed = seed
        self.definition = definition
        self.revision = revision
        self.startedAt = startedAt
        self.stoppedAt = stoppedAt
        self.redriveCount = redriveCount
    }
}

/// A change to the workflow tables; the journal applies many in one transaction (one fsync).
public enum WorkflowWrite: Sendable {
    /// A new execution (before its first event).
    case create(ExecutionRecord)
    /// One event applied to an execution (`sequence` 0, 1, …: the replay order), with the
    /// history events it recorded (id, encoded event). Both go in the same transaction.
    case step(executionID: String, sequence: Int, event: Data, history: [(id: Int, event: Data)])
    /// The execution ended.
    case finish(executionID: String, status: ExecutionStatus, output: String?, error: String?, cause: String?, at: Date)
    /// A redrive: the events from `sequence` on and the history after `lastHistoryID` go, the
    /// execution runs again.
    case redrive(executionID: String, fromSequence: Int, lastHistoryID: Int, redriveCount: Int)
    /// Retention: finished executions (with their events and history) that stopped before the date go.
    case purge(stoppedBefore: Date)
}

/// Durable state of workflows: definitions, executions, their journaled events (replayed
/// after a restart) and their history. The SQLite implementation is `SQLiteWorkflowStore`;
/// the journal's group commit calls `apply` from its own thread.
public protocol WorkflowStore: Sendable {
    /// Creates or replaces a definition and its triggers; `changed` is false when both are the
    /// same. The revision is bumped when the definition's text changes.
    func putWorkflow(namespace: String, name: String, definition: String, triggers: [TriggerConfig]) async throws -> (WorkflowRecord, changed: Bool)
    /// Every workflow that has triggers, with them (all namespaces).
    func workflowTriggers() async throws -> [(namespace: String, workflow: String, triggers: [TriggerConfig])]
    /// Deletes a workflow and its finished executions; false when it did not exist.
    func deleteWorkflow(namespace: String, name: String) async throws -> Bool
    func workflow(namespace: String, name: String) async throws -> WorkflowRecord?
    func workflows(namespace: String) async throws -> [WorkflowRecord]
    /// Freezes the current definition as the next version, or returns the newest version when it
    /// already has the same definition (`created` false). Nil when the workflow does not exist.
    func publishWorkflow(namespace: String, name: String, description: String) async throws -> (WorkflowVersionRecord, created: Bool)?
    func workflowVersions(namespace: String, name: String) async throws -> [WorkflowVersionRecord]
    /// Creates or moves an alias; false when its version (or a weighted one) does not exist.
    func putWorkflowAlias(_ alias: WorkflowAliasRecord) async throws -> Bool
    func deleteWorkflowAlias(namespace: String, workflow: String, name: String) async throws -> Bool
    func workflowAliases(namespace: String, workflow: String) async throws -> [WorkflowAliasRecord]
    /// The definition a qualifier names: nil or `$LATEST`, a version number, an alias (with
    /// weights: the version `random`, uniform in [0, 1), picks). Nil when there is none.
    func resolveWorkflow(namespace: String, name: String, qualifier: String?, random: Double) async throws -> ResolvedWorkflow?

    /// Applies writes in one transaction (all or none). Blocking: called by the journal's writer thread.
    func apply(_ writes: [WorkflowWrite]) throws

    func execution(id: String) async throws -> ExecutionRecord?
    /// Executions of a workflow, newest first, after the cursor `before` (start time, id).
    func executions(namespace: String, workflow: String, status: ExecutionStatus?, before: (Date, String)?, limit: Int) async throws -> [ExecutionRecord]
    /// Every execution that is running (for recovery at start).
    func openExecutions() async throws -> [ExecutionRecord]
    /// The journaled events of an execution, in order.
    func events(executionID: String) async throws -> [Data]
    /// History events with an id above `after`, in order.
    func history(executionID: String, after: Int, limit: Int) async throws -> [Data]
}

extension WorkflowStore {
    /// The definition a qualifier names, a weighted alias's version picked at random.
    public func resolveWorkflow(namespace: String, name: String, qualifier: String?) async throws -> ResolvedWorkflow? {
        try await resolveWorkflow(namespace: namespace, name: name, qualifier: qualifier, random: Double.random(in: 0..<1))
    }

    /// Creates or replaces a definition without triggers.
    public func putWorkflow(namespace: String, name: String, definition: String) async throws -> (WorkflowRecord, changed: Bool) {
        try await putWorkflow(namespace: namespace, name: name, definition: definition, triggers: [])
    }
}

/// Workflow executions shared by many nodes (PostgreSQL): each running execution has an
/// owner holding a lease, so that one node at a time runs it; `openExecutions()` claims those
/// whose lease lapsed (a dead node's), and the owner renews its leases while it runs them.
public protocol WorkflowExecutionLeasing: WorkflowStore {
    /// This node's name (the owner of what it creates and claims).
    var node: String { get }
    /// Extends this node's leases on these executions.
    /// - Returns: the ids among them another node holds now (this node must stop running them).
    func renewExecutionLeases(ids: [String]) async throws -> Set<String>
    /// The node that runs an execution (nil: none, or no such execution).
    func owner(executionID: String) async throws -> String?
}

/// The workflow tables in their own SQLite database (`workflows.db`, WAL, `synchronous=FULL`).
public final class SQLiteWorkflowStore: WorkflowStore {
    let db: any DatabaseWriter

    public convenience init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        try self.init(writer: DatabasePool(path: path, configuration: config))
    }

    public static func inMemory() throws -> SQLiteWorkflowStore { try SQLiteWorkflowStore(writer: DatabaseQueue()) }

    init(writer: any DatabaseWriter) throws {
        db = writer
        var m = DatabaseMigrator()
        m.registerMigration("v1-workflows") { db in
            try db.execute(sql: """
                CREATE TABLE workflows (
                    namespace TEXT NOT NULL, name TEXT NOT NULL, definition TEXT NOT NULL, revision INTEGER NOT NULL,
                    created_at DOUBLE NOT NULL, updated_at DOUBLE NOT NULL, PRIMARY KEY (namespace, name));
                CREATE TABLE executions (
                    id TEXT PRIMARY KEY, namespace TEXT NOT NULL, workflow TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
                    input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT, seed INTEGER NOT NULL, definition TEXT NOT NULL,
                    revision INTEGER NOT NULL, version TEXT NOT NULL DEFAULT '$LATEST', started_at DOUBLE NOT NULL, stopped_at DOUBLE,
                    redrive_count INTEGER NOT NULL DEFAULT 0);
                CREATE INDEX executions_by_workflow ON executions (namespace, workflow, started_at);
                CREATE INDEX executions_by_status ON executions (status);
                CREATE TABLE execution_events (
                    execution_id TEXT NOT NULL, sequence INTEGER NOT NULL, event BLOB NOT NULL, PRIMARY KEY (execution_id, sequence)) WITHOUT ROWID;
                CREATE TABLE workflow_versions (
                    namespace TEXT NOT NULL, workflow TEXT NOT NULL, version INTEGER NOT NULL, definition TEXT NOT NULL,
                    description TEXT NOT NULL, published_at DOUBLE NOT NULL, PRIMARY KEY (namespace, workflow, version));
                CREATE TABLE workflow_aliases (
                    namespace TEXT NOT NULL, workflow TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
                    PRIMARY KEY (namespace, workflow, name));
                CREATE TABLE execution_history (
                    execution_id TEXT NOT NULL, id INTEGER NOT NULL, event BLOB NOT NULL, PRIMARY KEY (execution_id, id)) WITHOUT ROWID;
                """)
        }
        m.registerMigration("v2-workflow-triggers") { db in
            try db.execute(sql: "ALTER TABLE workflows ADD COLUMN triggers TEXT NOT NULL DEFAULT '[]'")
        }
        m.registerMigration("v3-workflow-alias-weights") { db in
            try db.execute(sql: """
                ALTER TABLE workflow_aliases ADD COLUMN weights TEXT NOT NULL DEFAULT '{}';
                ALTER TABLE workflow_aliases ADD COLUMN description TEXT NOT NULL DEFAULT '';
                """)
        }
        try m.migrate(writer)
    }

    // MARK: Definitions

    public func putWorkflow(
        namespace: String, name: String, definition: String, triggers: [TriggerConfig]
    ) async throws -> (WorkflowRecord, changed: Bool) {
        let triggersText = String(decoding: try JSONEncoder().encode(triggers), as: UTF8.self)
        return try await db.write { db in
            let now = Date()
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM workflows WHERE namespace = ? AND name = ?", arguments: [namespace, name]) {
                var record = Self.workflow(row)
                if record.definition == definition && record.triggers == triggers { return (record, false) }
                if record.definition != definition { record.revision += 1 }
                record.definition = definition
                record.triggers = triggers
                record.updatedAt = now
                try db.execute(
                    sql: "UPDATE workflows SET definition = ?, revision = ?, updated_at = ?, triggers = ? WHERE namespace = ? AND name = ?",
                    arguments: [definition, record.revision, now.timeIntervalSince1970, triggersText, namespace, name])
                return (record, true)
            }
            let record = WorkflowRecord(
                namespace: namespace, name: name, definition: definition, revision: 1, createdAt: now, updatedAt: now, triggers: triggers)
            try db.execute(
                sql: "INSERT INTO workflows (namespace, name, definition, revision, created_at, updated_at, triggers) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [namespace, name, definition, 1, now.timeIntervalSince1970, now.timeIntervalSince1970, triggersText])
            return (record, true)
        }
    }

    public func workflowTriggers() async throws -> [(namespace: String, workflow: String, triggers: [TriggerConfig])] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM workflows WHERE triggers != '[]' ORDER BY namespace, name").map { row in
                let record = Self.workflow(row)
                return (record.namespace, record.name, record.triggers)
            }
        }
    }

    public func deleteWorkflow(namespace: String, name: String) async throws -> Bool {
        try await db.write { db in
            try db.execute(sql: "DELETE FROM workflows WHERE namespace = ? AND name = ?", arguments: [namespace, name])
            let deleted = db.changesCount > 0
            try db.execute(sql: "DELETE FROM workflow_versions WHERE namespace = ? AND workflow = ?", arguments: [namespace, name])
            try db.execute(sql: "DELETE FROM workflow_aliases WHERE namespace = ? AND workflow = ?", arguments: [namespace, name])
            let ids = try String.fetchAll(
                db, sql: "SELECT id FROM executions WHERE namespace = ? AND workflow = ? AND status != 'RUNNING'", arguments: [namespace, name])
            for id in ids { try Self.deleteExecution(db, id) }
            return deleted
        }
    }

    public func workflow(namespace: String, name: String) async throws -> WorkflowRecord? {
        try await db.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM workflows WHERE namespace = ? AND name = ?", arguments: [namespace, name]).map(Self.workflow)
        }
    }

    public func workflows(namespace: String) async throws -> [WorkflowRecord] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM workflows WHERE namespace = ? ORDER BY name", arguments: [namespace]).map(Self.workflow)
        }
    }

    public func publishWorkflow(namespace: String, name: String, description: String) async throws -> (WorkflowVersionRecord, created: Bool)? {
        try await db.write { db in
            guard let current = try Row.fetchOne(db, sql: "SELECT * FROM workflows WHERE namespace = ? AND name = ?", arguments: [namespace, name])
                .map(Self.workflow) else { return nil }
            if let newest = try Row.fetchOne(
                db, sql: "SELECT * FROM workflow_versions WHERE namespace = ? AND workflow = ? ORDER BY version DESC LIMIT 1", arguments: [namespace, name])
                .map(Self.version), newest.definition == current.definition
            {
                return (newest, false)
            }
            let next = (try Int.fetchOne(
                db, sql: "SELECT MAX(version) FROM workflow_versions WHERE namespace = ? AND workflow = ?", arguments: [namespace, name]) ?? 0) + 1
            let record = WorkflowVersionRecord(namespace: namespace, workflow: name, version: next, definition: current.definition, description: description, publishedAt: Date())
            try db.execute(
                sql: "INSERT INTO workflow_versions (namespace, workflow, version, definition, description, published_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [namespace, name, next, record.definition, description, record.publishedAt.timeIntervalSince1970])
            return (record, true)
        }
    }

    public func workflowVersions(namespace: String, name: String) async throws -> [WorkflowVersionRecord] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM workflow_versions WHERE namespace = ? AND workflow = ? ORDER BY version", arguments: [namespace, name])
                .map(Self.version)
        }
    }

    public func putWorkflowAlias(_ alias: WorkflowAliasRecord) async throws -> Bool {
        let weights = Self.weightsText(alias.additionalVersionWeights)
        return try await db.write { db in
            for version in [alias.version] + alias.additionalVersionWeights.keys.sorted() {
                guard try Int.fetchOne(
                    db, sql: "SELECT version FROM workflow_versions WHERE namespace = ? AND workflow = ? AND version = ?",
                    arguments: [alias.namespace, alias.workflow, version]) != nil else { return false }
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO workflow_aliases (namespace, workflow, name, version, weights, description) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [alias.namespace, alias.workflow, alias.name, alias.version, weights, alias.description])
            return true
        }
    }

    public func deleteWorkflowAlias(namespace: String, workflow: String, name: String) async throws -> Bool {
        try await db.write { db in
            try db.execute(sql: "DELETE FROM workflow_aliases WHERE namespace = ? AND workflow = ? AND name = ?", arguments: [namespace, workflow, name])
            return db.changesCount > 0
        }
    }

    public func workflowAliases(namespace: String, workflow: String) async throws -> [WorkflowAliasRecord] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM workflow_aliases WHERE namespace = ? AND workflow = ? ORDER BY name", arguments: [namespace, workflow])
                .map(Self.alias)
        }
    }

    static func alias(_ row: Row) -> WorkflowAliasRecord {
        WorkflowAliasRecord(
            namespace: row["namespace"], workflow: row["workflow"], name: row["name"], version: row["version"],
            additionalVersionWeights: weights(row["weights"] ?? "{}"), description: row["description"] ?? "")
    }

    /// `{"2":0.1}` (JSON object keyed by version number).
    static func weightsText(_ weights: [Int: Double]) -> String {
        let strings = Dictionary(uniqueKeysWithValues: weights.map { (String($0.key), $0.value) })
        return (try? JSONEncoder().encode(strings)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func weights(_ text: String) -> [Int: Double] {
        guard let strings = try? JSONDecoder().decode([String: Double].self, from: Data(text.utf8)) else { return [:] }
        return Dictionary(uniqueKeysWithValues: strings.compactMap { k, v in Int(k).map { ($0, v) } })
    }

    public func resolveWorkflow(namespace: String, name: String, qualifier: String?, random: Double) async throws -> ResolvedWorkflow? {
        try await db.read { db -> ResolvedWorkflow? in
            guard let current = try Row.fetchOne(db, sql: "SELECT * FROM workflows WHERE namespace = ? AND name = ?", arguments: [namespace, name])
                .map(Self.workflow) else { return nil }
            guard let qualifier, qualifier != "$LATEST" else {
                return ResolvedWorkflow(definition: current.definition, revision: current.revision, version: "$LATEST")
            }
            var number = Int(qualifier)
            if number == nil {
                number = try Row.fetchOne(
                    db, sql: "SELECT * FROM workflow_aliases WHERE namespace = ? AND workflow = ? AND name = ?", arguments: [namespace, name, qualifier]
                ).map { Self.alias($0).routing.pick(random) }
            }
            guard let number, let version = try Row.fetchOne(
                db, sql: "SELECT * FROM workflow_versions WHERE namespace = ? AND workflow = ? AND version = ?", arguments: [namespace, name, number])
                .map(Self.version) else { return nil }
            return ResolvedWorkflow(definition: version.definition, revision: current.revision, version: String(version.version))
        }
    }

    static func version(_ row: Row) -> WorkflowVersionRecord {
        WorkflowVersionRecord(
            namespace: row["namespace"], workflow: row["workflow"], version: row["version"], definition: row["definition"],
            description: row["description"], publishedAt: Date(timeIntervalSince1970: row["published_at"]))
    }

    static func workflow(_ row: Row) -> WorkflowRecord {
        WorkflowRecord(
            namespace: row["namespace"], name: row["name"], definition: row["definition"], revision: row["revision"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]), updatedAt: Date(timeIntervalSince1970: row["updated_at"]),
            triggers: (try? JSONDecoder().decode([TriggerConfig].self, from: Data((row["triggers"] as String? ?? "[]").utf8))) ?? [])
    }

    // MARK: Executions

    public func apply(_ writes: [WorkflowWrite]) throws {
        try db.write { db in
            for write in writes {
                switch write {
                case .create(let r):
                    try db.execute(
                        sql: """
                            INSERT INTO executions (id, namespace, workflow, name, status, input, output, error, cause, seed, definition,
                                revision, version, started_at, stopped_at, redrive_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            r.id, r.namespace, r.workflow, r.name, r.status.rawValue, r.input, r.output, r.error, r.cause,
                            Int64(bitPattern: r.seed), r.definition, r.revision, r.version, r.startedAt.timeIntervalSince1970,
                            r.stoppedAt?.timeIntervalSince1970, r.redriveCount,
                        ])
                case .step(let id, let sequence, let event, let history):
                    // Cached statements: a step is the journal's most frequent write (SQL compiled once per connection).
                    try db.cachedStatement(sql: "INSERT OR REPLACE INTO execution_events (execution_id, sequence, event) VALUES (?, ?, ?)")
                        .execute(arguments: [id, sequence, event])
                    let statement = try db.cachedStatement(sql: "INSERT OR REPLACE INTO execution_history (execution_id, id, event) VALUES (?, ?, ?)")
                    for h in history { try statement.execute(arguments: [id, h.id, h.event]) }
                case .finish(let id, let status, let output, let error, let cause, let at):
                    try db.cachedStatement(sql: "UPDATE executions SET status = ?, output = ?, error = ?, cause = ?, stopped_at = ? WHERE id = ?")
                        .execute(arguments: [status.rawValue, output, error, cause, at.timeIntervalSince1970, id])
                case .redrive(let id, let fromSequence, let lastHistoryID, let count):
                    try db.execute(sql: "DELETE FROM execution_events WHERE execution_id = ? AND sequence >= ?", arguments: [id, fromSequence])
                    try db.execute(sql: "DELETE FROM execution_history WHERE execution_id = ? AND id > ?", arguments: [id, lastHistoryID])
                    try db.execute(
                        sql: "UPDATE executions SET status = 'RUNNING', output = NULL, error = NULL, cause = NULL, stopped_at = NULL, redrive_count = ? WHERE id = ?",
                        arguments: [count, id])
                case .purge(let before):
                    let ids = try String.fetchAll(
                        db, sql: "SELECT id FROM executions WHERE status != 'RUNNING' AND stopped_at < ?", arguments: [before.timeIntervalSince1970])
                    for id in ids { try Self.deleteExecution(db, id) }
                }
            }
        }
    }

    static func deleteExecution(_ db: Database, _ id: String) throws {
        try db.execute(sql: "DELETE FROM execution_events WHERE execution_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM execution_history WHERE execution_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM executions WHERE id = ?", arguments: [id])
    }

    public func execution(id: String) async throws -> ExecutionRecord? {
        try await db.read { db in try Row.fetchOne(db, sql: "SELECT * FROM executions WHERE id = ?", arguments: [id]).map(Self.execution) }
    }

    public func executions(namespace: String, workflow: String, status: ExecutionStatus?, before: (Date, String)?, limit: Int) async throws -> [ExecutionRecord] {
        let q = Self.executionsQuery(namespace: namespace, workflow: workflow, status: status, before: before, limit: limit)
        return try await db.read { db in try Row.fetchAll(db, sql: q.sql, arguments: q.sqliteArguments).map(Self.execution) }
    }

    public func openExecutions() async throws -> [ExecutionRecord] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM executions WHERE status = 'RUNNING' ORDER BY started_at, id").map(Self.execution)
        }
    }

    public func events(executionID: String) async throws -> [Data] {
        try await db.read { db in
            try Data.fetchAll(db, sql: "SELECT event FROM execution_events WHERE execution_id = ? ORDER BY sequence", arguments: [executionID])
        }
    }

    public func history(executionID: String, after: Int, limit: Int) async throws -> [Data] {
        try await db.read { db in
            try Data.fetchAll(
                db, sql: "SELECT event FROM execution_history WHERE execution_id = ? AND id > ? ORDER BY id LIMIT ?",
                arguments: [executionID, after, limit])
        }
    }

    static func execution(_ row: Row) -> ExecutionRecord {
        let seed: Int64 = row["seed"]
        let stopped: Double? = row["stopped_at"]
        return ExecutionRecord(
            id: row["id"], namespace: row["namespace"], workflow: row["workflow"], name: row["name"],
            status: ExecutionStatus(rawValue: row["status"]) ?? .failed, input: row["input"], output: row["output"], error: row["error"],
            cause: row["cause"], seed: UInt64(bitPattern: seed), definition: row["definition"], revision: row["revision"],
            version: row["version"], startedAt: Date(timeIntervalSince1970: row["started_at"]), stoppedAt: stopped.map { Date(timeIntervalSince1970: $0) },
            redriveCount: row["redrive_count"])
    }
}
