/// A Payload Template: the value of `Parameters`, `ResultSelector` or `ItemSelector`.
///
/// Members whose name ends in `.$` take their value from a path into the input (`$.a`), the
/// context object (`$$.Execution.Id`) or an intrinsic function; the `.$` is dropped from the
/// name. Objects nested in objects and arrays are processed the same way; every other value is
/// copied as written.
public indirect enum PayloadTemplate: Sendable, Hashable {
    case literal(JSON)
    case object([(name: String, value: PayloadTemplate)])
    case array([PayloadTemplate])
    case path(JSONPath, field: String)
    case intrinsic(IntrinsicCall, field: String)

    public static func == (a: PayloadTemplate, b: PayloadTemplate) -> Bool {
        switch (a, b) {
        case (.literal(let x), .literal(let y)): x == y
        case (.object(let x), .object(let y)): x.map(\.name) == y.map(\.name) && x.map(\.value) == y.map(\.value)
        case (.array(let x), .array(let y)): x == y
        case (.path(let x, let f), .path(let y, let g)): x == y && f == g
        case (.intrinsic(let x, let f), .intrinsic(let y, let g)): x == y && f == g
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .literal(let v): hasher.combine(v)
        case .object(let members):
            for m in members {
                hasher.combine(m.name)
                hasher.combine(m.value)
            }
        case .array(let a): hasher.combine(a)
        case .path(let p, let f): hasher.combine(p); hasher.combine(f)
        case .intrinsic(let c, let f): hasher.combine(c); hasher.combine(f)
        }
    }

    /// Reads a template, appending every fault (with its path under `at`) to `faults`.
    static func parse(_ value: JSON, at path: String, faults: inout [DefinitionFault]) -> PayloadTemplate {
        switch value {
        case .object(let object):
            var members: [(name: String, value: PayloadTemplate)] = []
            var dynamic = false
            var names = Set<String>()
            for (key, member) in object {
                let memberPath = "\(path).\(key)"
                if key.hasSuffix(".$") {
                    dynamic = true
                    let name = String(key.dropLast(2))
                    if !names.insert(name).inserted {
                        faults.append(DefinitionFault(memberPath, "\"\(name)\" is given twice (with and without .$)"))
                    }
                    guard case .string(let expression) = member else {
                        faults.append(DefinitionFault(memberPath, "a field ending in .$ must be a string holding a path or an intrinsic function"))
                        continue
                    }
                    if IntrinsicCall.looksLikeCall(expression) {
                        do {
                            members.append((name, .intrinsic(try IntrinsicCall(parsing: expression), field: key)))
                        } catch {
                            faults.append(DefinitionFault(memberPath, error.message))
                        }
                    } else {
                        do {
                            members.append((name, .path(try JSONPath(expression), field: key)))
                        } catch {
                            faults.append(DefinitionFault(memberPath, error.message))
                        }
                    }
                } else {
                    if !names.insert(key).inserted {
                        faults.append(DefinitionFault(memberPath, "\"\(key)\" is given twice (with and without .$)"))
                    }
                    let inner = parse(member, at: memberPath, faults: &faults)
                    if case .literal = inner {} else { dynamic = true }
                    members.append((key, inner))
                }
            }
            return dynamic ? .object(members) : .literal(value)
        case .array(let elements):
            let inner = elements.enumerated().map { parse($0.element, at: "\(path)[\($0.offset)]", faults: &faults) }
            if inner.allSatisfy({ if case .literal = $0 { true } else { false } }) { return .literal(value) }
            return .array(inner)
        default:
            return .literal(value)
        }
    }

    /// The JSON this template makes from `input` and the context object.
    /// - Throws: `States.Runtime` when a path is not in the input, `States.IntrinsicFailure` when a function fails.
    public func evaluate(input: JSON, context: JSON, random: inout some RandomNumberGenerator) throws(StatesError) -> JSON {
        switch self {
        case .literal(let v):
            return v
        case .object(let members):
            var object = JSONObject()
            for member in members {
                object[member.name] = try member.value.evaluate(input: input, context: context, random: &random)
            }
            return .object(object)
        case .array(let elements):
            var out: [JSON] = []
            out.reserveCapacity(elements.count)
            for element in elements { out.append(try element.evaluate(input: input, context: context, random: &random)) }
            return .array(out)
        case .path(let path, let field):
            guard let v = path.select(in: input, context: context) else {
                let source = path.root == .context ? "the context object" : "the input"
                throw StatesError.runtime("The JSONPath '\(path.text)' specified for the field '\(field)' could not be found in \(source)")
            }
            return v
        case .intrinsic(let call, _):
            return try call.evaluate(input: input, context: context, random: &random)
        }
    }
}
