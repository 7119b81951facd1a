import Foundation
import SwellModel
import SwellWorkflow
import Yams

extension Manifest {
    /// A workflow of the manifest: its name, its definition as validated JSON text and its
    /// triggers (each event starts an execution).
    public struct Workflow: Sendable {
        public var name: String
        public var definition: String
        public var triggers: [TriggerConfig] = []
    }

    /// Reads the `workflows:` map: each entry has an inline `definition:` (JSON or YAML) or a
    /// `definitionFile:` (a .json, .yaml or .yml file relative to the manifest), and optional
    /// `triggers:` (as a function's: timer, kafka, object-store). Every definition
    /// is validated in full; each fault is reported with its path, e.g.
    /// `workflows.grade-set.States.Grade.Next: no state named "Grad"`.
    static func parseWorkflows(_ root: FieldReader, baseDirectory: String, problems: inout Problems) -> [Workflow] {
        guard let map = problems.check({ () throws(SwellError) in try root.object("workflows") }) ?? nil else { return [] }
        var result: [Workflow] = []
        for (name, entry) in map.entries() {
            let field = map.field(name)
            guard Names.isFunctionName(name) else {
                problems.add(SwellError.invalid(field, "workflow names are 1-64 characters of A-Z a-z 0-9 - _"))
                continue
            }
            guard let reader = problems.check({ () throws(SwellError) in try FieldReader(entry, path: field) }) else { continue }
            guard problems.check({ () throws(SwellError) in try reader.rejectUnknown(["definition", "definitionFile", "triggers"]) }) != nil else { continue }
            let json: JSON? = problems.check { () throws(SwellError) -> JSON in
                switch (reader.value("definition"), try reader.string("definitionFile")) {
                case (.some, .some):
                    throw SwellError.invalid(field, "give either definition or definitionFile, not both")
                case (nil, nil):
                    throw SwellError.invalid(field, "needs a definition (inline JSON or YAML) or a definitionFile")
                case (.some(let inline), nil):
                    if case .string(let text) = inline {
                        do { return try JSON(parsing: text) } catch {
                            throw SwellError.invalid(reader.field("definition"), "is not valid JSON: \(error)")
                        }
                    }
                    return Manifest.json(inline)
                case (nil, .some(let file)):
                    let path = file.hasPrefix("/") ? file : (baseDirectory as NSString).appendingPathComponent(file)
                    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                        throw SwellError.invalid(reader.field("definitionFile"), "cannot read \(path)")
                    }
                    if path.hasSuffix(".yaml") || path.hasSuffix(".yml") {
                        do {
                            guard let node = try Yams.compose(yaml: text) else { throw SwellError.invalid(reader.field("definitionFile"), "\(file) is empty") }
                            return Manifest.json(try configValue(node))
                        } catch let error as SwellError {
                            throw error
                        } catch {
                            throw SwellError.invalid(reader.field("definitionFile"), "\(file) is not valid YAML: \(error)")
                        }
                    }
                    do { return try JSON(parsing: text) } catch {
                        throw SwellError.invalid(reader.field("definitionFile"), "\(file) is not valid JSON: \(error)")
                    }
                }
            } ?? nil
            let triggers = problems.check { () throws(SwellError) in try TriggerConfig.parseWorkflowList(reader) }
            guard let json else { continue }
            do {
                _ = try StateMachine(json: json)
                result.append(Workflow(name: name, definition: json.serialized(), triggers: triggers ?? []))
            } catch {
                for fault in error.faults {
                    let path = fault.path.isEmpty ? field : "\(field).\(fault.path)"
                    problems.add(SwellError.invalid(path, "\(path): \(fault.message)"))
                }
            }
        }
        return result
    }

    /// A YAML-read value as a States Language JSON value (members sorted by name: YAML mappings
    /// come without an order here).
    static func json(_ value: ConfigValue) -> JSON {
        switch value {
        case .null: .null
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .double(let d): .double(d)
        case .string(let s): .string(s)
        case .array(let a): .array(a.map(json))
        case .object(let o): .object(JSONObject(o.keys.sorted().map { ($0, json(o[$0]!)) }))
        }
    }
}
