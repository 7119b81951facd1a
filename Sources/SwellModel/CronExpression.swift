import Foundation

/// A cron expression: when a timer trigger fires, or when a scheduled scaling window opens.
///
/// Six fields, `second minute hour day-of-month month day-of-week`, or the classic five
/// (`minute hour day-of-month month day-of-week`, the second then being `0`):
///
/// | field        | values                     | names     |
/// |--------------|----------------------------|-----------|
/// | second       | 0-59                       |           |
/// | minute       | 0-59                       |           |
/// | hour         | 0-23                       |           |
/// | day-of-month | 1-31, or `?`               |           |
/// | month        | 1-12                       | JAN-DEC   |
/// | day-of-week  | 0-7 (0 and 7 are Sunday), or `?` | SUN-SAT |
///
/// Each field is `*`, a value, a range `a-b`, a stepped range `*/n`, `a-b/n` or `a/n`
/// (from `a` to the end of the field), or a comma-separated list of these. Names are
/// case-insensitive. In a day-of-week range, `SUN` as the end means 7, so `FRI-SUN` is
/// Friday, Saturday and Sunday. `?` (only as the whole day-of-month or day-of-week field)
/// means the same as `*`.
///
/// The macros `@yearly` (= `@annually`), `@monthly`, `@weekly`, `@daily` (= `@midnight`)
/// and `@hourly` stand for `0 0 0 1 1 *`, `0 0 0 1 * *`, `0 0 0 * * 0`, `0 0 0 * * *`
/// and `0 0 * * * *`.
///
/// **Day-of-month and day-of-week** follow the Vixie cron rule (crontab(5)): when both
/// fields are restricted — neither starts with `*` nor is `?` — a day matches if *either*
/// field matches; otherwise it must match both (one of them matching every day, or a
/// `*/n` step). So `0 0 0 13 * FRI` fires on every 13th and on every Friday, while
/// `0 0 0 */2 * MON` fires on Mondays that fall on an odd day of the month.
///
/// Fire times are computed on the wall clock of a time zone, in the Gregorian calendar;
/// see ``next(after:in:)`` for how daylight-saving changes are handled.
///
/// Equality compares the text as well, so `@daily` and `0 0 0 * * *` are not equal.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let text: String

    let seconds: CronBits
    let minutes: CronBits
    let hours: CronBits
    let daysOfMonth: CronBits
    let months: CronBits
    /// 0 = Sunday … 6 = Saturday (7 is stored as 0).
    let daysOfWeek: CronBits
    /// The day-of-month field starts with `*` or is `?` (Vixie's `DOM_STAR`).
    let dayOfMonthIsWildcard: Bool
    /// The day-of-week field starts with `*` or is `?` (Vixie's `DOW_STAR`).
    let dayOfWeekIsWildcard: Bool

    public var description: String { text }

    /// The macros and what they stand for, in the order error messages list them.
    static let macros: [(name: String, expansion: String)] = [
        ("@yearly", "0 0 0 1 1 *"),
        ("@annually", "0 0 0 1 1 *"),
        ("@monthly", "0 0 0 1 * *"),
        ("@weekly", "0 0 0 * * 0"),
        ("@daily", "0 0 0 * * *"),
        ("@midnight", "0 0 0 * * *"),
        ("@hourly", "0 0 * * * *"),
    ]

    /// Parses `text`.
    ///
    /// - Parameter field: the path of the input field holding the expression, named in errors
    ///   (e.g. `functions.grade.scaling.schedule[0].cron`).
    /// - Throws: `SwellError` with code `.invalidField` and that field, saying exactly what is wrong,
    ///   e.g. `cron: field 'day-of-week' value 'FUNDAY' is not a day name or 0-7`.
    public init(parsing text: String, field: String) throws(SwellError) {
        func fail(_ message: String) -> SwellError { SwellError.invalid(field, "cron: \(message)") }

        var tokens = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let first = tokens.first else {
            throw fail("expression is empty (expected 6 fields: second minute hour day-of-month month day-of-week, or the classic 5 without the second)")
        }
        if first.hasPrefix("@") {
            guard let macro = Self.macros.first(where: { $0.name == first.lowercased() }) else {
                let names = Self.macros.map(\.name).joined(separator: ", ")
                throw fail("unknown macro '\(first)' (expected one of \(names))")
            }
            guard tokens.count == 1 else {
                throw fail("macro '\(first)' must stand alone (got \(tokens.count - 1) more field\(tokens.count == 2 ? "" : "s"))")
            }
            tokens = macro.expansion.split(separator: " ").map(String.init)
        }
        switch tokens.count {
        case 6: break
        case 5: tokens.insert("0", at: 0)
        default:
            throw fail("expected 6 fields (second minute hour day-of-month month day-of-week) or 5 (without the second), got \(tokens.count)")
        }

        var parsed: [(bits: CronBits, wildcard: Bool)] = []
        for (kind, token) in zip(CronFieldKind.allCases, tokens) {
            parsed.append(try kind.parse(token, fail: fail))
        }
        self.text = text
        self.seconds = parsed[0].bits
        self.minutes = parsed[1].bits
        self.hours = parsed[2].bits
        self.daysOfMonth = parsed[3].bits
        self.months = parsed[4].bits
        self.daysOfWeek = parsed[5].bits
        self.dayOfMonthIsWildcard = parsed[3].wildcard
        self.dayOfWeekIsWildcard = parsed[5].wildcard
    }

    /// The time zone named `name`: an IANA `Area/Location` name such as `Asia/Shanghai`,
    /// `Europe/Berlin` or `Etc/GMT-8`, or `UTC` / `GMT`. Names are case-sensitive.
    /// Abbreviations and offsets (`PST`, `CST`, `GMT+8`) are rejected: they are ambiguous,
    /// and some stand for a zone with daylight saving time.
    ///
    /// - Throws: `SwellError` with code `.invalidField` naming `field` when the name is not a known zone.
    public static func timeZone(named name: String, field: String) throws(SwellError) -> TimeZone {
        let example = "e.g. UTC, Asia/Shanghai, Europe/Berlin"
        guard !name.isEmpty else {
            throw SwellError.invalid(field, "timezone: is empty (expected an IANA time zone name, \(example))")
        }
        // Foundation also knows abbreviations (PST) and offsets (GMT+8); its list of known
        // identifiers misses current names (Asia/Kolkata), so it is only a fallback.
        let shaped = name == "UTC" || name == "GMT" || name.contains("/") || TimeZone.knownTimeZoneIdentifiers.contains(name)
        guard shaped, let zone = TimeZone(identifier: name) else {
            throw SwellError.invalid(field, "timezone: '\(name)' is not a known IANA time zone name (\(example))")
        }
        return zone
    }

    /// Whether the expression allows the given day (day-of-month, month and day-of-week together).
    func allowsDay(year: Int, month: Int, day: Int) -> Bool {
        guard months.contains(month) else { return false }
        let dom = daysOfMonth.contains(day)
        let dow = daysOfWeek.contains(CronCalendar.weekday(year: year, month: month, day: day))
        return dayOfMonthIsWildcard || dayOfWeekIsWildcard ? dom && dow : dom || dow
    }
}

/// A set of small integers (0-63): the allowed values of one cron field.
struct CronBits: Sendable, Hashable {
    var raw: UInt64 = 0

    func contains(_ value: Int) -> Bool { value >= 0 && value < 64 && raw & (1 << UInt64(value)) != 0 }

    mutating func insert(_ value: Int) { raw |= 1 << UInt64(value) }

    /// The smallest value `>= value`, if any.
    func next(atOrAfter value: Int) -> Int? {
        let v = max(value, 0)
        guard v < 64 else { return nil }
        let masked = raw & ~((1 << UInt64(v)) - 1)
        return masked == 0 ? nil : masked.trailingZeroBitCount
    }

    /// The largest value `<= value`, if any.
    func previous(atOrBefore value: Int) -> Int? {
        guard value >= 0 else { return nil }
        let masked = value >= 63 ? raw : raw & ((1 << UInt64(value + 1)) - 1)
        return masked == 0 ? nil : 63 - masked.leadingZeroBitCount
    }
}

/// The six fields of a cron expression, in order.
enum CronFieldKind: Int, CaseIterable {
    case second, minute, hour, dayOfMonth, month, dayOfWeek

    var name: String {
        switch self {
        case .second: "second"
        case .minute: "minute"
        case .hour: "hour"
        case .dayOfMonth: "day-of-month"
        case .month: "month"
        case .dayOfWeek: "day-of-week"
        }
    }

    var bounds: ClosedRange<Int> {
        switch self {
        case .second, .minute: 0...59
        case .hour: 0...23
        case .dayOfMonth: 1...31
        case .month: 1...12
        case .dayOfWeek: 0...7
        }
    }

    /// What a value that is neither a number nor a known name should have been.
    var expectation: String {
        switch self {
        case .month: "a month name or 1-12"
        case .dayOfWeek: "a day name or 0-7"
        default: "a number"
        }
    }

    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    func value(named name: Substring) -> Int? {
        let upper = name.uppercased()
        switch self {
        case .month: return Self.monthNames.firstIndex(of: upper).map { $0 + 1 }
        case .dayOfWeek: return Self.dayNames.firstIndex(of: upper)
        default: return nil
        }
    }

    /// Parses one field: its allowed values and whether it counts as a wildcard for the day rule.
    func parse(_ token: String, fail: (String) -> SwellError) throws(SwellError) -> (bits: CronBits, wildcard: Bool) {
        let this = "field '\(name)'"
        if token == "?" {
            guard self == .dayOfMonth || self == .dayOfWeek else {
                throw fail("\(this) does not accept '?' (only day-of-month and day-of-week do)")
            }
            var bits = CronBits()
            for v in bounds { bits.insert(self == .dayOfWeek && v == 7 ? 0 : v) }
            return (bits, true)
        }
        var bits = CronBits()
        for part in token.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw fail("\(this) has an empty list element in '\(token)'") }
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw fail("\(this) value '\(part)' has more than one '/'") }
            let base = pieces[0]
            guard !base.isEmpty else { throw fail("\(this) value '\(part)' has no value before '/'") }
            var step = 1
            if pieces.count == 2 {
                let stepText = pieces[1]
                guard !stepText.isEmpty else { throw fail("\(this) value '\(part)' has no step after '/'") }
                guard stepText.allSatisfy(\.isASCIIDigit) else { throw fail("\(this) step '\(stepText)' in '\(part)' is not a number") }
                let span = bounds.count
                guard let n = Int(stepText), n <= span else {
                    throw fail("\(this) step '\(stepText)' in '\(part)' is larger than the field's \(span) values")
                }
                guard n >= 1 else { throw fail("\(this) step '\(stepText)' in '\(part)' must be at least 1") }
                step = n
            }
            let low: Int, high: Int
            if base == "*" {
                (low, high) = (bounds.lowerBound, bounds.upperBound)
            } else if base == "?" {
                throw fail("\(this) accepts '?' only as the whole field (got '\(token)')")
            } else if let dash = base.firstIndex(of: "-") {
                let startText = base[..<dash], endText = base[base.index(after: dash)...]
                guard !startText.isEmpty, !endText.isEmpty, !endText.contains("-") else {
                    throw fail("\(this) value '\(base)' is not a range a-b")
                }
                low = try value(startText, fail: fail)
                var end = try value(endText, fail: fail)
                if self == .dayOfWeek, end == 0, low > 0, endText.uppercased() == "SUN" { end = 7 }
                guard low <= end else {
                    throw fail("\(this) range '\(base)' is reversed (\(low) is after \(end))")
                }
                high = end
            } else {
                low = try value(base, fail: fail)
                high = pieces.count == 2 ? bounds.upperBound : low
            }
            for v in stride(from: low, through: high, by: step) {
                bits.insert(self == .dayOfWeek && v == 7 ? 0 : v)
            }
        }
        return (bits, token.hasPrefix("*"))
    }

    /// A single value: a number within the field's bounds or, for months and days of the week, a name.
    func value(_ text: Substring, fail: (String) -> SwellError) throws(SwellError) -> Int {
        let this = "field '\(name)'"
        if !text.isEmpty, text.allSatisfy(\.isASCIIDigit) {
            guard let n = Int(text), bounds.contains(n) else {
                throw fail("\(this) value '\(text)' is out of range \(bounds.lowerBound)-\(bounds.upperBound)")
            }
            return n
        }
        if let n = value(named: text) { return n }
        throw fail("\(this) value '\(text)' is not \(expectation)")
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
