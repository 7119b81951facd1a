import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Testing
@testable import SwellServer

struct ConsoleRoutesTests {
    /// console/ in the source tree, next to Sources/ and Tests/.
    private static let consoleDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("console")

    @Test func theEmbeddedFilesAreExactlyThoseOfTheConsoleDirectory() throws {
        let base = Self.consoleDirectory.standardizedFileURL.path
        var onDisk: [String: String] = [:]
        let walker = try #require(FileManager.default.enumerator(atPath: base))
        for case let relative as String in walker {
            guard ["html", "js", "css", "svg", "json"].contains((relative as NSString).pathExtension) else { continue }
            onDisk[relative] = try String(contentsOfFile: base + "/" + relative, encoding: .utf8)
        }
        #expect(!onDisk.isEmpty)
        // Run scripts/embed-console.py after changing console/.
        #expect(Set(onDisk.keys) == Set(ConsoleAssets.files.keys))
        for (name, text) in onDisk {
            #expect(ConsoleAssets.files[name] == text, "console/\(name) differs from its embedded copy: run scripts/embed-console.py")
        }
    }

    @Test func onlyEmbeddedNamesAreServedAndThePageIsTheIndex() {
        #expect(ConsoleAssetCatalog.asset(path: "")?.contentType == "text/html; charset=utf-8")
        #expect(ConsoleAssetCatalog.asset(path: "app.js")?.contentType == "text/javascript; charset=utf-8")
        #expect(ConsoleAssetCatalog.asset(path: "pages/tasks.js") != nil)
        #expect(ConsoleAssetCatalog.asset(path: "console.css")?.contentType == "text/css; charset=utf-8")
        for hostile in ["../Package.swift", "..", "/etc/passwd", "pages/../app.js", "app.js/", "APP.JS", "%2e%2e/x", "index.html\0"] {
            #expect(ConsoleAssetCatalog.asset(path: hostile) == nil, "\(hostile)")
        }
    }

    @Test func eachAssetHasAStableStrongETag() throws {
        let a = try #require(ConsoleAssetCatalog.asset(path: "app.js"))
        let b = try #require(ConsoleAssetCatalog.asset(path: "dom.js"))
        #expect(a.etag.hasPrefix("\"") && a.etag.hasSuffix("\"") && a.etag.count == 34)
        #expect(a.etag != b.etag)
        #expect(ConsoleAsset(name: "x.js", text: "same").etag == ConsoleAsset(name: "y.js", text: "same").etag)
    }

    @Test func thePolicyAllowsNothingInlineOrForeign() {
        let csp = ConsoleAssetCatalog.contentSecurityPolicy
        #expect(csp.contains("default-src 'self'"))
        #expect(csp.contains("script-src 'self';"))
        #expect(csp.contains("style-src 'self';"))
        #expect(csp.contains("frame-ancestors 'none'"))
        #expect(csp.contains("require-trusted-types-for 'script'"))
        #expect(!csp.contains("unsafe"))
        #expect(!csp.contains("*"))
    }

    @Test func noPageUsesAnHTMLStringSinkOrInlineCode() {
        for (name, text) in ConsoleAssets.files {
            for sink in ["innerHTML =", ".innerHTML=", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function("] {
                #expect(!text.contains(sink), "\(name) uses \(sink)")
            }
            if name.hasSuffix(".html") {
                #expect(!text.contains("<script>") && !text.contains("style="), "\(name) has inline code")
            }
        }
    }
}
