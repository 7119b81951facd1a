import Foundation
import SwellModel
import SwellStore
import Testing

@Suite struct CodeStoreTests {
    @Test func storesOncePerDigestAndUnpacks() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swell-code-\(UUID().uuidString)").path
        let store = try CodeStore(directory: dir)
        let archive = try TarArchive.write([
            .init(path: "index.js", mode: 0o644, kind: .file(Data("x".utf8))),
            .init(path: "bootstrap", mode: 0o755, kind: .file(Data("#!/bin/sh\n".utf8))),
        ])
        let sha = "0" + String(repeating: "1", count: 63)
        #expect(throws: SwellError.self) { try store.put(archive, sha256: sha) }
        #expect(!store.has(sha))
        let real = try realDigest(archive)
        try store.put(archive, sha256: real)
        #expect(store.has(real))
        let code = try store.codeDirectory(real)
        #expect(FileManager.default.isExecutableFile(atPath: "\(code)/bootstrap"))
        #expect(FileManager.default.contents(atPath: "\(code)/index.js") == Data("x".utf8))
        // Unpacked trees that vanish are rebuilt from the archive.
        try FileManager.default.removeItem(atPath: code)
        #expect(FileManager.default.fileExists(atPath: "\(try store.codeDirectory(real))/index.js"))
    }

    func realDigest(_ data: Data) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try p.run()
        input.fileHandleForWriting.write(data)
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(String(decoding: out, as: UTF8.self).prefix(64))
    }
}
