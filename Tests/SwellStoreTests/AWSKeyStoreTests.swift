import Foundation
import Testing
@testable import SwellStore

struct AWSKeyStoreTests {
    func directory() throws -> String {
        let d = NSTemporaryDirectory() + "aws-keys-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func secretsAreSealedAtRestAndReadBackAfterARestart() throws {
        let d = try directory()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let (id, secret) = try AWSKeyStore(directory: d).create(keyID: "k_1", namespace: "team")
        #expect(id.hasPrefix("AKIA") && id.count == 20)
        #expect(secret.count == 40)
        let reopened = try AWSKeyStore(directory: d)
        #expect(reopened.credential(id) == .init(accessKeyID: id, keyID: "k_1", namespace: "team", secret: secret))
        #expect(reopened.accessKeyIDs(keyID: "k_1") == [id])
        // Nothing on disk holds the secret in clear; the sealing key is the owner's alone.
        for name in try FileManager.default.contentsOfDirectory(atPath: d) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(d)/\(name)"))
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "secret in clear in \(name)")
        }
        let mode = try FileManager.default.attributesOfItem(atPath: "\(d)/aws-master.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(!"\(reopened.credential(id)!)".contains(secret))
    }

    @Test func anotherMasterKeyCannotOpenTheSecrets() throws {
        let d = try directory()
        defer { try? FileManager.default.removeItem(atPath: d) }
        _ = try AWSKeyStore(directory: d).create(keyID: "k_1", namespace: "team")
        try Data(repeating: 7, count: 32).write(to: URL(fileURLWithPath: "\(d)/aws-master.key"))
        #expect(throws: (any Error).self) { try AWSKeyStore(directory: d) }
    }
}
