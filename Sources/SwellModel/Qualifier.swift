/// What an invocation names after the function: `$LATEST`, a published version or an alias.
public enum Qualifier: Sendable, Hashable, CustomStringConvertible {
    case latest
    case version(Int)
    case alias(String)

    /// Parses `$LATEST`, `3` or `live`; `nil` or an empty string mean `$LATEST`.
    public init(parsing raw: String?) throws(SwellError) {
        guard let raw, !raw.isEmpty, raw != "$LATEST" else {
            self = .latest
            return
        }
        if let n = Int(raw) {
            guard n >= 1 else { throw SwellError.invalid("qualifier", "version numbers start at 1 (got \(raw))") }
            self = .version(n)
        } else if Names.isAliasName(raw) {
            self = .alias(raw)
        } else {
            throw SwellError.invalid("qualifier", "must be $LATEST, a version number or an alias name (got \"\(raw)\")")
        }
    }

    public var description: String {
        switch self {
        case .latest: "$LATEST"
        case .version(let n): String(n)
        case .alias(let a): a
        }
    }
}

/// A concrete, executable version of a function: `$LATEST` or a published number.
public enum VersionRef: Sendable, Hashable, CustomStringConvertible {
    case latest
    case number(Int)

    public var description: String {
        switch self {
        case .latest: "$LATEST"
        case .number(let n): String(n)
        }
    }
}
