import Foundation
import SwellModel
import Testing
@testable import SwellStore

struct LayerOverlayTests {
    func file(_ path: String, _ text: String) -> TarArchive.Entry { .init(path: path, mode: 0o644, kind: .file(Data(text.utf8))) }
    func dir(_ path: String) -> TarArchive.Entry { .init(path: path, mode: 0o755, kind: .directory) }

    @Test func laterLayersOverrideEarlierOnes() {
        var merged = CodeStore.overlay([:], [dir("python"), file("python/common.py", "first"), file("python/a.py", "a")])
        merged = CodeStore.overlay(merged, [dir("python/"), file("python/common.py", "second"), file("python/b.py", "b")])
        #expect(merged["python/common.py"]?.kind == .file(Data("second".utf8)))
        #expect(merged["python/a.py"] != nil && merged["python/b.py"] != nil)
        #expect(merged["python"]?.kind == .directory)
    }

    @Test func aFileReplacesADirectoryWithWhatIsBelowAndTheOtherWayRound() {
        var merged = CodeStore.overlay([:], [dir("bin"), file("bin/tool", "x"), file("lib", "a file")])
        merged = CodeStore.overlay(merged, [file("bin", "now a file"), dir("lib"), file("lib/x.so", "so")])
        #expect(merged["bin"]?.kind == .file(Data("now a file".utf8)))
        #expect(merged["bin/tool"] == nil)
        #expect(merged["lib"]?.kind == .directory && merged["lib/x.so"] != nil)
    }
}

struct LayerRefTests {
    @Test func namesAndARNs() {
        #expect(LayerRef.parse("deps:3")! == (nil, "deps", 3))
        #expect(LayerRef.parse("arn:aws:lambda:swell:team:layer:deps:2")! == ("team", "deps", 2))
        #expect(LayerRef.parse("deps") == nil)
        #expect(LayerRef.parse("deps:0") == nil)
        #expect(LayerRef.parse("arn:aws:lambda:swell:team:function:deps:2") == nil)
    }

    @Test func theTreeNameDependsOnContentAndOrder() {
        let a = LayerRef(name: "a", version: 1, sha256: String(repeating: "a", count: 64))
        let b = LayerRef(name: "b", version: 1, sha256: String(repeating: "b", count: 64))
        #expect(LayerRef.treeName([]) == nil)
        #expect(LayerRef.treeName([a, b]) != LayerRef.treeName([b, a]))
        #expect(LayerRef.treeName([a, b]) == LayerRef.treeName([a, b]))
        #expect(LayerRef.treeName([a])!.hasPrefix("opt-"))
    }
}
