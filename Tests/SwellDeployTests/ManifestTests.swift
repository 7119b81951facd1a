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
        #expect(try message("functions:\n  f:\n    runtime: nodejs20\n    handler: a.b\n    code: ./fn\n    memory: 5\n")?.field == "functions.f.memory")
        #expect(try message("functions:\n  f:\n    runtime: nodejs20\n    handler: a.b\n    code: ./missing\n")?.field == "functions.f.code")
        #expect(try message("functions:\n  f:\n    runtime: nodejs20\n    handler: a.b\n")?.field == "functions.f.code")
        #expect(try message("functoins: {}\n")?.field == "functoins")
        #expect(try message("functions:\n  bad name:\n    runtime: nodejs20\n")?.field == "functions.bad name")
        #expect(try message("functions: [\n")?.field == "manifest")
        #expect(try message("namespace: Bad_NS\nfunctions: {}\n")?.field == "namespace")
    }
}
