import NIOCore

/// Writing JSON and HTTP text straight into bytes, for the invoke path's hand-built messages
/// (Runtime API responses, function-URL events, Kafka events): no `String` in between, no
/// Foundation formatting.
extension ByteBuffer {
    /// Writes a non-negative integer in decimal (negative values are written as 0).
    public mutating func writeDecimal(_ value: some BinaryInteger) {
        var v = UInt64(clamping: value)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var i = 20
            repeat {
                i -= 1
                digits[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            } while v > 0
            writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[i...]))
        }
    }

    /// Writes `s` as a JSON string literal.
    public mutating func writeJSONString(_ s: some StringProtocol) {
        var s = String(s)
        s.withUTF8 { writeJSONString(bytes: $0) }
    }

    /// Writes UTF-8 `bytes` as a JSON string literal: quotes, backslashes and control
    /// characters escaped, runs of plain bytes copied as they are.
    public mutating func writeJSONString(bytes: some Collection<UInt8>) {
        writeInteger(UInt8(ascii: "\""))
        var start = bytes.startIndex
        var i = start
        while i != bytes.endIndex {
            let c = bytes[i]
            if c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
                writeBytes(bytes[start..<i])
                switch c {
                case UInt8(ascii: "\""): writeStaticString(#"\""#)
                case UInt8(ascii: "\\"): writeStaticString(#"\\"#)
                case 0x0A: writeStaticString(#"\n"#)
                case 0x0D: writeStaticString(#"\r"#)
                case 0x09: writeStaticString(#"\t"#)
                default:
                    writeStaticString(#"\u00"#)
                    writeInteger(Self.hexDigits[Int(c >> 4)])
                    writeInteger(Self.hexDigits[Int(c & 15)])
                }
                start = bytes.index(after: i)
            }
            i = bytes.index(after: i)
        }
        writeBytes(bytes[start..<bytes.endIndex])
        writeInteger(UInt8(ascii: "\""))
    }

    /// Writes `bytes` in standard base64 (with padding).
    public mutating func writeBase64(_ bytes: some Collection<UInt8>) {
        let table = Self.base64Alphabet
        var iterator = bytes.makeIterator()
        reserveCapacity(minimumWritableBytes: (bytes.count + 2) / 3 * 4)
        while let a = iterator.next() {
            let b = iterator.next(), c = iterator.next()
            let n = UInt32(a) << 16 | UInt32(b ?? 0) << 8 | UInt32(c ?? 0)
            writeInteger(table[Int(n >> 18 & 63)])
            writeInteger(table[Int(n >> 12 & 63)])
            writeInteger(b == nil ? UInt8(ascii: "=") : table[Int(n >> 6 & 63)])
            writeInteger(c == nil ? UInt8(ascii: "=") : table[Int(n & 63)])
        }
    }

    /// Writes a header value, any control character (CR and LF above all) replaced by a space.
    public mutating func writeHeaderValue(_ value: String) {
        var value = value
        value.withUTF8 { bytes in
            if !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
                writeBytes(bytes)
            } else {
                writeBytes(bytes.map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: " ") : $0 })
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    private static let base64Alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
}
