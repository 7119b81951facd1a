import Foundation
import Logging
import PostgresNIO
import SwellModel
import SwellStore
import Testing

/// The engines every store contract suite runs against. PostgreSQL runs when
/// `SWELL_TEST_POSTGRES_URL` names a server (scripts/test.sh starts one:
/// tests/postgres_tools/start_postgres.sh); each test then gets a database of its own,
/// created empty (so every run also migrates from nothing) and dropped afterwards.
enum StoreEngine: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// Every store of one engine, fresh.
    struct Stores: Sendable {
        var control: any ControlStore & RecordStore
        var tasks: any TaskStorage
        var triggers: any TriggerStorage
        var logs: any LogStorage
        var packages: (any PackageStorage)?
        var postgres: PostgresStore?
        var workflows: any WorkflowStore
        var layers: any LayerStorage
        var usage: any UsageStore
        var audit: any AuditStore
        var awsKeys: any AWSKeyStorage
    }

    static var postgresURL: String? {
        ProcessInfo.processInfo.environment["SWELL_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    static let skipNote = "SWELL_TEST_POSTGRES_URL is not set: the PostgreSQL runs of the store contracts are SKIPPED (scripts/test.sh starts a server; or eval \"$(tests/postgres_tools/start_postgres.sh)\")"

    /// Runs `body` with fresh stores of this engine; for PostgreSQL without a server, says so and returns.
    func withStores(_ body: @Sendable (Stores) async throws -> Void) async throws {
        switch self {
        case .sqlite:
            try await body(Stores(
                control: try SQLiteStore.inMemory(), tasks: try TaskStore.inMemory(), triggers: try TriggerStore.inMemory(),
                logs: try LogStore.inMemory(), packages: nil, postgres: nil, workflows: try SQLiteWorkflowStore.inMemory(),
                layers: try LayerStore.inMemory(), usage: try SQLiteUsageStore.inMemory(), audit: try SQLiteAuditStore.inMemory(),
                awsKeys: try AWSKeyStore.inMemory()))
        case .postgres:
            guard let url = Self.postgresURL else {
                print("note: \(Self.skipNote)")
                return
            }
            try await TestPostgres.withFreshDatabase(url) { store in
                try await body(Stores(
                    control: store, tasks: store, triggers: store, logs: store, packages: store, postgres: store,
                    // A lease of 0: the executions are nobody's once written, so `openExecutions` returns them
                    // all as on SQLite (how nodes share them: SharedStoresContractTests.executionsBelongToOneNodeAtATime).
                    workflows: PostgresWorkflowStore(store: store, node: "node-a", lease: 0), layers: PostgresLayerStore(store: store),
                    usage: PostgresUsageStore(store: store), audit: PostgresAuditStore(store: store),
                    awsKeys: try await PostgresAWSKeyStore.open(store)))
            }
        }
    }
}

/// Says, visibly, when the PostgreSQL contract runs are skipped.
@Suite struct PostgresAvailability {
    @Test(.disabled(if: StoreEngine.postgresURL == nil, Comment(rawValue: StoreEngine.skipNote)))
    func postgresContractsRun() async throws {
        #expect(StoreEngine.postgresURL != nil)
    }
}

enum TestPostgres {
    static var logger: Logger {
        var logger = Logger(label: "swell.test.postgres")
        logger.logLevel = .warning
        return logger
    }

    /// Creates an empty database on the server `url` names, runs `body` with a migrated store
    /// on it, then drops it.
    static func withFreshDatabase(_ url: String, _ body: @Sendable (PostgresStore) async throws -> Void) async throws {
        let base = try PostgresLocation(parsing: url)
        var fresh = base
        fresh.database = "swell_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await admin(base, "CREATE DATABASE \(fresh.database)")
        do {
            try await PostgresStore.withStore(fresh, logger: logger) { store in try await body(store) }
        } catch {
            try? await admin(base, "DROP DATABASE \(fresh.database) WITH (FORCE)")
            throw error
        }
        try await admin(base, "DROP DATABASE \(fresh.database) WITH (FORCE)")
    }

    static func admin(_ location: PostgresLocation, _ sql: String) async throws {
        let configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password, database: location.database,
            tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        do {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}
