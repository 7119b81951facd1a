/// One element of a Choice state's `Choices`: a boolean expression and the state to go to.
public struct ChoiceRule: Sendable, Hashable {
    public var condition: Condition
    public var next: String
}

/// A Choice rule's boolean expression.
public indirect enum Condition: Sendable, Hashable {
    case and([Condition])
    case or([Condition])
    case not(Condition)
    /// `StringEquals`, `NumericLessThanPath`, `StringMatches`, … on `Variable`.
    case compare(variable: JSONPath, Comparison, ValueSource)
    /// `IsNull`, `IsPresent`, `IsNumeric`, `IsString`, `IsBoolean`, `IsTimestamp` with the expected answer.
    case test(variable: JSONPath, TypeTest, Bool)

    public enum Comparison: Sendable, Hashable {
        case string(Relation)
        case numeric(Relation)
        case boolean
        case timestamp(Relation)
        case stringMatches
    }

    public enum Relation: String, Sendable, Hashable, CaseIterable {
        case equals = "Equals"
        case lessThan = "LessThan"
        case greaterThan = "GreaterThan"
        case lessThanEquals = "LessThanEquals"
        case greaterThanEquals = "GreaterThanEquals"

        func holds(_ order: Int) -> Bool {
            switch self {
            case .equals: order == 0
            case .lessThan: order < 0
            case .greaterThan: order > 0
            case .lessThanEquals: order <= 0
            case .greaterThanEquals: order >= 0
            }
        }
    }

    public enum TypeTest: String, Sendable, Hashable, CaseIterable {
        case isNull = "IsNull"
        case isPresent = "IsPresent"
        case isNumeric = "IsNumeric"
        case isString = "IsString"
        case isBoolean = "IsBoolean"
        case isTimestamp = "IsTimestamp"
    }

    /// The operator names a data-test expression may use, with what each compares.
    static let operators: [String: Comparison] = {
        var table: [String: Comparison] = ["BooleanEquals": .boolean, "BooleanEqualsPath": .boolean, "StringMatches": .stringMatches]
        for r in Relation.allCases {
            table["String\(r.rawValue)"] = .string(r)
            table["String\(r.rawValue)Path"] = .string(r)
            table["Numeric\(r.rawValue)"] = .numeric(r)
            table["Numeric\(r.rawValue)Path"] = .numeric(r)
            table["Timestamp\(r.rawValue)"] = .timestamp(r)
            table["Timestamp\(r.rawValue)Path"] = .timestamp(r)
        }
        return table
    }()

    /// Evaluates the expression on a Choice state's effective input.
    /// - Throws: `States.Runtime` when `Variable` (or a `…Path` operand) is not in the input
    ///   (except for `IsPresent`, which answers false).
    public func evaluate(_ input: JSON, context: JSON) throws(StatesError) -> Bool {
        switch self {
        case .and(let all):
            for c in all where try !c.evaluate(input, context: context) { return false }
            return true
        case .or(let any):
            for c in any where try c.evaluate(input, context: context) { return true }
            return false
        case .not(let inner):
            return try !inner.evaluate(input, context: context)
        case .test(let variable, let test, let expected):
            let value = variable.select(in: input, context: context)
            if test == .isPresent { return (value != nil) == expected }
            guard let value else { throw Condition.missing(variable) }
            let answer: Bool
            switch test {
            case .isNull: answer = value.isNull
            case .isNumeric: answer = value.numberValue != nil
            case .isString: answer = value.stringValue != nil
            case .isBoolean: answer = value.boolValue != nil
            case .isTimestamp: answer = value.stringValue.flatMap(Timestamp.init(parsing:)) != nil
            case .isPresent: answer = true
            }
            return answer == expected
        case .compare(let variable, let comparison, let operand):
            guard let value = variable.select(in: input, context: context) else { throw Condition.missing(variable) }
            let other: JSON
            switch operand {
            case .literal(let v): other = v
            case .path(let p):
                guard let v = p.select(in: input, context: context) else { throw Condition.missing(p) }
                other = v
            }
            switch comparison {
            case .string(let r):
                guard case .string(let a) = value, case .string(let b) = other else { return false }
                return r.holds(Condition.compareStrings(a, b))
            case .numeric(let r):
                guard case .number(let a) = value, case .number(let b) = other else { return false }
                return r.holds(JSONNumber.compare(a, b))
            case .boolean:
                guard case .bool(let a) = value, case .bool(let b) = other else { return false }
                return a == b
            case .timestamp(let r):
                guard let a = value.stringValue.flatMap(Timestamp.init(parsing:)), let b = other.stringValue.flatMap(Timestamp.init(parsing:)) else {
                    return false
                }
                return r.holds(a < b ? -1 : (a == b ? 0 : 1))
            case .stringMatches:
                guard case .string(let a) = value, case .string(let pattern) = other else { return false }
                return Condition.matches(a, pattern: pattern)
            }
        }
    }

    static func missing(_ path: JSONPath) -> StatesError {
        .runtime("Invalid path '\(path.text)': The choice state's condition path references an invalid value.")
    }

    /// Strings compare by Unicode scalar values (as Java's `compareTo` on code points would for BMP text).
    static func compareStrings(_ a: String, _ b: String) -> Int {
        var i = a.unicodeScalars.makeIterator(), j = b.unicodeScalars.makeIterator()
        while true {
            switch (i.next(), j.next()) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case (let x?, let y?):
                if x != y { return x.value < y.value ? -1 : 1 }
            }
        }
    }

    /// `StringMatches`: `*` matches any run of characters (also none); `\*` is a literal
    /// asterisk and `\\` a literal backslash. Everything else matches itself.
    public static func matches(_ text: String, pattern: String) -> Bool {
        enum Token: Equatable {
            case char(Character)
            case star
        }
        var tokens: [Token] = []
        var chars = pattern.makeIterator()
        while let c = chars.next() {
            if c == "\\" {
                if let escaped = chars.next() { tokens.append(.char(escaped)) } else { tokens.append(.char("\\")) }
            } else if c == "*" {
                if tokens.last != .star { tokens.append(.star) }
            } else {
                tokens.append(.char(c))
            }
        }
        let s = Array(text)
        // Greedy matching with backtracking to the last star.
        var si = 0, ti = 0
        var starToken = -1, starText = 0
        while si < s.count {
            if ti < tokens.count, case .char(let c) = tokens[ti], c == s[si] {
                si += 1
                ti += 1
            } else if ti < tokens.count, tokens[ti] == .star {
                starToken = ti
                starText = si
                ti += 1
            } else if starToken >= 0 {
                ti = starToken + 1
                starText += 1
                si = starText
            } else {
                return false
            }
        }
        while ti < tokens.count, tokens[ti] == .star { ti += 1 }
        return ti == tokens.count
    }
}
