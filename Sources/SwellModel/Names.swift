/// Validation of the names users choose: functions, namespaces, aliases, environment keys.
public enum Names {
    /// `[A-Za-z0-9_-]{1,64}`
    public static func isFunctionName(_ s: String) -> Bool {
        (1...64).contains(s.utf8.count) && s.utf8.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }

    /// `[a-z0-9-]{1,32}`
    public static func isNamespaceName(_ s: String) -> Bool {
        (1...32).contains(s.utf8.count)
            && s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }
    }

    /// `[A-Za-z][A-Za-z0-9_-]{0,63}`, never `$LATEST` and never all digits.
    public static func isAliasName(_ s: String) -> Bool {
        guard let first = s.utf8.first, isAlpha(first), s.utf8.count <= 64 else { return false }
        return s.utf8.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }

    /// `[A-Za-z_][A-Za-z0-9_]*`
    public static func isEnvironmentKey(_ s: String) -> Bool {
        guard let first = s.utf8.first, isAlpha(first) || first == UInt8(ascii: "_") else { return false }
        return s.utf8.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") }
    }

    /// Environment keys the platform sets itself and a function may not override.
    public static func isReservedEnvironmentKey(_ s: String) -> Bool {
        s.hasPrefix("AWS_") || s.hasPrefix("LAMBDA_") || s.hasPrefix("SWELL_") || s == "_HANDLER" || s == "_X_AMZN_TRACE_ID"
    }

    static func isAlpha(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
    static func isAlnum(_ c: UInt8) -> Bool { isAlpha(c) || (c >= 0x30 && c <= 0x39) }
}
