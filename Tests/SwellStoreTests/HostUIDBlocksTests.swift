import Foundation
import Testing
@testable import SwellStore
@testable import SwellModel

struct HostUIDBlocksTests {
    @Test func eachDataDirectoryGetsABlockOfItsOwnAndKeepsIt() throws {
        var entries: [HostUIDBlocks.Entry] = []
        let all: (String) -> Bool = { _ in true }
        #expect(try HostUIDBlocks.choose(for: "/a", in: &entries, exists: all) == (200_000, true))
        #expect(try HostUIDBlocks.choose(for: "/b", in: &entries, exists: all) == (1_200_000, true))
        #expect(try HostUIDBlocks.choose(for: "/a", in: &entries, exists: all) == (200_000, false))
        #expect(entries == [.init(first: 200_000, path: "/a"), .init(first: 1_200_000, path: "/b")])
    }

    @Test func theBlockOfAVanishedDirectoryIsGivenAgain() throws {
        var entries = HostUIDBlocks.parse("200000 /gone\n1200000 /b\ngarbage line\n")
        #expect(entries.count == 2)
        #expect(try HostUIDBlocks.choose(for: "/c", in: &entries, exists: { $0 != "/gone" }) == (200_000, true))
        #expect(entries.map(\.path).sorted() == ["/b", "/c"])
    }

    @Test func theRegistryFileIsSharedByServers() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("uidblocks-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a"), b = dir.appendingPathComponent("b")
        try FileManager.default.createDirectory(at: a, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: b, withIntermediateDirectories: true)
        let registry = dir.appendingPathComponent("reg/uid-blocks").path
        let ra = try HostUIDBlocks.claim(dataDirectory: a.path, registry: registry)
        let rb = try HostUIDBlocks.claim(dataDirectory: b.path, registry: registry)
        #expect(ra.first != rb.first)
        #expect(!ra.contains(rb.first) && !rb.contains(ra.first))
        #expect(try HostUIDBlocks.claim(dataDirectory: a.path, registry: registry) == ra)
    }
}
