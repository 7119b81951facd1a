import Foundation
import SwellModel
import Yams

/// A parsed `swell.yaml`: a namespace and the functions to deploy, each with its code
/// resolved to a canonical package.
public struct Manifest: Sendable {
    public struct Function: Sendable {
        public var name: String
        /// The entry as written, with `code` replaced by `codeSha256` and `codeSize`.
        public var spec: ConfigValue
        public var package: CodePackage
    }

    public var namespace: String?
    public var functions: [Function]
    public var path: String
    /// The `workflows:` map (validated definitions).
    public var workflows: [Workflow] = []
    /// Hints that do not stop the deploy (a handler whose export its file never mentions).
    public var warnings: [String] = []

    /// Reads `swell.yaml` in `directory` (or the file itself), validating every function
    /// entry and packing its code. Every mistake found is reported in one error.
    public static func load(_ location: String) throws -> Manifest {
        var isDir: ObjCBool = false
        let fm = FileManager.default
        guard fm.fileExists(atPath: location, isDirectory: &isDir) else {
            throw SwellError.invalid("manifest", "\(location) does not exist (give a directory holding swell.yaml, or the manifest file)")
        }
        let file = isDir.boolValue ? (location as NSString).appendingPathComponent("swell.yaml") : location
        if isDir.boolValue && !fm.fileExists(atPath: file) {
            throw SwellError.invalid("manifest", "\(location) has no swell.yaml (give a directory holding swell.yaml, or the manifest file)")
        }
        guard let data = fm.contents(atPath: file) else {
            throw SwellError.invalid("manifest", "cannot read \(file)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SwellError.invalid("manifest", "\(file) is not a Swell manifest: it is not UTF-8 text")
        }
        let base = (file as NSString).deletingLastPathComponent
        return try parse(text, baseDirectory: base.isEmpty ? "." : base, path: file)
    }

    /// Parses manifest text; `code` paths are relative to `baseDirectory`.
    public static func parse(_ text: String, baseDirectory: String, path: String = "swell.yaml") throws -> Manifest {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw SwellError.invalid("manifest", "\(path) is not a Swell manifest: it is not valid YAML: \(error)")
        }
        guard let node else { throw SwellError.invalid("manifest", "\(path) is empty") }
        let value = try configValue(node)
        // Something else entirely (a handler file, a package.json): say so, naming the file.
        guard case .object(let top) = value, top.isEmpty || top["functions"] != nil || top["namespace"] != nil || top["workflows"] != nil else {
            throw SwellError.invalid(
                "manifest", "\(path) is not a Swell manifest: expected a mapping with a functions: key (got \(describe(value)))")
        }
        let root = try FieldReader(value, path: "")
        var problems = Problems()
        _ = problems.check { () throws(SwellError) in try root.rejectUnknown(["namespace", "functions", "workflows"]) }
        let namespace = problems.check { () throws(SwellError) -> String? in
            let namespace = try root.string("namespace")
            if let namespace, !Names.isNamespaceName(namespace) {
                throw SwellError.invalid("namespace", "namespace names are 1-32 characters of a-z 0-9 - (got \"\(namespace)\")")
            }
            return namespace
        } ?? nil
        let functions = problems.check { () throws(SwellError) -> FieldReader in
            guard let functions = try root.object("functions") else {
                throw SwellError.invalid("functions", "is required: a mapping of function names to their settings")
            }
            return functions
        }
        var result: [Function] = []
        var warnings: [String] = []
        for (name, entry) in functions?.entries() ?? [] {
            let field = functions!.field(name)
            guard Names.isFunctionName(name) else {
                problems.add(SwellError.invalid(field, "function names are 1-64 characters of A-Z a-z 0-9 - _"))
                continue
            }
            guard case .object(var object) = entry else {
                problems.add(SwellError.invalid(field, "must be a mapping (got \(entry.kindName))"))
                continue
            }
            let reader = try FieldReader(entry, path: field)
            // The code first, so that the spec's own checks and the handler's are reported together.
            let package = problems.check { () throws(SwellError) -> CodePackage? in
                guard let code = try reader.string("code") else {
                    throw SwellError.invalid(reader.field("code"), "is required: a directory or a .zip, relative to the manifest")
                }
                let codePath = code.hasPrefix("/") ? code : (baseDirectory as NSString).appendingPathComponent(code)
                do {
                    return try CodePackage.pack(codePath)
                } catch let error as CodePackage.PackError {
                    throw SwellError.invalid(reader.field("code"), error.description)
                } catch {
                    throw SwellError.invalid(reader.field("code"), "\(error)")
                }
            } ?? nil
            object.removeValue(forKey: "code")
            object["codeSha256"] = .string(package?.sha256 ?? String(repeating: "0", count: 64))
            object["codeSize"] = .int(package?.data.count ?? 0)
            // Validate now so that the user hears about every problem before anything is uploaded.
            guard let config = problems.check({ () throws(SwellError) in try FunctionSpec.parse(.object(object), path: field) }),
                let package
            else { continue }
            let handlerField = reader.field("handler")
            do {
                let files = ArchiveFiles(try TarArchive.read(package.data))
                if let problem = HandlerCheck.check(handler: config.handler, runtime: config.runtime, field: handlerField, files: files) {
                    problems.add(problem)
                    continue
                }
                if let warning = exportWarning(config, field: handlerField, files: files) { warnings.append(warning) }
            } catch {
                problems.add(SwellError.invalid(reader.field("code"), "cannot read the packed code: \(error)"))
                continue
            }
            result.append(Function(name: name, spec: .object(object), package: package))
        }
        let workflows = parseWorkflows(root, baseDirectory: baseDirectory, problems: &problems)
        if problems.errors.count > 1 {
            throw SwellError.combined(problems.errors, summary: "\(problems.errors.count) problems in \(path)")
        }
        try problems.throwIfAny()
        return Manifest(namespace: namespace, functions: result, path: path, workflows: workflows, warnings: warnings)
    }

    /// A warning when the handler's module never mentions its export (a likely typo).
    static func exportWarning(_ config: FunctionConfig, field: String, files: ArchiveFiles) -> String? {
        guard let dot = config.handler.lastIndex(of: ".") else { return nil }
        let module = String(config.handler[..<dot])
        let export = String(config.handler[config.handler.index(after: dot)...])
        let candidates: [String] = switch config.runtime {
        case .nodejs20: [".js", ".cjs", ".mjs", ""].map { module + $0 }
        case .python3: [module.replacingOccurrences(of: ".", with: "/") + ".py"]
        case .provided: []
        }
        guard let file = candidates.first(where: { files.text($0) != nil }), let source = files.text(file),
            HandlerCheck.exportNeverMentioned(handler: config.handler, runtime: config.runtime, source: source)
        else { return nil }
        return "\(field): \(file) never mentions \(export); the function will fail at its first invocation unless \(file) exports it"
    }

    static func describe(_ value: ConfigValue) -> String {
        switch value {
        case .object(let o): "a mapping with keys \(o.keys.sorted().prefix(5).joined(separator: ", "))"
        default: value.kindName
        }
    }

    /// Converts a YAML node; plain scalars become numbers and booleans, quoted ones stay strings.
    static func configValue(_ node: Node) throws -> ConfigValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                let s = scalar.string
                if s == "~" || s == "null" || s.isEmpty { return .null }
                if s == "true" || s == "True" || s == "yes" { return .bool(true) }
                if s == "false" || s == "False" || s == "no" { return .bool(false) }
                if let i = Int(s) { return .int(i) }
                if let d = Double(s) { return .double(d) }
            }
            return .string(scalar.string)
        case .sequence(let seq):
            return .array(try seq.map(configValue))
        case .mapping(let map):
            var object: [String: ConfigValue] = [:]
            for (k, v) in map {
                guard case .scalar(let key) = k else { throw SwellError.invalid("manifest", "mapping keys must be plain strings") }
                object[key.string] = try configValue(v)
            }
            return .object(object)
        case .alias:
            throw SwellError.invalid("manifest", "YAML anchors and aliases are not supported")
        }
    }
}
