import Foundation
import PostgresNIO
import SwellStore
import Testing

/// TLS to PostgreSQL: libpq's `sslmode` and `sslrootcert` in the store URL. The connection
/// tests need a server with `ssl=on` (tests/postgres_tools/start_postgres.sh --ssl, which
/// exports SWELL_TEST_POSTGRES_CA).
@Suite struct PostgresTLSTests {
    static var ca: String? { ProcessInfo.processInfo.environment["SWELL_TEST_POSTGRES_CA"].flatMap { $0.isEmpty ? nil : $0 } }

    @Test func tlsParametersParseAndPrint() throws {
        let l = try PostgresLocation(parsing: "postgres://swell:pw@db.example/swell?sslmode=verify-full&sslrootcert=/etc/swell/ca.pem")
        #expect(l.tls == .verifyFull && l.rootCertificate == "/etc/swell/ca.pem")
        #expect(l.description == "postgres://swell:***@db.example:5432/swell?sslmode=verify-full&sslrootcert=/etc/swell/ca.pem")
        #expect(try PostgresLocation(parsing: "postgres://s@h/d?sslmode=verify-ca").tls == .verifyCA)
        #expect(try PostgresLocation(parsing: "postgres://s@h/d?sslmode=require").rootCertificate == nil)
        for bad in ["postgres://s@h/d?sslrootcert=/ca.pem", "postgres://s@h/d?sslmode=prefer&sslrootcert=/ca.pem",
                    "postgres://s@h/d?sslmode=verify-full&sslrootcert=", "postgres://s@h/d?sslmode=verify"] {
            #expect(throws: PostgresLocation.ParseError.self, "\(bad)") { try PostgresLocation(parsing: bad) }
        }
    }

    static func location(_ mode: PostgresLocation.TLSMode, ca: String?) throws -> PostgresLocation {
        var l = try PostgresLocation(parsing: StoreEngine.postgresURL!)
        l.tls = mode
        l.rootCertificate = ca
        return l
    }

    @Test(.enabled(if: StoreEngine.postgresURL != nil && ca != nil))
    func verifyFullWithTheCAConnectsEncrypted() async throws {
        for mode in [PostgresLocation.TLSMode.verifyFull, .verifyCA, .require] {
            try await PostgresStore.withStore(try Self.location(mode, ca: Self.ca), logger: TestPostgres.logger) { store in
                let ssl = try await store.connectionIsEncrypted()
                #expect(ssl, "\(mode)")
            }
        }
    }

    @Test(.enabled(if: StoreEngine.postgresURL != nil && ca != nil))
    func anotherCAOrNoCAFileIsAClearStartupError() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swell-ca-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=another CA", "-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.crt"]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        #expect(openssl.terminationStatus == 0)
        do {
            try await PostgresStore.withStore(try Self.location(.verifyFull, ca: "\(dir)/ca.crt"), logger: TestPostgres.logger) { _ in }
            Issue.record("connected with a CA that did not sign the server's certificate")
        } catch let error as PostgresStoreError {
            #expect(error.code == .unreachable)
            #expect(error.description.contains("TLS handshake failed"))
            #expect(error.description.contains("sslmode=verify-full&sslrootcert=\(dir)/ca.crt"))
        }
        do {
            try await PostgresStore.withStore(try Self.location(.verifyFull, ca: "\(dir)/missing.crt"), logger: TestPostgres.logger) { _ in }
            Issue.record("connected without a CA file")
        } catch let error as PostgresStoreError {
            #expect(error.code == .unsupported)
            #expect(error.description.contains("cannot read sslrootcert \(dir)/missing.crt"))
        }
    }
}
