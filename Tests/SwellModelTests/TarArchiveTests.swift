import Foundation
import SwellModel
import Testing

@Suite struct TarArchiveTests {
    let entries: [TarArchive.Entry] = [
        .init(path: "index.js", mode: 0o644, kind: .file(Data("exports.handler = 1\n".utf8))),
        .init(path: "bin", mode: 0o755, kind: .directory),
        .init(path: "bin/run", mode: 0o755, kind: .file(Data("#!/bin/sh\n".utf8))),
        .init(path: "link.js", mode: 0o777, kind: .symlink("index.js")),
        .init(path: String(repeating: "d", count: 90) + "/" + String(repeating: "f", count: 90), mode: 0o644, kind: .file(Data([0, 1, 2]))),
    ]

    @Test func roundTrips() throws {
        let data = try TarArchive.write(entries)
        #expect(data.count % 512 == 0)
        let read = try TarArchive.read(data)
        #expect(Set(read.map(\.path)) == Set(entries.map(\.path)))
        #expect(read.first { $0.path == "bin/run" }?.mode == 0o755)
        #expect(read.first { $0.path == "index.js" }?.kind == .file(Data("exports.handler = 1\n".utf8)))
        #expect(read.first { $0.path == "link.js" }?.kind == .symlink("index.js"))
    }

    @Test func isCanonical() throws {
        // Order and incidental mode bits do not change the bytes.
        var shuffled = entries.reversed().map { $0 }
        shuffled[0].mode = 0o600
        #expect(try TarArchive.write(entries) == TarArchive.write(shuffled))
    }

    @Test func readableByTar() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("a.tar")
        try TarArchive.write(entries).write(to: file)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
        p.arguments = ["-xf", file.path, "-C", dir.path]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bin/run").path))
    }

    @Test func rejectsUnsafeArchives() throws {
        #expect(throws: TarArchive.FormatError.self) { try TarArchive.write([.init(path: "../x", mode: 0o644, kind: .file(Data()))]) }
        #expect(throws: TarArchive.FormatError.self) { try TarArchive.write([.init(path: "/etc/x", mode: 0o644, kind: .file(Data()))]) }
        let escaping = try TarArchive.write([.init(path: "a/link", mode: 0o777, kind: .symlink("../../etc/passwd"))])
        #expect(throws: TarArchive.FormatError.self) { try TarArchive.read(escaping) }
        var corrupt = try TarArchive.write(entries)
        corrupt[10] ^= 0xFF
        #expect(throws: TarArchive.FormatError.self) { try TarArchive.read(corrupt) }
        #expect(throws: TarArchive.FormatError.self) { try TarArchive.read(Data(repeating: 7, count: 100)) }
    }
}
