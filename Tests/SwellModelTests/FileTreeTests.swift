import Foundation
import SwellModel
import Testing

@Suite struct FileTreeTests {
    @Test func removesATreeWithoutFollowingItsLinks() throws {
        let fm = FileManager.default
        let base = fm.temporaryDirectory.appendingPathComponent("swell-tree-\(UUID().uuidString)").path
        defer { try? fm.removeItem(atPath: base) }
        try fm.createDirectory(atPath: "\(base)/outside/keep", withIntermediateDirectories: true)
        fm.createFile(atPath: "\(base)/outside/keep/file", contents: Data("keep".utf8))
        try fm.createDirectory(atPath: "\(base)/tree/a/b", withIntermediateDirectories: true)
        fm.createFile(atPath: "\(base)/tree/a/b/f", contents: Data("x".utf8))
        // Links to a directory and to a file outside: removed as links, targets untouched.
        try fm.createSymbolicLink(atPath: "\(base)/tree/a/dir-link", withDestinationPath: "\(base)/outside/keep")
        try fm.createSymbolicLink(atPath: "\(base)/tree/file-link", withDestinationPath: "\(base)/outside/keep/file")
        try FileTree.remove("\(base)/tree")
        #expect(!fm.fileExists(atPath: "\(base)/tree"))
        #expect(fm.contents(atPath: "\(base)/outside/keep/file") == Data("keep".utf8))
        // Missing is fine; a link as the top itself is removed, not followed.
        try FileTree.remove("\(base)/tree")
        try fm.createSymbolicLink(atPath: "\(base)/top-link", withDestinationPath: "\(base)/outside")
        try FileTree.remove("\(base)/top-link")
        #expect(fm.fileExists(atPath: "\(base)/outside/keep/file"))
    }
}
