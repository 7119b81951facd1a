/// A JSON/YAML value tree. Manifests (YAML) and API bodies (JSON) are both read into
/// this shape first, so one reader validates both and names the offending field.
public enum ConfigValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([ConfigValue])
    case object([String: ConfigValue])

    /// A short name of the value's kind for error messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "a mapping"
        }
    }

    public subscript(key: String) -> ConfigValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}

extension ConfigValue: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([ConfigValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: ConfigValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

/// Reads typed fields out of a `ConfigValue` mapping, naming the field on every error.
public struct FieldReader {
    public let path: String
    let object: [String: ConfigValue]

    /// - Throws: when `value` is not a mapping.
    public init(_ value: ConfigValue, path: String) throws(SwellError) {
        guard case .object(let o) = value else {
            throw SwellError.invalid(path.isEmpty ? "body" : path, "must be a mapping (got \(value.kindName))")
        }
        self.object = o
        self.path = path
    }

    public func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Rejects keys that are not in `known`, so that a typo is an error and not silently ignored.
    public func rejectUnknown(_ known: Set<String>) throws(SwellError) {
        for key in object.keys.sorted() where !known.contains(key) {
            throw SwellError.invalid(field(key), "unknown field (expected one of: \(known.sorted().joined(separator: ", ")))")
        }
    }

    public func has(_ key: String) -> Bool {
        if let v = object[key], v != .null { return true }
        return false
    }

    public func value(_ key: String) -> ConfigValue? {
        guard let v = object[key], v != .null else { return nil }
        return v
    }

    public func string(_ key: String) throws(SwellError) -> String? {
        guard let v = value(key) else { return nil }
        switch v {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        default: throw SwellError.invalid(field(key), "must be a string (got \(v.kindName))")
        }
    }

    public func int(_ key: String, range: ClosedRange<Int>) throws(SwellError) -> Int? {
        guard let v = value(key) else { return nil }
        let n: Int
        switch v {
        case .int(let i): n = i
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: n = Int(d)
        case .string(let s) where Int(s) != nil: n = Int(s)!
        default: throw SwellError.invalid(field(key), "must be an integer (got \(v.kindName))")
        }
        guard range.contains(n) else {
            throw SwellError.invalid(field(key), "must be between \(range.lowerBound) and \(range.upperBound) (got \(n))")
        }
        return n
    }

    public func bool(_ key: String) throws(SwellError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw SwellError.invalid(field(key), "must be true or false (got \(v.kindName))") }
        return b
    }

    public func number(_ key: String) throws(SwellError) -> Double? {
        guard let v = value(key) else { return nil }
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: throw SwellError.invalid(field(key), "must be a number (got \(v.kindName))")
        }
    }

    public func object(_ key: String) throws(SwellError) -> FieldReader? {
        guard let v = value(key) else { return nil }
        return try FieldReader(v, path: field(key))
    }

    /// The entries of a mapping field, sorted by key.
    public func entries() -> [(String, ConfigValue)] {
        object.sorted { $0.key < $1.key }
    }
}

extension ConfigValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: ConfigValue...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
    public init(dictionaryLiteral elements: (String, ConfigValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
}
