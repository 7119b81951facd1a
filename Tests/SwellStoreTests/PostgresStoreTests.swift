import Foundation
import SwellModel
import SwellStore
import Testing

/// What only the PostgreSQL store has: its URL, migrations, shared code packages, and its
/// start-up errors.
@Suite struct PostgresStoreTests {
    @Test func urlsParseAndPrintWithoutTheirPassword() throws {
        let l = try PostgresLocation(parsing: "postgres://swell:s3cr%40t@db.example:6543/swell_prod")
        #expect(l.user == "swell" && l.password == "s3cr@t" && l.host == "db.example" && l.port == 6543 && l.database == "swell_prod")
        #expect(l.description == "postgres://swell:***@db.example:6543/swell_prod")
        #expect(!"\(l)".contains("s3cr"))
        let plain = try PostgresLocation(parsing: "postgresql://me@127.0.0.1/db")
        #expect(plain.port == 5432 && plain.password == nil && plain.description == "postgres://me@127.0.0.1:5432/db")
        for bad in ["postgres://127.0.0.1:5432/db", "postgres://me@/db", "postgres://me@host:5432", "postgres://me@host/db?x=1",
                    "postgres://me@host/db?sslmode=maybe", "mysql://me@host/db", "postgres://me:pw@host:99999/db"] {
            #expect(throws: PostgresLocation.ParseError.self, "\(bad)") { try PostgresLocation(parsing: bad) }
        }
        // The refusal never repeats the URL (it may hold a password).
        do {
            _ = try PostgresLocation(parsing: "postgres://me:hunter2@host:5432")
        } catch {
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test func anUnreachableDatabaseIsOneClearErrorWithTheURLMasked() async throws {
        // A port nothing listens on (bound, then closed).
        let location = PostgresLocation(user: "swell", password: "hunter2", host: "127.0.0.1", port: 1, database: "nowhere")
        do {
            try await PostgresStore.withStore(location, logger: TestPostgres.logger) { _ in }
            Issue.record("connected to nothing")
        } catch let error as PostgresStoreError {
            #expect(error.code == .unreachable)
            #expect(error.description.hasPrefix("cannot connect to the store postgres://swell:***@127.0.0.1:1/nowhere: "))
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test(.enabled(if: StoreEngine.postgresURL != nil))
    func aMissingDatabaseIsNamed() async throws {
        var location = try PostgresLocation(parsing: StoreEngine.postgresURL!)
        location.database = "no_such_database_here"
        do {
            try await PostgresStore.withStore(location, logger: TestPostgres.logger) { _ in }
            Issue.record("connected to a database that does not exist")
        } catch let error as PostgresStoreError {
            #expect(error.code == .unreachable)
            #expect(error.description.contains("no_such_database_here"))
        }
    }

    @Test(.enabled(if: StoreEngine.postgresURL != nil))
    func migrationsRunOnceFromAnEmptyDatabaseEvenWhenNodesStartTogether() async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { store in
            let applied = try await store.appliedMigrations()
            #expect(applied == PostgresStore.migrationNames && applied.first == "v1-control-plane")
            // Three more nodes start on the same database at once: nothing is applied twice.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        try await PostgresStore.withStore(store.location, logger: TestPostgres.logger) { again in
                            let got = try await again.appliedMigrations()
                            #expect(got == applied)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test(.enabled(if: StoreEngine.postgresURL != nil))
    func codePackagesStoredByOneNodeAreFetchedByAnother() async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { pg in
            let archive = try TarArchive.write([TarArchive.Entry(path: "index.js", mode: 0o644, kind: .file(Data("exports.handler=async()=>1".utf8)))])
            let sha = CodeDigest.of(archive)
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("swell-pkg-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: root) }
            for node in ["a", "b"] { try FileManager.default.createDirectory(atPath: "\(root)/\(node)", withIntermediateDirectories: true) }
            let nodeA = try CodeStore(directory: "\(root)/a/code", unpackDirectory: "\(root)/a/run", shared: pg)
            let nodeB = try CodeStore(directory: "\(root)/b/code", unpackDirectory: "\(root)/b/run", shared: pg)
            #expect(try await nodeA.store(archive, namespace: "n", sha256: sha) == archive.count)
            #expect(try await pg.packageSize(namespace: "n", sha256: sha) == archive.count)
            #expect(!nodeB.has(namespace: "n", sha256: sha))
            #expect(try await nodeB.ensureLocal(namespace: "n", sha256: sha))
            #expect(nodeB.has(namespace: "n", sha256: sha) && nodeB.size(namespace: "n", sha256: sha) == archive.count)
            // Per namespace, as on one node.
            #expect(!(try await nodeB.ensureLocal(namespace: "other", sha256: sha)))
            #expect(try await pg.package(namespace: "other", sha256: sha) == nil)
            // Storing again changes nothing.
            try await pg.putPackage(archive, namespace: "n", sha256: sha)
            #expect(try await pg.package(namespace: "n", sha256: sha) == archive)
        }
    }
}
