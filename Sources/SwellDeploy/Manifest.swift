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

    /// Reads `swell.yaml` in `directory` (or the file itself), validating every function
    /// entry and packing its code.
    public static func load(_ location: String) throws -> Manifest {
        var isDir: ObjCBool = false
        let fm = FileManager.default
        guard fm.fileExists(atPath: location, isDirectory: &isDir) else {
            throw SwellError.invalid("manifest", "\(location) does not exist")
        }
        let file = isDir.boolValue ? (location as NSString).appendingPathComponent("swell.yaml") : location
        guard let text = fm.contents(atPath: file).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw SwellError.invalid("manifest", "cannot read \(file)")
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
            throw SwellError.invalid("manifest", "\(path) is not valid YAML: \(error)")
        }
        guard let node else { throw SwellError.invalid("manifest", "\(path) is empty") }
        let root = try FieldReader(try configValue(node), path: "")
        try root.rejectUnknown(["namespace", "functions"])
        let namespace = try root.string("namespace")
        if let namespace, !Names.isNamespaceName(namespace) {
            throw SwellError.invalid("namespace", "namespace names are 1-32 characters of a-z 0-9 - (got \"\(namespace)\")")
        }
        guard let functions = try root.object("functions") else {
            throw SwellError.invalid("functions", "is required: a mapping of function names to their settings")
        }
        var result: [Function] = []
        for (name, entry) in functions.entries() {
            let field = functions.field(name)
            guard Names.isFunctionName(name) else {
                throw SwellError.invalid(field, "function names are 1-64 characters of A-Z a-z 0-9 - _")
            }
            let reader = try FieldReader(entry, path: field)
            guard let code = try reader.string("code") else {
                throw SwellError.invalid(reader.field("code"), "is required: a directory or a .zip, relative to the manifest")
            }
            let codePath = code.hasPrefix("/") ? code : (baseDirectory as NSString).appendingPathComponent(code)
            let package: CodePackage
            do {
                package = try CodePackage.pack(codePath)
            } catch let error as CodePackage.PackError {
                throw SwellError.invalid(reader.field("code"), error.description)
            }
            guard case .object(var object) = entry else { continue }
            object.removeValue(forKey: "code")
            object["codeSha256"] = .string(package.sha256)
            object["codeSize"] = .int(package.data.count)
            // Validate now so that the user hears about every problem before anything is uploaded.
            _ = try FunctionSpec.parse(.object(object), path: field)
            result.append(Function(name: name, spec: .object(object), package: package))
        }
        return Manifest(namespace: namespace, functions: result, path: path)
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
