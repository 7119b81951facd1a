import Foundation
import SwellDeploy
import SwellModel
import Testing

@Suite struct ManifestTests {
    func tree(_ files: [String: String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swell-manifest-\(UUID().uuidString)").path
        for (path, text) in files {
            let full = "\(dir)/\(path)"
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test func issueShapeParses() throws {
        let dir = try tree([
            "swell.yaml": """
                namespace: default          # optional
                functions:
                  hello:
                    runtime: nodejs20
                    handler: index.handler
                    code: ./hello
                    memory: 128
                    timeout: 10
                    concurrency: 4
                    environment: { GREETING: hi }
                    url: { auth: none }
                """,
            "hello/index.js": "exports.handler = async () => 1\n",
        ])
        let m = try Manifest.load(dir)
        #expect(m.namespace == "default")
        #expect(m.functions.count == 1)
        let f = m.functions[0]
        let config = try FunctionSpec.parse(f.spec, path: "functions.hello")
        #expect(config.concurrency == 4 && config.timeout == 10 && config.environment == ["GREETING": "hi"] && config.url?.auth == URLAuth.none)
        #expect(config.codeSha256 == f.package.sha256)
    }

    @Test func samePackageForSameTree() throws {
        let a = try tree(["x/index.js": "1", "x/lib/a.js": "2"])
        let b = try tree(["x/lib/a.js": "2", "x/index.js": "1"])
        #expect(try CodePackage.pack("\(a)/x").sha256 == CodePackage.pack("\(b)/x").sha256)
        let c = try tree(["x/index.js": "1", "x/lib/a.js": "3"])
        #expect(try CodePackage.pack("\(a)/x").sha256 != CodePackage.pack("\(c)/x").sha256)
    }

    @Test func zipCodeIsPackedLikeTheDirectory() throws {
        let dir = try tree(["fn/index.js": "exports.handler = 1\n", "fn/lib/util.js": "x\n"])
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/zip")
        p.currentDirectoryURL = URL(fileURLWithPath: "\(dir)/fn")
        p.arguments = ["-qr", "../fn.zip", "."]
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0)
        let zipped = try CodePackage.pack("\(dir)/fn.zip")
        let entries = try TarArchive.read(zipped.data)
        #expect(Set(entries.map(\.path)).isSuperset(of: ["index.js", "lib/util.js"]))
    }

    @Test func errorsNameTheField() throws {
        func message(_ yaml: String) throws -> SwellError? {
            let dir = try tree(["swell.yaml": yaml, "fn/index.js": "1"])
            do {
                _ = try Manifest.load(dir)
                return nil
            } catch let e as SwellError {
                return e
            }
        }
        #expect(try message("functions:\n  f:\n    runtime: nodejs20\n    handler: index.handler\n    code: ./fn\n    memory: 5\n")?.field == "functions.f.memory")
        #expect(try message("functions:\n  f:\n    runtime: nodejs20\n    handler: index.handler\n    code: ./missing\n")?.field == "functions.f.code")
        #expect(try message("functions:\n  f:\n    runtime: nodejs20\n    handler: index.handler\n")?.field == "functions.f.code")
        #expect(try message("functoins: {}\n")?.message.contains("is not a Swell manifest: expected a mapping with a functions: key (got a mapping with keys functoins)") == true)
        #expect(try message("functions: {}\nfunctoins: {}\n")?.field == "functoins")
        #expect(try message("functions:\n  bad name:\n    runtime: nodejs20\n")?.field == "functions.bad name")
        #expect(try message("functions: [\n")?.field == "manifest")
        #expect(try message("namespace: Bad_NS\nfunctions: {}\n")?.field == "namespace")
    }

    func failure(_ files: [String: String]) throws -> SwellError {
        let dir = try tree(files)
        do {
            _ = try Manifest.load(dir)
        } catch let e as SwellError {
            return e
        }
        Issue.record("the manifest loaded")
        return SwellError(.internal, "")
    }

    @Test func everyMistakeIsReportedAtOnce() throws {
        let e = try failure([
            "swell.yaml": """
                extra: 1
                functions:
                  a: { runtime: nodejs20, handler: index.handler, code: ./fn, memory: 5, timeout: 0 }
                  b: { runtime: cobol, handler: index.handler, code: ./fn }
                  c: { runtime: nodejs20, handler: index.handler, code: ./missing }
                  d: { runtime: python3, handler: main.handler, code: ./fn }
                  "bad name": { runtime: nodejs20 }
                """,
            "fn/index.js": "exports.handler = async () => 1\n",
        ])
        #expect(Set(e.problems.compactMap(\.field)) == [
            "extra", "functions.a.memory", "functions.a.timeout", "functions.b.runtime", "functions.c.code", "functions.d.handler",
            "functions.bad name",
        ])
        #expect(e.message.hasPrefix("7 problems in ") && e.message.hasSuffix("swell.yaml"))
        #expect(e.description.split(separator: "\n").count == 8)
    }

    @Test func handlerFilesAreCheckedAndExportTyposWarned() throws {
        let missing = try failure([
            "swell.yaml": "functions:\n  f: { runtime: nodejs20, handler: main.handler, code: ./fn }\n",
            "fn/index.js": "exports.handler = 1\n",
        ])
        #expect(missing.field == "functions.f.handler" && missing.message.contains("no main.js"))
        let dir = try tree([
            "swell.yaml": "functions:\n  f: { runtime: nodejs20, handler: index.hander, code: ./fn }\n  g: { runtime: python3, handler: app.handler, code: ./py }\n",
            "fn/index.js": "exports.handler = 1\n",
            "py/app.py": "def handler(e, c):\n    return 1\n",
        ])
        let m = try Manifest.load(dir)
        #expect(m.functions.count == 2)
        #expect(m.warnings == ["functions.f.handler: index.js never mentions hander; the function will fail at its first invocation unless index.js exports it"])
    }

    @Test func notAManifestNamesTheFile() throws {
        let dir = try tree(["handler.py": "def handler(e, c):\n    return 1\n", "package.json": "{\"name\": \"x\"}", "sub/x": ""])
        for file in ["handler.py", "package.json"] {
            do {
                _ = try Manifest.load("\(dir)/\(file)")
                Issue.record("\(file) loaded")
            } catch let e as SwellError {
                #expect(e.message.contains("\(dir)/\(file) is not a Swell manifest"), "\(e)")
            }
        }
        #expect(throws: SwellError.self) { try Manifest.load("\(dir)/sub") }
    }
}
