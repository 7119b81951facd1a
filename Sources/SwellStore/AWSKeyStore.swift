import Crypto
import Foundation
import GRDB
import NIOPosix
import SwellModel
import Synchronization

/// AWS access keys as the SigV4 front needs them: `AWSKeyStore` (SQLite, `aws.db`, one node)
/// or `PostgresAWSKeyStore` (shared by every node: a key issued on one node signs requests to
/// any). Revoking the Swell key an access key is bound to disables it; that goes through the
/// catalog, so it takes effect on every node as fast as the catalog does.
public protocol AWSKeyStorage: Sendable {
    /// Issues an access key for the Swell key `keyID` of `namespace`.
    /// - Returns: the access key id and the secret (shown once).
    func createAccessKey(keyID: String, namespace: String) async throws -> (accessKeyID: String, secret: String)
    /// The access key with this id, nil when there is none.
    func lookupCredential(_ accessKeyID: String) async throws -> AWSKeyStore.Credential?
}

/// AWS access keys (`swell keys create --aws`): an access key id and a secret access key,
/// each bound to a Swell API key (whose namespace and role they act with, and whose
/// revocation disables them).
///
/// SigV4 needs the secret itself on every request, so it cannot be stored as a hash like
/// Swell's own keys. It is stored sealed (AES-GCM) under a key of the data directory's
/// (`aws-master.key`, mode 0600, created on first use), in `aws.db` (0600), and kept in
/// clear only in this process's memory. Nothing here logs or describes a secret.
///
/// ```swift
/// let keys = try AWSKeyStore(directory: data)
/// let (id, secret) = try keys.create(keyID: "k_1", namespace: "default")
/// keys.credential(id)?.secret == secret
/// ```
public final class AWSKeyStore: AWSKeyStorage {
    /// An access key as the verifier needs it.
    public struct Credential: Sendable, Equatable, CustomStringConvertible {
        public var accessKeyID: String
        /// The Swell key it is bound to (namespace and role come from there).
        public var keyID: String
        public var namespace: String
        public var secret: String

        public init(accessKeyID: String, keyID: String, namespace: String, secret: String) {
            self.accessKeyID = accessKeyID
            self.keyID = keyID
            self.namespace = namespace
            self.secret = secret
        }

        /// Never shows the secret.
        public var description: String { "AWS access key \(accessKeyID) (key \(keyID) in \(namespace))" }
    }

    let db: any DatabaseWriter
    /// The sealing key's bytes (`SymmetricKey` is not `Sendable`).
    private let masterBytes: Data
    private var master: SymmetricKey { SymmetricKey(data: masterBytes) }
    private let credentials: Mutex<[String: Credential]>

    /// Opens (creating) `DIRECTORY/aws.db` and `DIRECTORY/aws-master.key`, and loads every key.
    public convenience init(directory: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        let path = "\(directory)/aws.db"
        let pool = try DatabasePool(path: path, configuration: config)
        chmod(path, 0o600)
        try self.init(writer: pool, master: try Self.masterKey(path: "\(directory)/aws-master.key"))
    }

    init(writer: any DatabaseWriter, master: SymmetricKey) throws {
        self.db = writer
        self.masterBytes = master.withUnsafeBytes { Data($0) }
        var m = DatabaseMigrator()
        m.registerMigration("v1-aws-keys") { db in
            try db.execute(sql: """
                CREATE TABLE aws_keys (
                    access_key_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, namespace TEXT NOT NULL,
                    sealed_secret BLOB NOT NULL, created_at DOUBLE NOT NULL);
                """)
        }
        try m.migrate(writer)
        let rows = try writer.read { db in try Row.fetchAll(db, sql: "SELECT * FROM aws_keys") }
        var loaded: [String: Credential] = [:]
        for row in rows {
            let id: String = row["access_key_id"]
            let sealed: Data = row["sealed_secret"]
            let box = try AES.GCM.SealedBox(combined: sealed)
            let secret = String(decoding: try AES.GCM.open(box, using: master, authenticating: Data(id.utf8)), as: UTF8.self)
            loaded[id] = Credential(accessKeyID: id, keyID: row["key_id"], namespace: row["namespace"], secret: secret)
        }
        self.credentials = Mutex(loaded)
    }

    /// An in-memory store, for tests.
    public static func inMemory() throws -> AWSKeyStore {
        try AWSKeyStore(writer: DatabaseQueue(), master: SymmetricKey(size: .bits256))
    }

    /// The data directory's sealing key, created (0600, 32 random bytes) when absent.
    static func masterKey(path: String) throws -> SymmetricKey {
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == 32 else { throw SwellError(.internal, "\(path) must hold 32 bytes (it holds \(data.count))") }
            chmod(path, 0o600)
            return SymmetricKey(data: data)
        }
        let key = SymmetricKey(size: .bits256)
        let data = key.withUnsafeBytes { Data($0) }
        let tmp = "\(path).tmp-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw SwellError(.internal, "cannot write \(tmp)")
        }
        // Never replace a key another start wrote meanwhile: secrets sealed with it would be lost.
        guard link(tmp, path) == 0 else {
            unlink(tmp)
            return try masterKey(path: path)
        }
        unlink(tmp)
        return key
    }

    /// Issues an access key for the Swell key `keyID` of `namespace`.
    /// - Returns: the access key id and the secret (shown once).
    public func create(keyID: String, namespace: String) throws -> (accessKeyID: String, secret: String) {
        let id = "AKIA" + Self.random(16, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        let secret = Self.random(40, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        let sealed = try AES.GCM.seal(Data(secret.utf8), using: master, authenticating: Data(id.utf8))
        guard let combined = sealed.combined else { throw SwellError(.internal, "cannot seal the secret") }
        try db.write { db in
            try db.execute(
                sql: "INSERT INTO aws_keys (access_key_id, key_id, namespace, sealed_secret, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [id, keyID, namespace, combined, Date().timeIntervalSince1970])
        }
        credentials.withLock { $0[id] = Credential(accessKeyID: id, keyID: keyID, namespace: namespace, secret: secret) }
        return (id, secret)
    }

    /// The access key with this id, from memory.
    public func credential(_ accessKeyID: String) -> Credential? {
        credentials.withLock { $0[accessKeyID] }
    }

    /// The access key ids bound to a Swell key.
    public func accessKeyIDs(keyID: String) -> [String] {
        credentials.withLock { $0.values.filter { $0.keyID == keyID }.map(\.accessKeyID).sorted() }
    }

    public func createAccessKey(keyID: String, namespace: String) async throws -> (accessKeyID: String, secret: String) {
        try await NIOThreadPool.singleton.runIfActive { try self.create(keyID: keyID, namespace: namespace) }
    }

    public func lookupCredential(_ accessKeyID: String) async throws -> Credential? {
        credential(accessKeyID)
    }

    static func random(_ count: Int, alphabet: String) -> String {
        let chars = Array(alphabet)
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in chars[Int(generator.next(upperBound: UInt32(chars.count)))] })
    }
}
