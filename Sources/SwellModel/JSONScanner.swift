import Foundation

/// A strict, non-allocating walk over a JSON text that hands out the byte ranges of values
/// instead of decoding them. The batch enqueue uses it to take each event's bytes as they
/// came (as the single async invoke stores its body) without decoding megabytes of events
/// into a tree and encoding them again.
public struct JSONScanner {
    public let bytes: [UInt8]
    public private(set) var index = 0
    /// Nesting allowed inside one value (deeper: rejected, as a guard for the stack).
    public static let maxDepth = 512

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var atEnd: Bool { index >= bytes.count }

    private func fail(_ what: String) -> SwellError {
        SwellError(.invalidJSON, "the request body is not valid JSON: \(what) at byte \(index)")
    }

    public mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// The next byte after white space, without taking it.
    public mutating func peek() -> UInt8? {
        skipSpace()
        return index < bytes.count ? bytes[index] : nil
    }

    public mutating func expect(_ byte: UInt8) throws(SwellError) {
        guard peek() == byte else { throw fail("expected '\(Character(UnicodeScalar(byte)))'") }
        index += 1
    }

    /// Walks the members of an object, calling `member` with each key; `member` must take the value.
    public mutating func object(_ member: (String, inout JSONScanner) throws(SwellError) -> Void) throws(SwellError) {
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
    public mutating func array(_ element: (Int, inout JSONScanner) throws(SwellError) -> Void) throws(SwellError) {
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
    public mutating func value() throws(SwellError) -> Range<Int> {
        skipSpace()
        let start = index
        try skipValue(depth: 0)
        return start..<index
    }

    /// Takes one value, decoded (for the small option fields; nested values through `JSONDecoder`).
    public mutating func configValue() throws(SwellError) -> ConfigValue {
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
    public mutating func string() throws(SwellError) -> String {
        String(decoding: try stringBytes(), as: UTF8.self)
    }

    /// Takes a string and returns its decoded UTF-8 bytes (escapes resolved; a lone
    /// surrogate becomes U+FFFD).
    public mutating func stringBytes() throws(SwellError) -> [UInt8] {
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a string") }
        let start = index
        let escaped = try skipString()
        let inner = bytes[(start + 1)..<(index - 1)]
        if !escaped { return Array(inner) }
        var out: [UInt8] = []
        out.reserveCapacity(inner.count)
        var i = inner.startIndex
        func hex4(_ at: Int) -> UInt32 {
            var v: UInt32 = 0
            for k in at..<(at + 4) {
                let c = bytes[k]
                let d: UInt8 = c <= UInt8(ascii: "9") ? c - UInt8(ascii: "0") : (c | 0x20) - UInt8(ascii: "a") + 10
                v = v << 4 | UInt32(d)
            }
            return v
        }
        while i < inner.endIndex {
            let c = bytes[i]
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                i += 1
                continue
            }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(i)
                i += 4
                if (0xD800..<0xDC00).contains(scalar), i + 6 <= inner.endIndex, bytes[i] == UInt8(ascii: "\\"),
                   bytes[i + 1] == UInt8(ascii: "u")
                {
                    let low = hex4(i + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                let s = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: UTF8.encode(s)!)
            default: out.append(e)  // \" \\ \/
            }
        }
        return out
    }

    /// Whether `bytes` hold exactly one JSON value (white space around it allowed), in
    /// well-formed UTF-8 as RFC 8259 requires.
    public static func isValid(_ bytes: [UInt8]) -> Bool {
        guard isValidUTF8(bytes) else { return false }
        var scanner = JSONScanner(bytes)
        do {
            _ = try scanner.value()
        } catch {
            return false
        }
        scanner.skipSpace()
        return scanner.atEnd
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

    /// Whether `bytes` are well-formed UTF-8 (no overlong forms, no surrogates, nothing cut).
    public static func isValidUTF8(_ bytes: some Collection<UInt8>) -> Bool {
        // ASCII, the common case, needs no decoding.
        if !bytes.contains(where: { $0 >= 0x80 }) { return true }
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}
