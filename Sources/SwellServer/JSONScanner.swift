import Foundation
import SwellModel

/// A strict, non-allocating walk over a JSON text that hands out the byte ranges of values
/// instead of decoding them. The batch enqueue uses it to take each event's bytes as they
/// came (as the single async invoke stores its body) without decoding megabytes of events
/// into a tree and encoding them again.
struct JSONScanner {
    let bytes: [UInt8]
    private(set) var index = 0
    /// Nesting allowed inside one value (deeper: rejected, as a guard for the stack).
    static let maxDepth = 512

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var atEnd: Bool { index >= bytes.count }

    private func fail(_ what: String) -> SwellError {
        SwellError(.invalidJSON, "the request body is not valid JSON: \(what) at byte \(index)")
    }

    mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// The next byte after white space, without taking it.
    mutating func peek() -> UInt8? {
        skipSpace()
        return index < bytes.count ? bytes[index] : nil
    }

    mutating func expect(_ byte: UInt8) throws(SwellError) {
        guard peek() == byte else { throw fail("expected '\(Character(UnicodeScalar(byte)))'") }
        index += 1
    }

    /// Walks the members of an object, calling `member` with each key; `member` must take the value.
    mutating func object(_ member: (String, inout JSONScanner) throws(SwellError) -> Void) throws(SwellError) {
        try expect(UInt8(ascii: "{"))
        if peek() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            guard peek() == UInt8(ascii: "\"") else { throw fail("expected a key") }
            let key = try string()
            try expect(UInt8(ascii: ":"))
            try member(key, &self)
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return
            default: throw fail("expected ',' or '}'")
            }
        }
    }

    /// Walks the elements of an array, calling `element` with each position; `element` must take the value.
    mutating func array(_ element: (Int, inout JSONScanner) throws(SwellError) -> Void) throws(SwellError) {
        try expect(UInt8(ascii: "["))
        if peek() == UInt8(ascii: "]") {
            index += 1
            return
        }
        var position = 0
        while true {
            try element(position, &self)
            position += 1
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return
            default: throw fail("expected ',' or ']'")
            }
        }
    }

    /// Takes one value and returns its bytes' range (checked against the JSON grammar).
    mutating func value() throws(SwellError) -> Range<Int> {
        skipSpace()
        let start = index
        try skipValue(depth: 0)
        return start..<index
    }

    /// Takes one value, decoded (for the small option fields; nested values through `JSONDecoder`).
    mutating func configValue() throws(SwellError) -> ConfigValue {
        switch peek() {
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            let range = try value()
            switch bytes[range.lowerBound] {
            case UInt8(ascii: "t"): return .bool(true)
            case UInt8(ascii: "f"): return .bool(false)
            default: return .null
            }
        default:
            let range = try value()
            let text = String(decoding: bytes[range], as: UTF8.self)
            if bytes[range.lowerBound] == UInt8(ascii: "[") || bytes[range.lowerBound] == UInt8(ascii: "{") {
                guard let decoded = try? JSONDecoder().decode(ConfigValue.self, from: Data(bytes[range])) else {
                    throw SwellError(.invalidJSON, "the request body is not valid JSON")
                }
                return decoded
            }
            if let n = Int(text) { return .int(n) }
            if let d = Double(text) { return .double(d) }
            throw fail("bad number")
        }
    }

    /// Takes a string and decodes it.
    mutating func string() throws(SwellError) -> String {
        skipSpace()
        let start = index
        let escaped = try skipString()
        let inner = bytes[(start + 1)..<(index - 1)]
        if !escaped { return String(decoding: inner, as: UTF8.self) }
        guard let decoded = try? JSONDecoder().decode(String.self, from: Data(bytes[start..<index])) else {
            throw fail("bad string")
        }
        return decoded
    }

    private mutating func skipValue(depth: Int) throws(SwellError) {
        guard depth < Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth)") }
        guard let c = peek() else { throw fail("unexpected end") }
        switch c {
        case UInt8(ascii: "{"):
            try object { _, scanner throws(SwellError) in try scanner.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            try array { _, scanner throws(SwellError) in try scanner.skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""):
            _ = try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try skipNumber()
        }
    }

    private mutating func literal(_ word: StaticString) throws(SwellError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("unexpected end") }
        let matches = word.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        guard matches else { throw fail("unexpected character") }
        index += count
    }

    /// Skips a string (the opening quote at `index`); returns whether it has escapes.
    private mutating func skipString() throws(SwellError) -> Bool {
        index += 1
        var escaped = false
        while index < bytes.count {
            let c = bytes[index]
            switch c {
            case UInt8(ascii: "\""):
                index += 1
                return escaped
            case UInt8(ascii: "\\"):
                escaped = true
                guard index + 1 < bytes.count else { throw fail("unexpected end") }
                switch bytes[index + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 2
                case UInt8(ascii: "u"):
                    guard index + 6 <= bytes.count,
                          bytes[(index + 2)..<(index + 6)].allSatisfy({ Self.isHexDigit($0) })
                    else { throw fail("bad \\u escape") }
                    index += 6
                default:
                    throw fail("bad escape")
                }
            case 0..<0x20:
                throw fail("control character in a string")
            default:
                index += 1
            }
        }
        throw fail("unterminated string")
    }

    private mutating func skipNumber() throws(SwellError) {
        func digits() -> Int {
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - start
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw fail("unexpected end") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            throw fail("unexpected character")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw fail("bad number") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw fail("bad number") }
        }
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
            || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
    }
}
