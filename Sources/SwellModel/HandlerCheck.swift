import Foundation

/// Checks at deploy time that a function's handler names something its code package holds,
/// so that a typo fails the deploy instead of the first invocation.
///
/// What is checked is what the runtimes would load, resolved the way they resolve it:
/// - `nodejs20`, handler `path/file.export`: `path/file.js`, `.cjs`, `.mjs`, the file
///   itself, a directory `path/file` with `index.js`/`index.cjs`/`index.mjs`/`package.json`,
///   or a package `node_modules/file` (a bare name).
/// - `python3`, handler `pkg/mod.func` or `pkg.mod.func`: `pkg/mod.py`, `pkg/mod/__init__.py`,
///   a directory `pkg/mod` (a namespace package), `pkg/mod.pyc` or an extension module
///   `pkg/mod*.so`.
/// - `provided`: an executable `bootstrap` (run with the handler in `_HANDLER`, as on
///   Lambda), else the executable named by the handler.
///
/// The export itself is not checked here: only the runtime can tell whether a module
/// exports a name (`module.exports = require('./impl')`, `from impl import *` and
/// assignments through `globals()` are all valid), so a textual test would reject working
/// code. ``exportNeverMentioned(handler:runtime:source:)`` gives a cheap hint instead,
/// which `swell deploy` prints as a warning.
public enum HandlerCheck {
    /// What a path of the package is.
    public enum Node: Sendable, Equatable {
        case file(executable: Bool)
        case directory
        /// A symbolic link: its target is only known once unpacked, so it counts as present.
        case symlink
    }

    /// A read-only view of a code package's tree, by relative path (`/` separators).
    public protocol Files {
        func node(_ path: String) -> Node?
        /// The names directly inside a directory of the package (empty when there is none).
        func names(in directory: String) -> [String]
    }

    /// The package's file the runtime loads for `handler`, or an error naming `field`.
    /// The handler's syntax is ``FunctionSpec``'s to check; an unparsable one passes here.
    public static func check(handler: String, runtime: RuntimeKind, field: String, files: some Files) -> SwellError? {
        switch runtime {
        case .provided:
            // A package with an executable `bootstrap` runs it, whatever the handler says (Lambda's
            // custom runtimes read `_HANDLER` themselves).
            switch files.node("bootstrap") {
            case .file(executable: true)?, .symlink?: return nil
            default: break
            }
            switch files.node(handler) {
            case .file(executable: true)?, .symlink?:
                return nil
            case .file(executable: false)?:
                return .invalid(field, "\(handler) in the code package is not executable (chmod +x \(handler), then deploy again)")
            case .directory?:
                return .invalid(field, "\(handler) in the code package is a directory; a provided runtime's handler names its executable (default: bootstrap)")
            case nil:
                return .invalid(field, "the code package has no executable \(handler) (a provided runtime runs the file the handler names; default: bootstrap)")
            }
        case .nodejs20:
            guard let (module, _) = split(handler) else { return nil }
            let candidates = [".js", ".cjs", ".mjs", ""].map { module + $0 }
            for c in candidates {
                switch files.node(c) {
                case .file?, .symlink?: return nil
                case .directory?:
                    for index in ["index.js", "index.cjs", "index.mjs", "index.json", "index.node", "package.json"] where files.node("\(c)/\(index)") != nil {
                        return nil
                    }
                case nil: break
                }
            }
            if !module.contains("/"), files.node("node_modules/\(module)") != nil { return nil }
            return .invalid(field, "the code package has no \(module).js, \(module).cjs or \(module).mjs (handler \"\(handler)\" loads FILE.EXPORT from the code directory)")
        case .python3:
            guard let (module, _) = split(handler) else { return nil }
            let path = module.replacingOccurrences(of: ".", with: "/")
            for c in ["\(path).py", "\(path)/__init__.py", "\(path).pyc", path] where files.node(c) != nil {
                return nil
            }
            let (directory, base) = splitPath(path)
            if files.names(in: directory).contains(where: { $0.hasPrefix(base + ".") && $0.hasSuffix(".so") }) { return nil }
            return .invalid(field, "the code package has no \(path).py (handler \"\(handler)\" imports MODULE.FUNCTION from the code directory)")
        }
    }

    /// True when the module's text never names the export and does not re-export another
    /// module wholesale: almost surely a typo in the handler. A hint only (see above).
    public static func exportNeverMentioned(handler: String, runtime: RuntimeKind, source: String) -> Bool {
        guard runtime != .provided, let (_, export) = split(handler) else { return false }
        let reexports: [String] = switch runtime {
        case .nodejs20: ["module.exports = require(", "module.exports=require(", "export *", "Object.assign(module.exports", "Object.assign(exports"]
        case .python3: ["import *", "globals()", "__getattr__"]
        case .provided: []
        }
        if reexports.contains(where: source.contains) { return false }
        return !containsWord(export, in: source)
    }

    /// `module/path.export` split at the last dot.
    static func split(_ handler: String) -> (module: String, export: String)? {
        guard let dot = handler.lastIndex(of: "."), dot != handler.startIndex, handler.index(after: dot) != handler.endIndex else { return nil }
        return (String(handler[..<dot]), String(handler[handler.index(after: dot)...]))
    }

    static func splitPath(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }

    /// Whether `word` occurs in `text` with no identifier character on either side.
    static func containsWord(_ word: String, in text: String) -> Bool {
        func isIdentifier(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" || c == "$" }
        var search = text[...]
        while let range = search.range(of: word) {
            let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
            let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
            if !(before.map(isIdentifier) ?? false) && !(after.map(isIdentifier) ?? false) { return true }
            search = text[range.upperBound...]
        }
        return false
    }
}

/// A code package's tree as read from its canonical archive.
public struct ArchiveFiles: HandlerCheck.Files {
    var nodes: [String: HandlerCheck.Node] = [:]
    var children: [String: [String]] = [:]
    var contents: [String: Data] = [:]

    public init(_ entries: [TarArchive.Entry]) {
        for entry in entries {
            let path = entry.path.hasSuffix("/") ? String(entry.path.dropLast()) : entry.path
            switch entry.kind {
            case .file(let data):
                nodes[path] = .file(executable: entry.mode & 0o111 != 0)
                contents[path] = data
            case .directory: nodes[path] = .directory
            case .symlink: nodes[path] = .symlink
            }
            // Parents exist even when the archive lists no entry for them.
            var (directory, name) = HandlerCheck.splitPath(path)
            children[directory, default: []].append(name)
            while !directory.isEmpty, nodes[directory] == nil {
                nodes[directory] = .directory
                let parent = HandlerCheck.splitPath(directory)
                children[parent.directory, default: []].append(parent.name)
                directory = parent.directory
            }
        }
    }

    public func node(_ path: String) -> HandlerCheck.Node? { nodes[path] }

    public func names(in directory: String) -> [String] { children[directory] ?? [] }

    /// The text of a regular file of the package.
    public func text(_ path: String) -> String? { contents[path].map { String(decoding: $0, as: UTF8.self) } }
}
