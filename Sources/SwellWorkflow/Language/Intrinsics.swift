import Crypto
import Foundation

/// A call of an intrinsic function in a `.$` field, e.g. `States.Format('Hello, {}', $.name)`,
/// parsed once when the definition is read and evaluated for each state entry.
public struct IntrinsicCall: Sendable, Hashable {
    public enum Function: String, Sendable, Hashable, CaseIterable {
        case format = "States.Format"
        case stringToJson = "States.StringToJson"
        case jsonToString = "States.JsonToString"
        case array = "States.Array"
        case arrayPartition = "States.ArrayPartition"
        case arrayContains = "States.ArrayContains"
        case arrayRange = "States.ArrayRange"
        case arrayGetItem = "States.ArrayGetItem"
        case arrayLength = "States.ArrayLength"
        case arrayUnique = "States.ArrayUnique"
        case base64Encode = "States.Base64Encode"
        case base64Decode = "States.Base64Decode"
        case hash = "States.Hash"
        case jsonMerge = "States.JsonMerge"
        case mathRandom = "States.MathRandom"
        case mathAdd = "States.MathAdd"
        case stringSplit = "States.StringSplit"
        case uuid = "States.UUID"

        /// The number of arguments the function takes.
        var arity: ClosedRange<Int> {
            switch self {
            case .format: 1...Int.max
            case .array: 0...Int.max
            case .stringToJson, .jsonToString, .arrayLength, .arrayUnique, .base64Encode, .base64Decode: 1...1
            case .arrayPartition, .arrayContains, .arrayGetItem, .hash, .mathAdd, .stringSplit: 2...2
            case .arrayRange, .jsonMerge: 3...3
            case .mathRandom: 2...3
            case .uuid: 0...0
            }
        }
    }

    public indirect enum Argument: Sendable, Hashable {
        /// A quoted string: its value, and its text with the escapes kept (States.Format needs to
        /// tell an escaped `\{` from a placeholder).
        case string(String, raw: String)
        case literal(JSON)
        case path(JSONPath)
        case call(IntrinsicCall)
    }

    public let function: Function
    public let arguments: [Argument]

    /// Intrinsics nested deeper than this are rejected (the Step Functions limit).
    public static let maxNesting = 10
    /// The largest string Base64Encode/Decode and Hash take, and the largest array ArrayRange makes.
    public static let maxStringLength = 10_000
    public static let maxRangeItems = 1000

    /// Parses an intrinsic invocation; throws a message naming what is wrong.
    public init(parsing text: String) throws(IntrinsicParseError) {
        var parser = IntrinsicParser(chars: Array(text), text: text)
        let call = try parser.parseCall(depth: 1)
        parser.skipSpaces()
        guard parser.atEnd else { throw parser.fail("unexpected text after the call") }
        self = call
    }

    init(function: Function, arguments: [Argument]) {
        self.function = function
        self.arguments = arguments
    }

    /// Whether a `.$` value looks like an intrinsic call rather than a path.
    static func looksLikeCall(_ text: String) -> Bool {
        text.hasPrefix("States.") && text.contains("(")
    }
}

public struct IntrinsicParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

struct IntrinsicParser {
    let chars: [Character]
    let text: String
    var i = 0

    var atEnd: Bool { i >= chars.count }
    func peek() -> Character? { i < chars.count ? chars[i] : nil }
    func fail(_ what: String) -> IntrinsicParseError { IntrinsicParseError(message: "invalid intrinsic function \"\(text)\": \(what)") }

    mutating func skipSpaces() {
        while let c = peek(), c == " " || c == "\t" || c == "\n" { i += 1 }
    }

    mutating func parseCall(depth: Int) throws(IntrinsicParseError) -> IntrinsicCall {
        guard depth <= IntrinsicCall.maxNesting else { throw fail("more than \(IntrinsicCall.maxNesting) nested functions") }
        skipSpaces()
        var name = ""
        while let c = peek(), c != "(", c != " " {
            name.append(c)
            i += 1
        }
        guard let function = IntrinsicCall.Function(rawValue: name) else { throw fail("unknown function \"\(name)\"") }
        skipSpaces()
        guard peek() == "(" else { throw fail("expected ( after \(name)") }
        i += 1
        var arguments: [IntrinsicCall.Argument] = []
        skipSpaces()
        if peek() == ")" {
            i += 1
        } else {
            while true {
                arguments.append(try parseArgument(depth: depth))
                skipSpaces()
                if peek() == "," {
                    i += 1
                    continue
                }
                guard peek() == ")" else { throw fail("expected , or ) in the arguments of \(name)") }
                i += 1
                break
            }
        }
        guard function.arity.contains(arguments.count) else {
            let r = function.arity
            let expected = r.upperBound == Int.max ? "at least \(r.lowerBound)" : (r.count == 1 ? "\(r.lowerBound)" : "\(r.lowerBound) to \(r.upperBound)")
            throw fail("\(name) takes \(expected) argument\(expected == "1" ? "" : "s"), got \(arguments.count)")
        }
        return IntrinsicCall(function: function, arguments: arguments)
    }

    mutating func parseArgument(depth: Int) throws(IntrinsicParseError) -> IntrinsicCall.Argument {
        skipSpaces()
        guard let c = peek() else { throw fail("unexpected end") }
        if c == "'" { return try parseString() }
        if c == "$" {
            // A path runs to the next ',' or ')' outside brackets and quotes.
            var path = ""
            var brackets = 0
            var quote: Character? = nil
            while let c = peek() {
                if let q = quote {
                    if c == q { quote = nil }
                } else if c == "'" || c == "\"" {
                    quote = c
                } else if c == "[" {
                    brackets += 1
                } else if c == "]" {
                    brackets -= 1
                } else if brackets == 0, c == "," || c == ")" || c == " " {
                    break
                }
                path.append(c)
                i += 1
            }
            do {
                return .path(try JSONPath(path))
            } catch {
                throw fail(error.message)
            }
        }
        if text[text.index(text.startIndex, offsetBy: i)...].hasPrefix("States.") {
            return .call(try parseCall(depth: depth + 1))
        }
        var word = ""
        while let c = peek(), c != ",", c != ")", c != " " {
            word.append(c)
            i += 1
        }
        guard let value = JSON.scalarLiteral(word) else { throw fail("invalid argument \"\(word)\"") }
        return .literal(value)
    }

    mutating func parseString() throws(IntrinsicParseError) -> IntrinsicCall.Argument {
        i += 1
        var value = ""
        var raw = ""
        while let c = peek() {
            i += 1
            if c == "\\" {
                guard let next = peek() else { break }
                guard next == "'" || next == "{" || next == "}" || next == "\\" else {
                    throw fail("invalid escape \\\(next) (only \\', \\{, \\} and \\\\ are allowed)")
                }
                i += 1
                value.append(next)
                raw.append(c)
                raw.append(next)
            } else if c == "'" {
                return .string(value, raw: raw)
            } else {
                value.append(c)
                raw.append(c)
            }
        }
        throw fail("unterminated string")
    }
}

// MARK: - Evaluation

extension IntrinsicCall {
    /// Evaluates the call against a state's input and the context object.
    /// - Throws: `States.IntrinsicFailure` for bad arguments; `States.Runtime` for a path that is not there.
    public func evaluate(input: JSON, context: JSON, random: inout some RandomNumberGenerator) throws(StatesError) -> JSON {
        var values: [JSON] = []
        values.reserveCapacity(arguments.count)
        for argument in arguments {
            switch argument {
            case .string(let s, _): values.append(.string(s))
            case .literal(let v): values.append(v)
            case .path(let path):
                guard let v = path.select(in: input, context: context) else {
                    throw StatesError.runtime("The JSONPath \(path.text) in the arguments of \(function.rawValue) could not be found in the input")
                }
                values.append(v)
            case .call(let call): values.append(try call.evaluate(input: input, context: context, random: &random))
            }
        }
        let name = function.rawValue
        func fail(_ message: String) -> StatesError { .intrinsic("\(name): \(message)") }
        func string(_ k: Int) throws(StatesError) -> String {
            guard let s = values[k].stringValue else { throw fail("argument \(k + 1) must be a string, got \(values[k].kind.rawValue)") }
            return s
        }
        func array(_ k: Int) throws(StatesError) -> [JSON] {
            guard let a = values[k].arrayValue else { throw fail("argument \(k + 1) must be an array, got \(values[k].kind.rawValue)") }
            return a
        }
        func integer(_ k: Int) throws(StatesError) -> Int {
            guard let n = values[k].intValue else { throw fail("argument \(k + 1) must be an integer, got \(values[k])") }
            return n
        }

        switch function {
        case .format:
            return .string(try format(values: values, fail: fail))
        case .stringToJson:
            let s = try string(0)
            do {
                return try JSON(parsing: s)
            } catch {
                throw fail("the string is not JSON (\(error))")
            }
        case .jsonToString:
            return .string(values[0].serialized())
        case .array:
            return .array(values)
        case .arrayPartition:
            let a = try array(0)
            let size = try integer(1)
            guard size > 0 else { throw fail("the chunk size must be a positive integer, got \(size)") }
            return .array(stride(from: 0, to: a.count, by: size).map { .array(Array(a[$0..<min($0 + size, a.count)])) })
        case .arrayContains:
            return .bool(try array(0).contains(values[1]))
        case .arrayRange:
            let start = try integer(0), end = try integer(1), step = try integer(2)
            guard step != 0 else { throw fail("the step must not be 0") }
            var out: [JSON] = []
            var v = start
            while step > 0 ? v <= end : v >= end {
                out.append(.int(v))
                guard out.count <= IntrinsicCall.maxRangeItems else { throw fail("the range has more than \(IntrinsicCall.maxRangeItems) items") }
                let (next, overflow) = v.addingReportingOverflow(step)
                if overflow { break }
                v = next
            }
            return .array(out)
        case .arrayGetItem:
            let a = try array(0)
            let k = try integer(1)
            guard a.indices.contains(k) else { throw fail("index \(k) is out of bounds for an array of \(a.count)") }
            return a[k]
        case .arrayLength:
            return .int(try array(0).count)
        case .arrayUnique:
            var seen = Set<JSON>()
            return .array(try array(0).filter { seen.insert($0).inserted })
        case .base64Encode:
            let s = try string(0)
            guard s.count <= IntrinsicCall.maxStringLength else { throw fail("the input is longer than \(IntrinsicCall.maxStringLength) characters") }
            return .string(Data(s.utf8).base64EncodedString())
        case .base64Decode:
            let s = try string(0)
            guard s.count <= IntrinsicCall.maxStringLength else { throw fail("the input is longer than \(IntrinsicCall.maxStringLength) characters") }
            guard let data = Data(base64Encoded: s), let decoded = String(data: data, encoding: .utf8) else {
                throw fail("the input is not base64 of UTF-8 text")
            }
            return .string(decoded)
        case .hash:
            let s = try string(0)
            guard s.count <= IntrinsicCall.maxStringLength else { throw fail("the input is longer than \(IntrinsicCall.maxStringLength) characters") }
            let algorithm = try string(1)
            let data = Data(s.utf8)
            let digest: [UInt8]
            switch algorithm {
            case "MD5": digest = Array(Insecure.MD5.hash(data: data))
            case "SHA-1": digest = Array(Insecure.SHA1.hash(data: data))
            case "SHA-256": digest = Array(SHA256.hash(data: data))
            case "SHA-384": digest = Array(SHA384.hash(data: data))
            case "SHA-512": digest = Array(SHA512.hash(data: data))
            default: throw fail("unknown algorithm \"\(algorithm)\" (MD5, SHA-1, SHA-256, SHA-384 or SHA-512)")
            }
            return .string(digest.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined())
        case .jsonMerge:
            guard case .object(let a) = values[0] else { throw fail("argument 1 must be an object, got \(values[0].kind.rawValue)") }
            guard case .object(let b) = values[1] else { throw fail("argument 2 must be an object, got \(values[1].kind.rawValue)") }
            guard case .bool(let deep) = values[2] else { throw fail("argument 3 must be a boolean") }
            guard !deep else { throw fail("only the shallow merge is supported: the third argument must be false") }
            var merged = a
            for (key, value) in b { merged[key] = value }
            return .object(merged)
        case .mathRandom:
            let start = try integer(0), end = try integer(1)
            guard start < end else { throw fail("the start (\(start)) must be less than the end (\(end))") }
            if values.count == 3 {
                var seeded = SplitMix64(seed: UInt64(bitPattern: Int64(try integer(2))))
                return .int(Int.random(in: start..<end, using: &seeded))
            }
            return .int(Int.random(in: start..<end, using: &random))
        case .mathAdd:
            let a = try integer(0), b = try integer(1)
            let (sum, overflow) = a.addingReportingOverflow(b)
            guard !overflow else { throw fail("the sum overflows") }
            return .int(sum)
        case .stringSplit:
            let s = try string(0)
            let delimiters = Set(try string(1))
            return .array(s.split(whereSeparator: { delimiters.contains($0) }).map { .string(String($0)) })
        case .uuid:
            var bytes = [UInt8]()
            for _ in 0..<2 {
                let v = random.next()
                for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
            }
            bytes[6] = (bytes[6] & 0x0F) | 0x40
            bytes[8] = (bytes[8] & 0x3F) | 0x80
            let hex = bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            return .string([hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }.joined(separator: "-"))
        }
    }

    /// States.Format: each `{}` of the template takes the next argument; `\{`, `\}`, `\'` and
    /// `\\` in a quoted template stand for the characters themselves.
    private func format(values: [JSON], fail: (String) -> StatesError) throws(StatesError) -> String {
        let template: [Character]
        let escaped: Bool
        if case .string(_, let raw) = arguments[0] {
            template = Array(raw)
            escaped = true
        } else if let s = values[0].stringValue {
            template = Array(s)
            escaped = false
        } else {
            throw fail("argument 1 must be a string, got \(values[0].kind.rawValue)")
        }
        var out = ""
        var next = 1
        var k = 0
        while k < template.count {
            let c = template[k]
            if escaped, c == "\\", k + 1 < template.count {
                out.append(template[k + 1])
                k += 2
                continue
            }
            if c == "{", k + 1 < template.count, template[k + 1] == "}" {
                guard next < values.count else { throw fail("the template has more {} than arguments") }
                let v = values[next]
                switch v {
                case .string(let s): out += s
                default: out += v.serialized()
                }
                next += 1
                k += 2
                continue
            }
            out.append(c)
            k += 1
        }
        guard next == values.count else { throw fail("the template has \(next - 1) {} for \(values.count - 1) arguments") }
        return out
    }
}
