import Foundation
import Logging
import NIOCore
import PostgresNIO
import SwellModel
import Synchronization

/// Why the PostgreSQL store failed, naming the database with its password masked.
public struct PostgresStoreError: Error, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// The database cannot be reached, refused the login, or does not exist.
        case unreachable
        /// Migrating the schema failed.
        case migration
        /// The store URL asks for something this build cannot do.
        case unsupported
        /// A statement failed (the reason is PostgreSQL's message).
        case query
    }

    public var code: Code
    public var location: PostgresLocation
    public var reason: String

    public var description: String {
        switch code {
        case .unreachable: "cannot connect to the store \(location): \(reason)"
        case .migration: "cannot migrate the store \(location): \(reason)"
        case .unsupported: "cannot use the store \(location): \(reason)"
        case .query: "a query of the store \(location) failed: \(reason)"
        }
    }
}

/// Every Swell store in one PostgreSQL database, shared by any number of `swell serve` nodes
/// (scale-out). Queries go through postgres-nio's connection pool (`PostgresClient`), so no
/// call ever blocks a thread; the schema is migrated at start under an advisory lock, so
/// nodes starting together migrate once.
///
/// ```swift
/// let location = try PostgresLocation(parsing: "postgres://swell@127.0.0.1:5432/swell")
/// try await PostgresStore.withStore(location, logger: logger) { store in
///     let catalog = try await store.loadCatalog()
/// }
/// ```
public final class PostgresStore: Sendable {
    public let location: PostgresLocation
    let client: PostgresClient
    let logger: Logger
    let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()
    let decoder = JSONDecoder()
    /// Log stream ids by function (they never change once created).
    let streams = Mutex<[LogStreamKey: Int64]>([:])

    init(location: PostgresLocation, client: PostgresClient, logger: Logger) {
        self.location = location
        self.client = client
        self.logger = logger
    }

    /// Connects to the database, migrates its schema and runs `body` while the connection
    /// pool runs; the pool closes when `body` returns or throws.
    /// - Throws: ``PostgresStoreError`` (`unreachable`, `migration`) before `body` runs, naming the URL with the password masked.
    public static func withStore<T: Sendable>(
        _ location: PostgresLocation, logger: Logger, maximumConnections: Int = 16, _ body: @Sendable (PostgresStore) async throws -> T
    ) async throws -> T {
        let tls = try tlsConfiguration(location)
        try await probe(location, tls: tls, logger: logger)
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password, database: location.database,
            tls: tls.client)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = 1
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        // Detached: the pool must outlive a graceful shutdown of the services that use it (they
        // flush their last writes while stopping); it closes when `body` is done.
        let pool = Task.detached { await client.run() }
        let store = PostgresStore(location: location, client: client, logger: logger)
        do {
            do {
                try await store.migrate()
            } catch let error as PostgresStoreError {
                throw error
            } catch {
                throw PostgresStoreError(code: .migration, location: location, reason: Self.describe(error))
            }
            let result = try await body(store)
            pool.cancel()
            await pool.value
            return result
        } catch {
            pool.cancel()
            await pool.value
            throw error
        }
    }

    /// One connection, opened and closed, so that a wrong address, login or database is one
    /// clear error at start (the pool would retry for ever).
    static func probe(_ location: PostgresLocation, tls: (connection: PostgresConnection.Configuration.TLS, client: PostgresClient.Configuration.TLS), logger: Logger) async throws {
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password, database: location.database,
            tls: tls.connection)
        configuration.options.connectTimeout = .seconds(10)
        do {
            let connection = try await PostgresConnection.connect(
                on: PostgresClient.defaultEventLoopGroup.next(), configuration: configuration, id: 0, logger: logger)
            try await connection.close()
        } catch {
            throw PostgresStoreError(code: .unreachable, location: location, reason: describe(error))
        }
    }

    /// The TLS settings `sslmode` and `sslrootcert` ask for, for one connection and for the pool.
    /// - Throws: ``PostgresStoreError`` (`unsupported`) when the CA file cannot be read.
    static func tlsConfiguration(
        _ location: PostgresLocation
    ) throws -> (connection: PostgresConnection.Configuration.TLS, client: PostgresClient.Configuration.TLS) {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch location.tls {
        case .disable:
            return (.disable, .disable)
        case .prefer:
            tls.certificateVerification = .none
        case .require:
            tls.certificateVerification = location.rootCertificate == nil ? .none : .noHostnameVerification
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
        case .verifyFull:
            tls.certificateVerification = .fullVerification
        }
        if let path = location.rootCertificate {
            do {
                let certificates = try NIOSSLCertificate.fromPEMFile(path)
                guard !certificates.isEmpty else { throw SwellError(.internal, "it holds no certificate") }
                tls.trustRoots = .certificates(certificates)
            } catch {
                throw PostgresStoreError(code: .unsupported, location: location, reason: "cannot read sslrootcert \(path): \(describe(error))")
            }
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: tls)
        } catch {
            throw PostgresStoreError(code: .unsupported, location: location, reason: "cannot set up TLS: \(describe(error))")
        }
        return location.tls == .prefer ? (.prefer(context), .prefer(tls)) : (.require(context), .require(tls))
    }

    /// An error in words (postgres-nio's own description hides everything, by design).
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let info = error.serverInfo, let message = info[.message] {
                return message + (info[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
            }
            if let underlying = error.underlying {
                if underlying is NIOSSLError || underlying is BoringSSLError {
                    return "TLS handshake failed, the server's certificate was not accepted (check sslrootcert and that the certificate names the host): \(underlying)"
                }
                return "\(underlying)"
            }
            if error.code == .sslUnsupported { return "the server does not offer TLS (sslmode asks for it)" }
            return error.code.description
        }
        return "\(error)"
    }

    // MARK: Migrations

    /// Named migrations, applied in order, each once (recorded in `swell_migrations`).
    static let migrations: [(name: String, statements: [String])] = [
        ("v1-control-plane", [
            "CREATE TABLE namespaces (name TEXT PRIMARY KEY, created_at DOUBLE PRECISION NOT NULL)",
            """
            CREATE TABLE functions (
                namespace TEXT NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL, revision BIGINT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (namespace, name))
            """,
            // Revisions never repeat for a name, even across delete and re-create, nor across nodes.
            "CREATE SEQUENCE function_revisions",
            """
            CREATE TABLE versions (
                namespace TEXT NOT NULL, function TEXT NOT NULL, version BIGINT NOT NULL, config TEXT NOT NULL,
                description TEXT NOT NULL, published_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (namespace, function, version))
            """,
            """
            CREATE TABLE aliases (
                namespace TEXT NOT NULL, function TEXT NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL,
                PRIMARY KEY (namespace, function, name))
            """,
            """
            CREATE TABLE keys (
                id TEXT PRIMARY KEY, namespace TEXT NOT NULL, role TEXT NOT NULL, name TEXT NOT NULL,
                hash TEXT NOT NULL UNIQUE, created_at DOUBLE PRECISION NOT NULL, revoked BOOLEAN NOT NULL DEFAULT FALSE)
            """,
            """
            CREATE TABLE function_uids (
                namespace TEXT NOT NULL, name TEXT NOT NULL, uid BIGINT NOT NULL UNIQUE, PRIMARY KEY (namespace, name))
            """,
        ]),
        ("v1-records", [
            """
            CREATE TABLE invocations (
                request_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, function TEXT NOT NULL, version TEXT NOT NULL,
                status TEXT NOT NULL, error_type TEXT, cold_start BOOLEAN NOT NULL, init_ms DOUBLE PRECISION NOT NULL,
                duration_ms DOUBLE PRECISION NOT NULL, billed_ms BIGINT NOT NULL, memory_mb BIGINT NOT NULL,
                started_at DOUBLE PRECISION NOT NULL)
            """,
            "CREATE INDEX invocations_by_function ON invocations (namespace, function, started_at)",
            "CREATE INDEX invocations_by_time ON invocations (started_at)",
        ]),
        ("v1-logs", [
            """
            CREATE TABLE log_streams (
                id BIGSERIAL PRIMARY KEY, namespace TEXT NOT NULL, function TEXT NOT NULL,
                lines BIGINT NOT NULL DEFAULT 0, bytes BIGINT NOT NULL DEFAULT 0,
                rate_limited_lines BIGINT NOT NULL DEFAULT 0, rate_limited_bytes BIGINT NOT NULL DEFAULT 0,
                queue_full_lines BIGINT NOT NULL DEFAULT 0, queue_full_bytes BIGINT NOT NULL DEFAULT 0,
                cut_lines BIGINT NOT NULL DEFAULT 0, pruned_lines BIGINT NOT NULL DEFAULT 0,
                UNIQUE (namespace, function))
            """,
            """
            CREATE TABLE logs (
                id BIGSERIAL PRIMARY KEY, fn BIGINT NOT NULL, time DOUBLE PRECISION NOT NULL, version TEXT NOT NULL,
                instance TEXT NOT NULL, request_id TEXT, stream TEXT NOT NULL, message TEXT NOT NULL, size BIGINT NOT NULL)
            """,
            "CREATE INDEX logs_by_function ON logs (fn, id)",
            "CREATE INDEX logs_by_function_time ON logs (fn, time)",
            "CREATE INDEX logs_by_request ON logs (fn, request_id) WHERE request_id IS NOT NULL",
        ]),
        ("v1-tasks", [
            """
            CREATE TABLE tasks (
                id TEXT PRIMARY KEY, namespace TEXT NOT NULL, function TEXT NOT NULL, qualifier TEXT NOT NULL,
                state TEXT NOT NULL, priority BIGINT NOT NULL, payload BYTEA NOT NULL, idempotency_key TEXT,
                timeout BIGINT, created_at DOUBLE PRECISION NOT NULL, run_at DOUBLE PRECISION NOT NULL, attempts BIGINT NOT NULL,
                starts BIGINT NOT NULL, updated_at DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION, result BYTEA, error BYTEA)
            """,
            "CREATE INDEX tasks_by_function ON tasks (namespace, function, created_at)",
            "CREATE INDEX tasks_by_state ON tasks (namespace, state, created_at)",
            "CREATE INDEX tasks_pending ON tasks (state) WHERE state IN ('queued', 'running')",
            "CREATE INDEX tasks_idempotency ON tasks (namespace, function, idempotency_key) WHERE idempotency_key IS NOT NULL",
            "CREATE INDEX tasks_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL",
            """
            CREATE TABLE task_attempts (
                task_id TEXT NOT NULL, number BIGINT NOT NULL, request_id TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL,
                finished_at DOUBLE PRECISION, outcome TEXT, error_type TEXT, error BYTEA, queue_delay_ms DOUBLE PRECISION NOT NULL,
                duration_ms DOUBLE PRECISION, cold_start BOOLEAN NOT NULL, PRIMARY KEY (task_id, number))
            """,
            "CREATE TABLE namespace_limits (namespace TEXT PRIMARY KEY, settings TEXT NOT NULL)",
        ]),
        ("v1-triggers", [
            "CREATE TABLE trigger_state (id TEXT PRIMARY KEY, paused BOOLEAN, last_fire DOUBLE PRECISION)",
        ]),
        ("v1-packages", [
            """
            CREATE TABLE packages (
                namespace TEXT NOT NULL, sha256 TEXT NOT NULL, size BIGINT NOT NULL, data BYTEA NOT NULL,
                created_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (namespace, sha256))
            """,
        ]),
        ("v2-task-leases", [
            "ALTER TABLE tasks ADD COLUMN lease_owner TEXT, ADD COLUMN lease_until DOUBLE PRECISION",
            "CREATE INDEX tasks_claimable ON tasks (priority DESC, created_at, id) WHERE state IN ('queued', 'running')",
        ]),
        // Every catalog write moves one revision and notifies the nodes (LISTEN swell_catalog).
        ("v3-catalog-revision", [
            "CREATE TABLE catalog_revision (id INT PRIMARY KEY CHECK (id = 1), revision BIGINT NOT NULL)",
            "INSERT INTO catalog_revision (id, revision) VALUES (1, 0)",
            """
            CREATE FUNCTION swell_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE r BIGINT;
            BEGIN
                UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision INTO r;
                PERFORM pg_notify('swell_catalog', r::text);
                RETURN NULL;
            END $$
            """,
            "CREATE TRIGGER functions_changed AFTER INSERT OR UPDATE OR DELETE ON functions FOR EACH STATEMENT EXECUTE FUNCTION swell_catalog_changed()",
            "CREATE TRIGGER versions_changed AFTER INSERT OR UPDATE OR DELETE ON versions FOR EACH STATEMENT EXECUTE FUNCTION swell_catalog_changed()",
            "CREATE TRIGGER aliases_changed AFTER INSERT OR UPDATE OR DELETE ON aliases FOR EACH STATEMENT EXECUTE FUNCTION swell_catalog_changed()",
            "CREATE TRIGGER keys_changed AFTER INSERT OR UPDATE OR DELETE ON keys FOR EACH STATEMENT EXECUTE FUNCTION swell_catalog_changed()",
            "CREATE TRIGGER namespaces_changed AFTER INSERT OR UPDATE OR DELETE ON namespaces FOR EACH STATEMENT EXECUTE FUNCTION swell_catalog_changed()",
        ]),
        ("v4-nodes", [
            """
            CREATE TABLE nodes (
                id TEXT PRIMARY KEY, address TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL, version TEXT NOT NULL,
                status TEXT NOT NULL, heartbeat_at DOUBLE PRECISION NOT NULL)
            """,
        ]),
        // The W3C traceparent of the span that enqueued a task (tracing on): its attempts continue that trace.
        ("v5-task-trace-parent", ["ALTER TABLE tasks ADD COLUMN trace_parent TEXT"]),
        // Explicit async caps (`async.concurrency`) read by the claims, and the leased tasks
        // they count: a cap holds across every node (TaskCapAdmission).
        ("v6-async-caps", [
            "ALTER TABLE functions ADD COLUMN async_cap BIGINT GENERATED ALWAYS AS ((config::jsonb #>> '{async,concurrency}')::int8) STORED",
            "ALTER TABLE versions ADD COLUMN async_cap BIGINT GENERATED ALWAYS AS ((config::jsonb #>> '{async,concurrency}')::int8) STORED",
            "CREATE INDEX tasks_leased ON tasks (namespace, function) WHERE lease_owner IS NOT NULL",
        ]),
        // The stores that had a SQLite implementation only: workflows (with execution owners), layers, usage, audit, AWS keys.
        PostgresWorkflowStore.migration,
        PostgresLayerStore.migration,
        PostgresUsageStore.migration,
        PostgresAuditStore.migration,
        PostgresAWSKeyStore.migration,
        // Idempotency keys unique across nodes.
        idempotencyMigration,
    ]

    /// Applies the migrations not applied yet, in one transaction under an advisory lock.
    func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.run("SELECT pg_advisory_xact_lock(7356227001)", [])
            try await connection.run(
                "CREATE TABLE IF NOT EXISTS swell_migrations (name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)", [])
            let applied = Set(try await connection.rows("SELECT name FROM swell_migrations", []).map { try $0.decode("name", as: String.self) })
            for migration in Self.migrations where !applied.contains(migration.name) {
                for statement in migration.statements { try await connection.run(statement, []) }
                try await connection.run(
                    "INSERT INTO swell_migrations (name, applied_at) VALUES (?, ?)", [migration.name, Date().timeIntervalSince1970])
                logger.notice("store migrated", metadata: ["migration": "\(migration.name)", "store": "\(location)"])
            }
        }
    }

    /// Every migration's name, in the order they apply.
    public static var migrationNames: [String] { migrations.map(\.name) }

    /// The migrations applied to the database, in order.
    public func appliedMigrations() async throws -> [String] {
        try await rows("SELECT name FROM swell_migrations ORDER BY applied_at, name", []).map { try $0.decode("name", as: String.self) }
    }

    // MARK: Queries

    func rows(_ sql: String, _ arguments: [(any PostgresThrowingDynamicTypeEncodable)?]) async throws -> [PostgresRandomAccessRow] {
        try await client.query(try PostgresQuery.make(sql, arguments), logger: logger).collect().map { $0.makeRandomAccess() }
    }

    func run(_ sql: String, _ arguments: [(any PostgresThrowingDynamicTypeEncodable)?]) async throws {
        _ = try await client.query(try PostgresQuery.make(sql, arguments), logger: logger).collect()
    }

    /// Runs `body` in a transaction; what `body` throws is rethrown as is (rolled back).
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let closureError = error.closureError { throw closureError }
            throw error
        }
    }

    /// A transaction run again (up to `attempts` times, after a short random pause) when
    /// PostgreSQL picks it as a deadlock's victim or refuses it as a serialization failure:
    /// it was rolled back, so running it again is safe. For writes that must not be lost,
    /// such as the task journal's, whose rows the node's lease renewals lock too.
    func retryingTransaction<T: Sendable>(attempts: Int = 5, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await transaction(body)
            } catch let error as PSQLError where attempt < attempts && Self.isConflict(error) {
                attempt += 1
                logger.debug("transaction retried after a conflict", metadata: ["sqlState": "\(error.serverInfo?[.sqlState] ?? "")"])
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...(20 * attempt))))
            }
        }
    }

    /// Deadlock detected (40P01) or serialization failure (40001).
    static func isConflict(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }

    func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try decoder.decode(type, from: Data(text.utf8))
    }
}

extension PostgresConnection {
    func rows(_ sql: String, _ arguments: [(any PostgresThrowingDynamicTypeEncodable)?]) async throws -> [PostgresRandomAccessRow] {
        try await query(try PostgresQuery.make(sql, arguments), logger: Logger(label: "swell.postgres")).collect().map { $0.makeRandomAccess() }
    }

    func run(_ sql: String, _ arguments: [(any PostgresThrowingDynamicTypeEncodable)?]) async throws {
        _ = try await query(try PostgresQuery.make(sql, arguments), logger: Logger(label: "swell.postgres")).collect()
    }
}

extension PostgresQuery {
    /// A query written with `?` placeholders (as the SQLite stores write theirs), numbered
    /// `$1, $2…` in order; `nil` binds NULL. The SQL holds no `?` of its own.
    static func make(_ sql: String, _ arguments: [(any PostgresThrowingDynamicTypeEncodable)?]) throws -> PostgresQuery {
        var text = ""
        text.reserveCapacity(sql.utf8.count + arguments.count * 2)
        var n = 0
        for c in sql {
            if c == "?" {
                n += 1
                text += "$\(n)"
            } else {
                text.append(c)
            }
        }
        precondition(n == arguments.count, "\(n) placeholders, \(arguments.count) arguments: \(sql)")
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            if let argument { try bind(argument, &binds) } else { binds.appendNull() }
        }
        return PostgresQuery(unsafeSQL: text, binds: binds)
    }

    private static func bind<V: PostgresThrowingDynamicTypeEncodable>(_ value: V, _ binds: inout PostgresBindings) throws {
        try binds.append(value)
    }
}

extension PostgresRandomAccessRow {
    func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try self[column].decode(T.self)
    }

    func date(_ column: String) throws -> Date {
        Date(timeIntervalSince1970: try decode(column, as: Double.self))
    }

    func optionalDate(_ column: String) throws -> Date? {
        try decode(column, as: Double?.self).map { Date(timeIntervalSince1970: $0) }
    }
}

extension PostgresStore {
    /// Whether this store's connections are encrypted (TLS), as the server sees one of them.
    public func connectionIsEncrypted() async throws -> Bool {
        try await rows("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", []).first?.decode("ssl", as: Bool.self) ?? false
    }
}
