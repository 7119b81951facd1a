import Foundation
import SwellModel
import Testing

/// `TarArchive.checkLayout`: whatever the links, nothing of a package may resolve outside it.
@Suite struct PackageLayoutTests {
    func file(_ path: String) -> TarArchive.Entry { .init(path: path, mode: 0o644, kind: .file(Data("x".utf8))) }
    func link(_ path: String, _ target: String) -> TarArchive.Entry { .init(path: path, mode: 0o777, kind: .symlink(target)) }
    func dir(_ path: String) -> TarArchive.Entry { .init(path: path, mode: 0o755, kind: .directory) }

    func refusal(_ entries: [TarArchive.Entry]) -> String? {
        do {
            try TarArchive.checkLayout(entries)
            return nil
        } catch {
            return (error as? TarArchive.FormatError)?.description ?? "\(error)"
        }
    }

    @Test func acceptsOrdinaryTrees() {
        #expect(refusal([
            file("index.js"), dir("lib"), file("lib/a.js"), link("lib/b.js", "a.js"), link("main.js", "lib/../index.js"),
            dir("node_modules/.bin"), link("node_modules/.bin/tool", "../tool/cli.js"), file("node_modules/tool/cli.js"),
            link("dangling", "missing/../../x"),  // stops at the missing component, as the kernel does
            link("self", "."), link("up-and-down", "lib/../lib/a.js"),
        ]) == nil)
    }

    @Test func refusesTheChainOfHarmlessLookingLinks() {
        // Each link alone stays inside lexically; resolved through the others, l1 already leaves.
        let chain = [link("a", "."), link("l1", "a/.."), link("l2", "l1/.."), link("l3", "l2/.."), file("l3/X")]
        let message = refusal(chain)
        #expect(message?.contains("l1") == true, "\(message ?? "accepted")")
        // Without the file below it, the chain alone is still refused.
        #expect(refusal(Array(chain.dropLast())) != nil)
        // A link that is itself fine but resolves through one declared later is judged on the final tree.
        #expect(refusal([link("x", "d/e/../.."), link("d", "."), dir("e")])?.contains("x") == true)
    }

    @Test func refusesEntriesBelowALinkOrAFile() {
        #expect(refusal([dir("real"), link("l", "real"), file("l/X")])?.contains("below the symbolic link l") == true)
        #expect(refusal([file("f"), file("f/X")])?.contains("below the file f") == true)
    }

    @Test func refusesAbsoluteEscapingAndLoopingLinks() {
        #expect(refusal([link("etc", "/etc")])?.contains("absolute") == true)
        #expect(refusal([link("up", "../x")])?.contains("leaves the package") == true)
        #expect(refusal([dir("a"), link("a/up", "../../x")])?.contains("a/up") == true)
        #expect(refusal([link("a", "b"), link("b", "a/x")])?.contains("loop") == true)
        #expect(refusal([link("hop", "abs"), link("abs", "/tmp")]) != nil)
    }

    @Test func refusesBadPathsAndDuplicates() {
        #expect(refusal([file("../x")]) != nil)
        #expect(refusal([file("/etc/passwd")]) != nil)
        #expect(refusal([file("a/./b")]) != nil)
        #expect(refusal([file("a//b")]) != nil)
        #expect(refusal([file("x"), file("x")])?.contains("more than once") == true)
        #expect(refusal([file("x"), link("x", "y")]) != nil)
        #expect(refusal([dir("d"), dir("d"), file("d/f")]) == nil)
    }

    @Test func readRefusesHardLinksAndTheChain() throws {
        // A hand-made hard-link entry (type 1), as `tar --hard-dereference` would not make.
        var archive = try TarArchive.write([file("target")])
        var header = [UInt8](archive[0..<512])
        for i in 0..<100 { header[i] = 0 }
        for (i, b) in "hard".utf8.enumerated() { header[i] = b }
        header[156] = UInt8(ascii: "1")
        for (i, b) in "/etc/shadow".utf8.enumerated() { header[157 + i] = b }
        for i in 148..<156 { header[i] = UInt8(ascii: " ") }
        let sum = header.reduce(0) { $0 + Int($1) }
        let digits = Array(String(sum, radix: 8).utf8)
        for i in 0..<6 { header[148 + i] = UInt8(ascii: "0") }
        for (i, d) in digits.reversed().enumerated() { header[148 + 5 - i] = d }
        header[154] = 0
        archive.replaceSubrange(0..<512, with: header)
        #expect(throws: TarArchive.FormatError.self) { try TarArchive.read(archive) }

        let chain = try TarArchive.write([link("a", "."), link("l1", "a/.."), link("l2", "l1/.."), link("l3", "l2/..")])
        #expect(throws: TarArchive.FormatError.self) { try TarArchive.read(chain) }
    }
}

@Suite struct UIDRangeTests {
    @Test func allocatesInOrderWithoutReuseOrOverflow() {
        let range = UIDRange(first: 1000, count: 3)
        #expect(range.next(afterHighest: nil) == 1000)
        #expect(range.next(afterHighest: 1000) == 1001)
        #expect(range.next(afterHighest: 1001) == 1002)
        #expect(range.next(afterHighest: 1002) == nil)
        // A highest uid outside the range (another range's) starts this one afresh.
        #expect(range.next(afterHighest: 5) == 1000)
        #expect(UIDRange.standard.contains(200_000) && !UIDRange.standard.contains(199_999))
    }
}
