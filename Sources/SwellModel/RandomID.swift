#if canImport(Glibc)
import Glibc
#endif

/// Random identifiers for the invoke path, without Foundation's `UUID` formatting.
public enum RandomID {
    private static let hex = Array("0123456789abcdef".utf8)

    /// 128 random bits from the kernel in one call (glibc's `arc4random_buf` is one
    /// `getrandom`; `SystemRandomNumberGenerator` makes one per 64 bits).
    static func random128() -> (UInt64, UInt64) {
        #if canImport(Glibc)
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { arc4random_buf($0.baseAddress!, 16) }
        return words
        #else
        var rng = SystemRandomNumberGenerator()
        return (rng.next(), rng.next())
        #endif
    }

    /// A random (version 4) UUID in lower-case text form, as its 36 ASCII bytes.
    public static func uuidBytes() -> [UInt8] {
        let (a, b) = random128()
        var out = [UInt8]()
        out.reserveCapacity(36)
        for k in 0..<16 {
            var byte = UInt8(truncatingIfNeeded: (k < 8 ? a : b) >> (8 * (k % 8)))
            if k == 6 { byte = byte & 0x0F | 0x40 }
            if k == 8 { byte = byte & 0x3F | 0x80 }
            if k == 4 || k == 6 || k == 8 || k == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 15)])
        }
        return out
    }

    /// A random (version 4) UUID in lower-case text form.
    public static func uuid() -> String {
        String(decoding: uuidBytes(), as: UTF8.self)
    }

    /// A new, unsampled X-Ray trace header: `Root=1-{epoch seconds, 8 hex digits}-{96 random
    /// bits, 24 hex digits};Sampled=0`.
    public static func traceHeader(epochSeconds: UInt32) -> String {
        let (a, b) = random128()
        var out = [UInt8]()
        out.reserveCapacity(51)
        out.append(contentsOf: "Root=1-".utf8)
        func put<T: FixedWidthInteger>(_ value: T, digits: Int) {
            for i in stride(from: digits - 1, through: 0, by: -1) {
                out.append(hex[Int(truncatingIfNeeded: value >> (4 * i)) & 15])
            }
        }
        put(epochSeconds, digits: 8)
        out.append(UInt8(ascii: "-"))
        put(a, digits: 16)
        put(UInt32(truncatingIfNeeded: b), digits: 8)
        out.append(contentsOf: ";Sampled=0".utf8)
        return String(decoding: out, as: UTF8.self)
    }
}
