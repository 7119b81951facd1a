import Foundation
import Testing
@testable import SwellWorkflow

struct JSONTests {
    @Test func parsesEveryKindAndSerializesCompactly() throws {
        let v = try JSON(parsing: #" { "a" : [1, -2.5, 1e3, true, false, null, "x"], "b": {} } "#)
        #expect(v["a"]?[0] == 1)
        #expect(v["a"]?[1] == -2.5)
        #expect(v["a"]?[2] == 1000)
        #expect(v["a"]?[3] == true)
        #expect(v["a"]?[5] == .null)
        #expect(v.serialized() == #"{"a":[1,-2.5,1000.0,true,false,null,"x"],"b":{}}"#)
    }

    @Test func equalityIsTheOneASLNeeds() throws {
        #expect(JSON.bool(true) != JSON.int(1))
        #expect(JSON.bool(false) != JSON.int(0))
        #expect(JSON.int(1) == JSON.double(1.0))
        #expect(JSON.string("1") != JSON.int(1))
        #expect(JSON.null != JSON.bool(false))
        // Member order does not matter; element order does.
        #expect(try JSON(parsing: #"{"a":1,"b":2}"#) == JSON(parsing: #"{"b":2,"a":1.0}"#))
        #expect(try JSON(parsing: "[1,2]") != JSON(parsing: "[2,1]"))
        // Equal values hash alike (ArrayUnique relies on it).
        #expect(Set<JSON>([1, 1.0, true, "1", ["a": 1], ["a": 1.0]]).count == 4)
    }

    @Test func keepsMemberOrderAndReplacesInPlace() {
        var o = JSONObject()
        o["z"] = 1
        o["a"] = 2
        o["z"] = 3
        #expect(o.keys == ["z", "a"])
        o["z"] = nil
        #expect(o.keys == ["a"])
        #expect(JSON.object(o).serialized() == #"{"a":2}"#)
    }

    @Test func stringEscapesRoundTrip() throws {
        let v = try JSON(parsing: #""q\"b\\s\/n\n\t\u00e9\ud83d\ude00\u0001""#)
        #expect(v == .string("q\"b\\s/n\n\té😀\u{01}"))
        #expect(v.serialized() == #""q\"b\\s/n\n\té😀\u0001""#)
        #expect(try JSON(parsing: v.serialized()) == v)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\"}", "tru", "01", "1.", "\"\\x\"", "\"\\ud800\"", "[1] 2", "\"a\u{01}\"", "-"])
    func rejectsMalformedText(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSON(parsing: text) }
    }

    @Test func rejectsNestingDeeperThanTheLimit() {
        let deep = String(repeating: "[", count: JSON.maxDepth + 1) + String(repeating: "]", count: JSON.maxDepth + 1)
        #expect(throws: JSONParseError.self) { try JSON(parsing: deep) }
        let ok = String(repeating: "[", count: JSON.maxDepth) + String(repeating: "]", count: JSON.maxDepth)
        #expect((try? JSON(parsing: ok)) != nil)
    }

    @Test func bigIntegersStayExactAndHugeNumbersBecomeDoubles() throws {
        #expect(try JSON(parsing: "9007199254740993").serialized() == "9007199254740993")
        #expect(try JSON(parsing: "123456789012345678901234567890").numberValue?.exactInt == nil)
    }

    @Test func codableKeepsOrderAndSpelling() throws {
        let v = try JSON(parsing: #"{"z":1,"a":[2.5,{"y":null,"b":true}]}"#)
        let data = try JSONEncoder().encode([v])
        let back = try JSONDecoder().decode([JSON].self, from: data)
        #expect(back[0].serialized() == v.serialized())
    }
}
