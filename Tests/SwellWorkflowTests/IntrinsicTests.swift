import Testing
@testable import SwellWorkflow

struct IntrinsicTests {
    /// Evaluates `text` (an intrinsic call) on `input`.
    func eval(_ text: String, _ input: JSON = [:], seed: UInt64 = 1) throws(StatesError) -> JSON {
        let call: IntrinsicCall
        do {
            call = try IntrinsicCall(parsing: text)
        } catch {
            Issue.record("parse failed: \(error)")
            return .null
        }
        var rng = SplitMix64(seed: seed)
        return try call.evaluate(input: input, context: ["Execution": ["Name": "run-1"]], random: &rng)
    }

    func failure(_ text: String, _ input: JSON = [:]) -> StatesError? {
        do {
            _ = try eval(text, input)
            return nil
        } catch {
            return error
        }
    }

    @Test func formatWithLiteralsPathsAndContext() throws {
        let input: JSON = ["name": "Arnav", "template": "Hello, my name is {}.", "n": 3, "b": true, "z": nil, "o": ["k": 1]]
        #expect(try eval("States.Format('Hello, my name is {}.', $.name)", input) == "Hello, my name is Arnav.")
        #expect(try eval("States.Format($.template, $.name)", input) == "Hello, my name is Arnav.")
        #expect(try eval("States.Format('{} {} {} {}', $.n, $.b, $.z, $.o)", input) == #"3 true null {"k":1}"#)
        #expect(try eval("States.Format('run {}', $$.Execution.Name)", input) == "run run-1")
    }

    @Test func formatEscapes() throws {
        // In the definition's JSON text these are written \\{ \\} \\' \\\\.
        #expect(try eval(#"States.Format('\{\} is not a placeholder, {} is', 'this')"#) == "{} is not a placeholder, this is")
        #expect(try eval(#"States.Format('it\'s {}', 'x')"#) == "it's x")
        #expect(try eval(#"States.Format('back\\slash {}', 1)"#) == #"back\slash 1"#)
        // A template taken from the input has no escapes: its {} are placeholders.
        #expect(try eval("States.Format($.t, 1)", ["t": #"a\{}"#]) == #"a\1"#)
        #expect(throws: IntrinsicParseError.self) { try IntrinsicCall(parsing: #"States.Format('bad \n escape')"#) }
        #expect(failure("States.Format('{} {}', 1)")?.name == ErrorName.intrinsicFailure)
        #expect(failure("States.Format('{}', 1, 2)")?.name == ErrorName.intrinsicFailure)
    }

    @Test func jsonConversions() throws {
        let input: JSON = ["escapedJsonString": #"{"foo": "bar"}"#, "unescapedJson": ["foo": "bar"]]
        #expect(try eval("States.StringToJson($.escapedJsonString)", input) == ["foo": "bar"])
        #expect(try eval("States.JsonToString($.unescapedJson)", input) == #"{"foo":"bar"}"#)
        #expect(failure("States.StringToJson('{nope')")?.name == ErrorName.intrinsicFailure)
        #expect(try eval("States.JsonMerge($.a, $.b, false)", ["a": ["a": ["a1": 1, "a2": 2], "b": 2], "b": ["a": ["a3": 1, "a4": 2], "c": 3]])
            == ["a": ["a3": 1, "a4": 2], "b": 2, "c": 3])
        #expect(failure("States.JsonMerge($.a, $.a, true)", ["a": [:]])?.name == ErrorName.intrinsicFailure)
    }

    @Test func arrays() throws {
        let input: JSON = ["inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "dups": [1, 2, 3, 3, 3, 3, 3, 3, 4], "Id": 123456]
        #expect(try eval("States.Array($.Id)", input) == [123456])
        #expect(try eval("States.Array('a', 1, true, null, States.Array())", input) == ["a", 1, true, nil, []])
        #expect(try eval("States.ArrayPartition($.inputArray, 4)", input) == [[1, 2, 3, 4], [5, 6, 7, 8], [9]])
        #expect(failure("States.ArrayPartition($.inputArray, 0)", input)?.name == ErrorName.intrinsicFailure)
        #expect(try eval("States.ArrayContains($.inputArray, 5)", input) == true)
        #expect(try eval("States.ArrayRange(1, 9, 2)", input) == [1, 3, 5, 7, 9])
        #expect(try eval("States.ArrayRange(5, 1, -2)", input) == [5, 3, 1])
        #expect(failure("States.ArrayRange(1, 2, 0)")?.name == ErrorName.intrinsicFailure)
        #expect(failure("States.ArrayRange(0, 1000, 1)")?.name == ErrorName.intrinsicFailure)
        #expect(try eval("States.ArrayRange(1, 1000, 1)").arrayValue?.count == 1000)
        #expect(try eval("States.ArrayGetItem($.inputArray, 5)", input) == 6)
        #expect(failure("States.ArrayGetItem($.inputArray, 9)", input)?.name == ErrorName.intrinsicFailure)
        #expect(try eval("States.ArrayLength($.inputArray)", input) == 9)
        #expect(try eval("States.ArrayUnique($.dups)", input) == [1, 2, 3, 4])
    }

    @Test func arrayEqualityIsJSONEquality() throws {
        let input: JSON = ["a": [true, 1, 1.0, "1", nil, ["k": 1], ["k": 1.0], [1, 2]]]
        // true is not 1; 1 is 1.0; objects compare by members.
        #expect(try eval("States.ArrayUnique($.a)", input) == [true, 1, "1", nil, ["k": 1], [1, 2]])
        #expect(try eval("States.ArrayContains($.a, $.v)", ["a": [1, 2], "v": true]) == false)
        #expect(try eval("States.ArrayContains($.a, $.v)", ["a": [true], "v": 1]) == false)
        #expect(try eval("States.ArrayContains($.a, $.v)", ["a": [["x": [1, 2]]], "v": ["x": [1.0, 2]]]) == true)
        #expect(try eval("States.ArrayContains($.a, 'true')", ["a": [true]]) == false)
    }

    @Test func encodingAndHashes() throws {
        #expect(try eval("States.Base64Encode('Data to encode')") == "RGF0YSB0byBlbmNvZGU=")
        #expect(try eval("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')") == "Data to encode")
        #expect(failure("States.Base64Decode('***')")?.name == ErrorName.intrinsicFailure)
        let digests: [String: String] = [
            "MD5": "812f45842bc6d66ee14572ce20db8e86",
            "SHA-1": "aaff4a450a104cd177d28d18d74485e8cae074b7",
            "SHA-256": "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3",
            "SHA-384": "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562",
            "SHA-512": "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4",
        ]
        for (algorithm, digest) in digests {
            #expect(try eval("States.Hash($.d, $.a)", ["d": "input data", "a": .string(algorithm)]) == .string(digest))
        }
        #expect(failure("States.Hash('x', 'SHA-3')")?.name == ErrorName.intrinsicFailure)
        let long = JSON.string(String(repeating: "a", count: IntrinsicCall.maxStringLength + 1))
        #expect(failure("States.Base64Encode($.s)", ["s": long])?.name == ErrorName.intrinsicFailure)
    }

    @Test func math() throws {
        #expect(try eval("States.MathAdd($.value1, $.step)", ["value1": 111, "step": -1]) == 110)
        #expect(failure("States.MathAdd(1.5, 1)")?.name == ErrorName.intrinsicFailure)
        for seed in 0..<200 as Range<UInt64> {
            let n = try eval("States.MathRandom(1, 10)", seed: seed).intValue!
            #expect((1..<10).contains(n))
        }
        // The same execution seed gives the same numbers; an explicit seed argument ignores it.
        #expect(try eval("States.MathRandom(0, 1000000)", seed: 7) == eval("States.MathRandom(0, 1000000)", seed: 7))
        #expect(try eval("States.MathRandom(0, 1000000, 42)", seed: 1) == eval("States.MathRandom(0, 1000000, 42)", seed: 2))
        #expect(failure("States.MathRandom(5, 5)")?.name == ErrorName.intrinsicFailure)
    }

    @Test func stringsAndUUIDs() throws {
        #expect(try eval("States.StringSplit($.s, ',')", ["s": "1,2,3,4,5"]) == ["1", "2", "3", "4", "5"])
        #expect(try eval("States.StringSplit($.s, $.d)", ["s": "This.is+a,test=string", "d": ".+,="]) == ["This", "is", "a", "test", "string"])
        let uuid = try eval("States.UUID()", seed: 3).stringValue!
        #expect(uuid.count == 36)
        #expect(Array(uuid)[14] == "4")
        #expect("89ab".contains(Array(uuid)[19]))
        #expect(uuid == uuid.lowercased())
        #expect(try eval("States.UUID()", seed: 3) == .string(uuid))
        #expect(try eval("States.UUID()", seed: 4) != .string(uuid))
    }

    @Test func nestingAndArity() throws {
        let input: JSON = ["ImageRecipe": ["Arn": "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/recipe-name.ext/1.0.0"]]
        let nested = "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))"
        #expect(try eval(nested, input) == "1.0")
        var deep = "States.Array()"
        for _ in 0..<10 { deep = "States.Array(\(deep))" }
        #expect(throws: IntrinsicParseError.self) { try IntrinsicCall(parsing: deep) }
        #expect(throws: IntrinsicParseError.self) { try IntrinsicCall(parsing: "States.ArrayLength()") }
        #expect(throws: IntrinsicParseError.self) { try IntrinsicCall(parsing: "States.Nope(1)") }
        #expect(throws: IntrinsicParseError.self) { try IntrinsicCall(parsing: "States.UUID(1)") }
        #expect(failure("States.ArrayLength($.missing)")?.name == ErrorName.runtime)
        #expect(failure("States.ArrayLength('x')")?.name == ErrorName.intrinsicFailure)
    }
}

struct HostileInputTests {
    @Test func extremeNumbersDoNotTrap() throws {
        var rng = SplitMix64(seed: 1)
        let range = try IntrinsicCall(parsing: "States.ArrayRange(9223372036854775806, 9223372036854775807, 1000)")
        #expect(try range.evaluate(input: [:], context: [:], random: &rng) == [.int(9223372036854775806)])
        #expect(try JSONPath("$[0:10:9223372036854775807]").select(in: [1, 2, 3]) == [1])
        #expect(try JSONPath("$[-9223372036854775808:]").select(in: [1, 2]) == [1, 2])
        #expect(Timestamp(seconds: 0).adding(seconds: 1e300) > Timestamp(seconds: 0))
        #expect(Timestamp(seconds: 0).adding(seconds: .infinity) > Timestamp(seconds: 0))
        let r = Retrier(errorEquals: ["X"], intervalSeconds: 99_999_999, maxAttempts: 99_999_999, backoffRate: 1000)
        #expect(r.delay(afterAttempt: 5000, random: &rng) > 0)
    }

    @Test func hugeWaitsAndDeepFiltersAreHandled() throws {
        var d = try Driver(#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}}"#)
        d.apply(.started(input: ["s": .int(Int.max)]))
        #expect(d.timers.count == 1)
        let deep = "$[?(" + String(repeating: "(", count: 10_000) + "@.a" + String(repeating: ")", count: 10_000) + ")]"
        #expect(throws: JSONPathError.self) { try JSONPath(deep) }
    }
}
