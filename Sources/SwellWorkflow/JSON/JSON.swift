/// A JSON value as the States Language sees it.
///
/// Equality is the one ASL needs: `true` is not `1`, numbers compare by value (`1 == 1.0`),
/// and the order of an object's members does not matter (it is kept, though, so that what a
/// workflow outputs keeps the order its input had).
///
/// ```swift
/// let value = try JSON(parsing: #"{"a": [1, 2.5, true, null]}"#)
/// value["a"]?[0] == 1.0   // true
/// value.serialized()      // {"a":[1,2.5,true,null]}
/// ```
public enum JSON: Sendable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    /// The kind of a value, for error messages and the type tests of Choice rules.
    public enum Kind: String, Sendable {
        case null, boolean, number, string, array, object
    }

    public var kind: Kind {
        switch self {
        case .null: .null
        case .bool: .boolean
        case .number: .number
        case .string: .string
        case .array: .array
        case .object: .object
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var numberValue: JSONNumber? {
        if case .number(let n) = self { return n }
        return nil
    }

    /// The value as an `Int` when it is a number with no fractional part that fits.
    public var intValue: Int? { numberValue?.exactInt }

    public var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The member `key` of an object (nil for a missing member or a value that is not an object).
    public subscript(key: String) -> JSON? {
        objectValue?[key]
    }

    /// The element at `index` of an array (nil when out of range or not an array).
    public subscript(index: Int) -> JSON? {
        guard case .array(let a) = self, a.indices.contains(index) else { return nil }
        return a[index]
    }

    public static func int(_ value: Int) -> JSON { .number(.int(value)) }
    public static func double(_ value: Double) -> JSON { .number(.double(value)) }
}

// MARK: - Numbers

/// A JSON number: an integer when the text had no fraction or exponent and fits an `Int`,
/// else a `Double`. Two numbers are equal when their values are, whatever their spelling.
public enum JSONNumber: Sendable, CustomStringConvertible {
    case int(Int)
    case double(Double)

    public var doubleValue: Double {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        }
    }

    /// The value as an `Int` when it has no fractional part and fits.
    public var exactInt: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d):
            guard d.isFinite, d.rounded() == d, d >= -9.223372036854775e18, d < 9.223372036854775e18 else { return nil }
            return Int(d)
        }
    }

    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .double(let d):
            guard d.isFinite else { return "null" }
            return String(d)
        }
    }

    /// Numeric order of two numbers (integers compared exactly, else as doubles).
    public static func compare(_ a: JSONNumber, _ b: JSONNumber) -> Int {
        if case .int(let x) = a, case .int(let y) = b { return x < y ? -1 : (x == y ? 0 : 1) }
        let x = a.doubleValue, y = b.doubleValue
        return x < y ? -1 : (x == y ? 0 : 1)
    }
}

extension JSONNumber: Hashable {
    public static func == (a: JSONNumber, b: JSONNumber) -> Bool { compare(a, b) == 0 }

    public func hash(into hasher: inout Hasher) {
        // Equal values must hash alike: 1 and 1.0 hash as the same double.
        hasher.combine(doubleValue)
    }
}

// MARK: - Objects

/// The members of a JSON object, in the order they were written; equality ignores the order.
public struct JSONObject: Sendable, Sequence {
    public private(set) var keys: [String] = []
    private var storage: [String: JSON] = [:]

    public init() {}

    public init(_ members: [(String, JSON)]) {
        for (key, value) in members { self[key] = value }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// The member's value; setting nil removes the member, setting a new key appends it.
    public subscript(key: String) -> JSON? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public func makeIterator() -> AnyIterator<(key: String, value: JSON)> {
        var index = 0
        return AnyIterator {
            guard index < keys.count else { return nil }
            defer { index += 1 }
            let key = keys[index]
            return (key, storage[key]!)
        }
    }
}

extension JSONObject: Hashable {
    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.storage == b.storage
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent: a sum of the members' own hashes.
        var sum = 0
        for (key, value) in storage {
            var h = Hasher()
            h.combine(key)
            h.combine(value)
            sum = sum &+ h.finalize()
        }
        hasher.combine(storage.count)
        hasher.combine(sum)
    }
}

extension JSON: Hashable {
    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)): x == y
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(1); hasher.combine(b)
        case .number(let n): hasher.combine(2); hasher.combine(n)
        case .string(let s): hasher.combine(3); hasher.combine(s)
        case .array(let a): hasher.combine(4); hasher.combine(a)
        case .object(let o): hasher.combine(5); hasher.combine(o)
        }
    }
}

// MARK: - Literals (for definitions written in code and for tests)

extension JSON: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(.int(value)) }
    public init(floatLiteral value: Double) { self = .number(.double(value)) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) { self = .object(JSONObject(elements)) }
}

// MARK: - Codable: the value travels as its JSON text, so that member order and number spelling survive a journal.

extension JSON: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try JSON(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(serialized())
    }
}

extension JSON: CustomStringConvertible {
    public var description: String { serialized() }
}
