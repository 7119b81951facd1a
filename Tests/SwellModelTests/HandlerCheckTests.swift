import Foundation
import SwellModel
import Testing

@Suite struct HandlerCheckTests {
    func files(_ paths: [String: Int]) -> ArchiveFiles {
        ArchiveFiles(paths.map { path, mode in
            path.hasSuffix("/")
                ? TarArchive.Entry(path: String(path.dropLast()), mode: 0o755, kind: .directory)
                : TarArchive.Entry(path: path, mode: mode, kind: .file(Data("x".utf8)))
        })
    }

    func problem(_ handler: String, _ runtime: RuntimeKind, _ paths: [String: Int]) -> String? {
        HandlerCheck.check(handler: handler, runtime: runtime, field: "functions.f.handler", files: files(paths))?.message
    }

    @Test func node() {
        #expect(problem("index.handler", .nodejs20, ["index.js": 0o644]) == nil)
        #expect(problem("index.handler", .nodejs20, ["index.mjs": 0o644]) == nil)
        #expect(problem("src/app.handler", .nodejs20, ["src/app.cjs": 0o644]) == nil)
        #expect(problem("lib.handler", .nodejs20, ["lib/index.js": 0o644]) == nil)
        #expect(problem("lib.handler", .nodejs20, ["lib/package.json": 0o644]) == nil)
        #expect(problem("pkg.handler", .nodejs20, ["node_modules/pkg/index.js": 0o644]) == nil)
        #expect(problem("main.handler", .nodejs20, ["index.js": 0o644])
            == "the code package has no main.js, main.cjs or main.mjs (handler \"main.handler\" loads FILE.EXPORT from the code directory)")
        #expect(problem("lib.handler", .nodejs20, ["lib/": 0, "lib/other.js": 0o644]) != nil)
    }

    @Test func python() {
        #expect(problem("app.handler", .python3, ["app.py": 0o644]) == nil)
        #expect(problem("pkg.mod.handler", .python3, ["pkg/mod.py": 0o644]) == nil)
        #expect(problem("pkg/mod.handler", .python3, ["pkg/mod.py": 0o644]) == nil)
        #expect(problem("pkg.handler", .python3, ["pkg/__init__.py": 0o644]) == nil)
        #expect(problem("fast.handler", .python3, ["fast.cpython-311-x86_64-linux-gnu.so": 0o755]) == nil)
        #expect(problem("app.handler", .python3, ["main.py": 0o644])?.hasPrefix("the code package has no app.py") == true)
    }

    @Test func provided() {
        #expect(problem("bootstrap", .provided, ["bootstrap": 0o755]) == nil)
        #expect(problem("bin/server", .provided, ["bin/server": 0o700]) == nil)
        #expect(problem("bootstrap", .provided, ["bootstrap": 0o644])?.contains("is not executable (chmod +x bootstrap") == true)
        #expect(problem("bootstrap", .provided, ["run.sh": 0o755])?.contains("has no executable bootstrap") == true)
        #expect(problem("bin", .provided, ["bin/": 0])?.contains("is a directory") == true)
        // As on Lambda: an executable bootstrap runs whatever the handler (it reads _HANDLER).
        #expect(problem("app.handler", .provided, ["bootstrap": 0o755, "app.py": 0o644]) == nil)
        #expect(problem("app.handler", .provided, ["bootstrap": 0o644, "app.py": 0o644])?.contains("has no executable app.handler") == true)
    }

    @Test func exportHints() {
        #expect(HandlerCheck.exportNeverMentioned(handler: "index.hander", runtime: .nodejs20, source: "exports.handler = 1"))
        #expect(!HandlerCheck.exportNeverMentioned(handler: "index.handler", runtime: .nodejs20, source: "exports.handler = 1"))
        #expect(!HandlerCheck.exportNeverMentioned(handler: "index.handler", runtime: .nodejs20, source: "export const handler = () => 1"))
        #expect(!HandlerCheck.exportNeverMentioned(handler: "index.handler", runtime: .nodejs20, source: "module.exports = require('./dist')"))
        #expect(HandlerCheck.exportNeverMentioned(handler: "app.main", runtime: .python3, source: "def mainly(e, c): pass"))
        #expect(!HandlerCheck.exportNeverMentioned(handler: "app.main", runtime: .python3, source: "from impl import *"))
        #expect(!HandlerCheck.exportNeverMentioned(handler: "bootstrap", runtime: .provided, source: ""))
    }
}

@Suite struct ProblemsTests {
    @Test func oneErrorStaysItself() {
        var p = Problems()
        _ = p.check { () throws(SwellError) -> Int in throw SwellError.invalid("a", "bad") }
        #expect(throws: SwellError.invalid("a", "bad")) { try p.throwIfAny() }
    }

    @Test func severalAreListed() {
        var p = Problems()
        #expect(p.check { () throws(SwellError) in 1 } == 1)
        p.add(.invalid("a", "bad"))
        p.add(SwellError.combined([.invalid("b", "worse"), .invalid("c", "worst")]))
        let e = SwellError.combined(p.errors)
        #expect(e.problems.count == 3 && e.code == .invalidField)
        #expect(e.description == "3 problems:\n  a: bad\n  b: worse\n  c: worst")
    }
}
