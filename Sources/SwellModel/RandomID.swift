/// Random identifiers for the invoke path, without Foundation's `UUID` formatting.
public enum RandomID {
    private static let hex = Array("0123456789abcdef".utf8)

    /// A random (version 4) UUID in lower-case text form, as its 36 ASCII bytes.
    public static func uuidBytes() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        let a = rng.next() as UInt64, b = rng.next() as UInt64
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
}
