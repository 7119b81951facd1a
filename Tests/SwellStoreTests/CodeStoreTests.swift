import CSwellSpawn
import Foundation
import SwellModel
import SwellStore
import Testing

@Suite struct CodeStoreTests {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("swell-code-\(UUID().uuidString)").path

    func makeStore() throws -> CodeStore {
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        return try CodeStore(directory: "\(base)/data-code", unpackDirectory: "\(base)/run-code")
    }

    @Test func storesPerNamespaceAndUnpacksPerFunction() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let store = try makeStore()
        let archive = try TarArchive.write([
            .init(path: "index.js", mode: 0o644, kind: .file(Data("x".utf8))),
            .init(path: "bootstrap", mode: 0o755, kind: .file(Data("#!/bin/sh\n".utf8))),
            .init(path: "lib/link.js", mode: 0o777, kind: .symlink("../index.js")),
        ])
        let wrong = "0" + String(repeating: "1", count: 63)
        #expect(throws: SwellError.self) { try store.put(archive, namespace: "a", sha256: wrong) }
        let sha = CodeDigest.of(archive)
        try store.put(archive, namespace: "a", sha256: sha)
        #expect(store.has(namespace: "a", sha256: sha))
        // Another namespace does not see it.
        #expect(!store.has(namespace: "b", sha256: sha))
        #expect(throws: (any Error).self) { try store.prepare(namespace: "b", function: "f", sha256: sha, owner: nil) }

        let code = try store.prepare(namespace: "a", function: "f", sha256: sha, owner: nil)
        #expect(code == CodeStore.functionDirectory(root: "\(base)/run-code", namespace: "a", function: "f", sha256: sha))
        #expect(FileManager.default.isExecutableFile(atPath: "\(code)/bootstrap"))
        #expect(FileManager.default.contents(atPath: "\(code)/lib/link.js") == Data("x".utf8))
        #expect(mode("\(code)/index.js") == 0o640)
        #expect(mode("\(code)/bootstrap") == 0o750)
        #expect(mode(code) == 0o750)
        #expect(mode("\(base)/run-code/a/f") == 0o750)
        #expect(mode("\(base)/data-code") == 0o700)
        #expect(mode("\(base)/data-code/a/\(sha).tar") == 0o600)
        // Prepared once; a second call finds it.
        #expect(try store.prepare(namespace: "a", function: "f", sha256: sha, owner: nil) == code)
    }

    @Test func refusesHostilePackagesAndWritesNothingOutside() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let store = try makeStore()
        let chain = try TarArchive.write([
            .init(path: "a", mode: 0o777, kind: .symlink(".")),
            .init(path: "l1", mode: 0o777, kind: .symlink("a/..")),
            .init(path: "l2", mode: 0o777, kind: .symlink("l1/..")),
            .init(path: "l3", mode: 0o777, kind: .symlink("l2/..")),
        ])
        #expect(throws: TarArchive.FormatError.self) { try store.put(chain, namespace: "a", sha256: CodeDigest.of(chain)) }
        #expect(!store.has(namespace: "a", sha256: CodeDigest.of(chain)))
        // Nothing but the store's own directories exists.
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: base)) == ["data-code", "run-code"])
    }

    @Test func adoptsPackagesStoredBeforeNamespaces() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let store = try makeStore()
        let archive = try TarArchive.write([.init(path: "index.js", mode: 0o644, kind: .file(Data("y".utf8)))])
        let sha = CodeDigest.of(archive)
        try archive.write(to: URL(fileURLWithPath: "\(base)/data-code/\(sha).tar"))
        #expect(!store.has(namespace: "n", sha256: sha))
        #expect(store.adoptLegacy(namespace: "n", sha256: sha))
        #expect(store.has(namespace: "n", sha256: sha))
        #expect(!store.has(namespace: "other", sha256: sha))
    }

    @Test(.enabled(if: geteuid() == 0, "needs root"))
    func unpacksAsTheFunctionsUIDAndHandsTheTreeToRoot() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let store = try makeStore()
        // The mechanism: with a non-zero filesystem uid, root's thread loses its file powers.
        let privateDir = "\(base)/root-only"
        try FileManager.default.createDirectory(atPath: privateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let blocked = Thread.detachAndWait {
            guard swell_set_fs_ids(4242, 4242) == 0 else { return false }
            defer { _ = swell_set_fs_ids(0, 0) }
            return !FileManager.default.createFile(atPath: "\(privateDir)/x", contents: Data())
        }
        #expect(blocked)
        #expect(FileManager.default.createFile(atPath: "\(privateDir)/y", contents: Data()))

        let archive = try TarArchive.write([
            .init(path: "app.py", mode: 0o644, kind: .file(Data("x".utf8))),
            .init(path: "bin/run", mode: 0o755, kind: .file(Data("#!/bin/sh\n".utf8))),
            .init(path: "link", mode: 0o777, kind: .symlink("app.py")),
        ])
        let sha = CodeDigest.of(archive)
        try store.put(archive, namespace: "ns", sha256: sha)
        let code = try store.prepare(namespace: "ns", function: "f", sha256: sha, owner: .init(uid: 4242, gid: 4343))
        for path in [code, "\(code)/app.py", "\(code)/bin", "\(code)/bin/run", "\(code)/link", "\(base)/run-code/ns/f"] {
            var st = stat()
            lstat(path, &st)
            #expect(st.st_uid == 0 && st.st_gid == 4343, "\(path): \(st.st_uid):\(st.st_gid)")
        }
        #expect(mode("\(code)/bin/run") == 0o750 && mode("\(code)/app.py") == 0o640)
        // Staging is empty again.
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(base)/run-code/.staging").isEmpty)
    }

    func mode(_ path: String) -> mode_t {
        var st = stat()
        lstat(path, &st)
        return st.st_mode & 0o7777
    }
}

enum CodeDigest {
    static func of(_ data: Data) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try! p.run()
        input.fileHandleForWriting.write(data)
        try! input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(String(decoding: out, as: UTF8.self).prefix(64))
    }
}

extension Thread {
    /// Runs `body` on a thread of its own (per-thread credentials must not touch the test's).
    static func detachAndWait(_ body: @escaping @Sendable () -> Bool) -> Bool {
        let result = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            result.value = body()
            done.signal()
        }
        thread.start()
        done.wait()
        return result.value
    }
}

final class ResultBox: @unchecked Sendable {
    var value = false
}
