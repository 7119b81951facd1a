import Crypto
import Foundation
import PostgresNIO
import SwellModel
import Synchronization

/// AWS access keys in the PostgreSQL store every node shares (migration `v6-aws-keys`): a key
/// issued on one node signs requests to any. Secrets are sealed (AES-GCM, the access key id
/// authenticated) under a sealing key kept in the database itself (`aws_master`, created by
/// the first node), since the nodes share no directory: protect the database (and its dumps)
/// as you would the secrets. Credentials are cached in memory once read (they never change);
/// an id not in memory is looked up in the database. Revocation goes through the catalog (the
/// bound Swell key), which every node follows within a second.
public final class PostgresAWSKeyStore: AWSKeyStorage {
    let pg: PostgresStore
    private let masterBytes: Data
    private let cache = Mutex<[String: AWSKeyStore.Credential]>([:])
    /// Ids looked up and not found, with when (a flood of made-up ids costs one query per id
    /// and second at most; bounded, so it cannot grow without end).
    private let unknown = Mutex<[String: ContinuousClock.Instant]>([:])

    init(pg: PostgresStore, master: Data) {
        self.pg = pg
        self.masterBytes = master
    }

    static let migration: (name: String, statements: [String]) = ("v6-aws-keys", [
        """
        CREATE TABLE aws_keys (
            access_key_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, namespace TEXT NOT NULL,
            sealed_secret BYTEA NOT NULL, created_at DOUBLE PRECISION NOT NULL)
        """,
        "CREATE TABLE aws_master (id INT PRIMARY KEY CHECK (id = 1), key BYTEA NOT NULL)",
    ])

    /// The store over `pg`, with the sealing key the first node created (or creating it).
    public static func open(_ pg: PostgresStore) async throws -> PostgresAWSKeyStore {
        let fresh = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        try await pg.run("INSERT INTO aws_master (id, key) VALUES (1, ?) ON CONFLICT (id) DO NOTHING", [ByteBuffer(bytes: fresh)])
        guard let row = try await pg.rows("SELECT key FROM aws_master WHERE id = 1", []).first else {
            throw SwellError(.internal, "the store has no AWS sealing key")
        }
        let master = Data(buffer: try row.decode("key", as: ByteBuffer.self))
        guard master.count == 32 else { throw SwellError(.internal, "the store's AWS sealing key must be 32 bytes (it is \(master.count))") }
        return PostgresAWSKeyStore(pg: pg, master: master)
    }

    public func createAccessKey(keyID: String, namespace: String) async throws -> (accessKeyID: String, secret: String) {
        let id = "AKIA" + AWSKeyStore.random(16, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        let secret = AWSKeyStore.random(40, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        let sealed = try AES.GCM.seal(Data(secret.utf8), using: SymmetricKey(data: masterBytes), authenticating: Data(id.utf8))
        guard let combined = sealed.combined else { throw SwellError(.internal, "cannot seal the secret") }
        try await pg.run(
            "INSERT INTO aws_keys (access_key_id, key_id, namespace, sealed_secret, created_at) VALUES (?, ?, ?, ?, ?)",
            [id, keyID, namespace, ByteBuffer(bytes: combined), Date().timeIntervalSince1970])
        cache.withLock { $0[id] = AWSKeyStore.Credential(accessKeyID: id, keyID: keyID, namespace: namespace, secret: secret) }
        return (id, secret)
    }

    public func lookupCredential(_ accessKeyID: String) async throws -> AWSKeyStore.Credential? {
        if let known = cache.withLock({ $0[accessKeyID] }) { return known }
        let now = ContinuousClock.now
        if let missed = unknown.withLock({ $0[accessKeyID] }), now - missed < .seconds(1) { return nil }
        guard let row = try await pg.rows("SELECT * FROM aws_keys WHERE access_key_id = ?", [accessKeyID]).first else {
            unknown.withLock { u in
                if u.count >= 10_000 { u.removeAll(keepingCapacity: true) }
                u[accessKeyID] = now
            }
            return nil
        }
        let sealed = Data(buffer: try row.decode("sealed_secret", as: ByteBuffer.self))
        let box = try AES.GCM.SealedBox(combined: sealed)
        let secret = String(
            decoding: try AES.GCM.open(box, using: SymmetricKey(data: masterBytes), authenticating: Data(accessKeyID.utf8)), as: UTF8.self)
        let credential = AWSKeyStore.Credential(
            accessKeyID: accessKeyID, keyID: try row.decode("key_id"), namespace: try row.decode("namespace"), secret: secret)
        cache.withLock { $0[accessKeyID] = credential }
        return credential
    }

    /// The access key ids bound to a Swell key.
    public func accessKeyIDs(keyID: String) async throws -> [String] {
        try await pg.rows("SELECT access_key_id FROM aws_keys WHERE key_id = ? ORDER BY access_key_id", [keyID]).map {
            try $0.decode("access_key_id", as: String.self)
        }
    }
}
