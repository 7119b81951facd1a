import Testing
@testable import SwellWorkflow

struct ChoiceTests {
    let input: JSON = [
        "s": "banana", "s2": "cherry", "n": 5, "n2": 5.0, "n3": 7, "b": true, "b2": false, "nil": nil,
        "t": "2016-03-14T01:59:00Z", "t2": "2016-03-14T02:59:00+01:00", "t3": "2017-01-01T00:00:00.5Z",
        "notTime": "2016-03-14 01:59:00", "arr": [1], "obj": [:],
    ]

    /// Reads one choice rule (as it would stand in `Choices`) and evaluates it on `input`.
    func holds(_ rule: String) throws -> Bool {
        let machine = try StateMachine(parsing: """
            {"StartAt": "C", "States": {
              "C": {"Type": "Choice", "Choices": [\(rule.dropLast()), "Next": "Y"}], "Default": "N"},
              "Y": {"Type": "Succeed"}, "N": {"Type": "Succeed"}}}
            """)
        guard case .choice(let rules, _) = machine["C"]!.body else { throw StatesError("test") }
        return try rules[0].condition.evaluate(input, context: [:])
    }

    @Test func stringComparisons() throws {
        #expect(try holds(#"{"Variable": "$.s", "StringEquals": "banana"}"#))
        #expect(try !holds(#"{"Variable": "$.s", "StringEquals": "Banana"}"#))
        #expect(try holds(#"{"Variable": "$.s", "StringLessThan": "cherry"}"#))
        #expect(try holds(#"{"Variable": "$.s", "StringGreaterThan": "apple"}"#))
        #expect(try holds(#"{"Variable": "$.s", "StringLessThanEquals": "banana"}"#))
        #expect(try holds(#"{"Variable": "$.s", "StringGreaterThanEquals": "banana"}"#))
        #expect(try holds(#"{"Variable": "$.s", "StringLessThanPath": "$.s2"}"#))
        #expect(try holds(#"{"Variable": "$.s2", "StringGreaterThanPath": "$.s"}"#))
        #expect(try holds(#"{"Variable": "$.s", "StringEqualsPath": "$.s"}"#))
        #expect(try holds(#"{"Variable": "$.s", "StringLessThanEqualsPath": "$.s2"}"#))
        #expect(try holds(#"{"Variable": "$.s", "StringGreaterThanEqualsPath": "$.s"}"#))
        // A value of another type never matches (no error).
        #expect(try !holds(#"{"Variable": "$.n", "StringEquals": "5"}"#))
    }

    @Test func numericComparisons() throws {
        #expect(try holds(#"{"Variable": "$.n", "NumericEquals": 5}"#))
        #expect(try holds(#"{"Variable": "$.n", "NumericEquals": 5.0}"#))
        #expect(try holds(#"{"Variable": "$.n", "NumericEqualsPath": "$.n2"}"#))
        #expect(try holds(#"{"Variable": "$.n", "NumericLessThan": 5.5}"#))
        #expect(try holds(#"{"Variable": "$.n", "NumericGreaterThan": -1}"#))
        #expect(try holds(#"{"Variable": "$.n", "NumericLessThanEquals": 5}"#))
        #expect(try holds(#"{"Variable": "$.n", "NumericGreaterThanEquals": 5}"#))
        #expect(try holds(#"{"Variable": "$.n", "NumericLessThanPath": "$.n3"}"#))
        #expect(try holds(#"{"Variable": "$.n3", "NumericGreaterThanPath": "$.n"}"#))
        #expect(try holds(#"{"Variable": "$.n", "NumericLessThanEqualsPath": "$.n2"}"#))
        #expect(try holds(#"{"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.n2"}"#))
        #expect(try !holds(#"{"Variable": "$.b", "NumericEquals": 1}"#))
        #expect(try !holds(#"{"Variable": "$.s", "NumericGreaterThan": 0}"#))
    }

    @Test func booleanComparisons() throws {
        #expect(try holds(#"{"Variable": "$.b", "BooleanEquals": true}"#))
        #expect(try !holds(#"{"Variable": "$.b", "BooleanEquals": false}"#))
        #expect(try holds(#"{"Variable": "$.b", "BooleanEqualsPath": "$.b"}"#))
        #expect(try !holds(#"{"Variable": "$.b", "BooleanEqualsPath": "$.b2"}"#))
        // 1 is not true.
        #expect(try !holds(#"{"Variable": "$.n", "BooleanEquals": true}"#))
    }

    @Test func timestampComparisons() throws {
        #expect(try holds(#"{"Variable": "$.t", "TimestampEquals": "2016-03-14T01:59:00.000Z"}"#))
        #expect(try holds(#"{"Variable": "$.t", "TimestampEqualsPath": "$.t2"}"#))  // same instant, other offset
        #expect(try holds(#"{"Variable": "$.t", "TimestampLessThan": "2016-03-14T01:59:00.001Z"}"#))
        #expect(try holds(#"{"Variable": "$.t3", "TimestampGreaterThan": "2017-01-01T00:00:00Z"}"#))
        #expect(try holds(#"{"Variable": "$.t", "TimestampLessThanEquals": "2016-03-14T01:59:00Z"}"#))
        #expect(try holds(#"{"Variable": "$.t", "TimestampGreaterThanEquals": "2016-03-14T01:59:00Z"}"#))
        #expect(try holds(#"{"Variable": "$.t", "TimestampLessThanPath": "$.t3"}"#))
        #expect(try holds(#"{"Variable": "$.t3", "TimestampGreaterThanPath": "$.t"}"#))
        #expect(try holds(#"{"Variable": "$.t", "TimestampLessThanEqualsPath": "$.t2"}"#))
        #expect(try holds(#"{"Variable": "$.t", "TimestampGreaterThanEqualsPath": "$.t2"}"#))
        #expect(try !holds(#"{"Variable": "$.notTime", "TimestampEquals": "2016-03-14T01:59:00Z"}"#))
    }

    @Test func stringMatchesWildcards() throws {
        #expect(Condition.matches("log-2024.txt", pattern: "log-*.txt"))
        #expect(Condition.matches("log-.txt", pattern: "log-*.txt"))
        #expect(!Condition.matches("log-2024.csv", pattern: "log-*.txt"))
        #expect(Condition.matches("anything", pattern: "*"))
        #expect(Condition.matches("", pattern: "*"))
        #expect(Condition.matches("a*b", pattern: #"a\*b"#))
        #expect(!Condition.matches("axb", pattern: #"a\*b"#))
        #expect(Condition.matches(#"a\b"#, pattern: #"a\\b"#))
        #expect(Condition.matches("abcabd", pattern: "*ab?d".replacingOccurrences(of: "?", with: "")))
        #expect(Condition.matches("aXbYc", pattern: "a*b*c"))
        #expect(!Condition.matches("aXbY", pattern: "a*b*c"))
        // In the definition's JSON, a literal asterisk is written "\\*".
        #expect(try holds(#"{"Variable": "$.s", "StringMatches": "b*na"}"#))
        #expect(try !holds(#"{"Variable": "$.s", "StringMatches": "b\\*"}"#))
    }

    @Test func typeTests() throws {
        #expect(try holds(#"{"Variable": "$.nil", "IsNull": true}"#))
        #expect(try holds(#"{"Variable": "$.s", "IsNull": false}"#))
        #expect(try holds(#"{"Variable": "$.s", "IsPresent": true}"#))
        #expect(try holds(#"{"Variable": "$.missing", "IsPresent": false}"#))
        #expect(try holds(#"{"Variable": "$.nil", "IsPresent": true}"#))
        #expect(try holds(#"{"Variable": "$.n2", "IsNumeric": true}"#))
        #expect(try holds(#"{"Variable": "$.b", "IsNumeric": false}"#))
        #expect(try holds(#"{"Variable": "$.s", "IsString": true}"#))
        #expect(try holds(#"{"Variable": "$.n", "IsString": false}"#))
        #expect(try holds(#"{"Variable": "$.b", "IsBoolean": true}"#))
        #expect(try holds(#"{"Variable": "$.n", "IsBoolean": false}"#))
        #expect(try holds(#"{"Variable": "$.t", "IsTimestamp": true}"#))
        #expect(try holds(#"{"Variable": "$.notTime", "IsTimestamp": false}"#))
    }

    @Test func combinators() throws {
        #expect(try holds(#"{"And": [{"Variable": "$.n", "NumericEquals": 5}, {"Variable": "$.b", "BooleanEquals": true}]}"#))
        #expect(try !holds(#"{"And": [{"Variable": "$.n", "NumericEquals": 5}, {"Variable": "$.b", "BooleanEquals": false}]}"#))
        #expect(try holds(#"{"Or": [{"Variable": "$.n", "NumericEquals": 6}, {"Variable": "$.b", "BooleanEquals": true}]}"#))
        #expect(try !holds(#"{"Or": [{"Variable": "$.n", "NumericEquals": 6}, {"Variable": "$.b", "BooleanEquals": false}]}"#))
        #expect(try holds(#"{"Not": {"Variable": "$.s", "StringEquals": "apple"}}"#))
        #expect(try holds(#"{"Not": {"Or": [{"Variable": "$.missing", "IsPresent": true}, {"Not": {"Variable": "$.b", "IsBoolean": true}}]}}"#))
        // And stops at the first false: the missing variable after it is never read.
        #expect(try !holds(#"{"And": [{"Variable": "$.b2", "BooleanEquals": true}, {"Variable": "$.missing", "NumericEquals": 1}]}"#))
    }

    @Test func aMissingVariableIsARuntimeError() {
        #expect(throws: StatesError.runtime("Invalid path '$.missing': The choice state's condition path references an invalid value.")) {
            try holds(#"{"Variable": "$.missing", "StringEquals": "x"}"#)
        }
        #expect(throws: StatesError.self) { try holds(#"{"Variable": "$.s", "StringEqualsPath": "$.missing"}"#) }
        #expect(throws: StatesError.self) { try holds(#"{"Variable": "$.missing", "IsNull": true}"#) }
    }
}
