import Testing
@testable import SwellModel

struct JSONScannerTests {
    private func decoded(_ literal: String) throws -> String {
        var scanner = JSONScanner(Array(literal.utf8))
        return try scanner.string()
    }

    @Test func stringsWithoutEscapesComeBackAsTheyAre() throws {
        #expect(try decoded(#""héllo wörld""#) == "héllo wörld")
        #expect(try decoded(#""""#) == "")
    }

    @Test func everyEscapeIsResolved() throws {
        #expect(try decoded(#""a\"b\\c\/d\be\ff\ng\rh\ti""#) == "a\"b\\c/d\u{08}e\u{0C}f\ng\rh\ti")
        #expect(try decoded(#""\u0041\u00e9\u4e2d""#) == "Aé中")
    }

    @Test func surrogatePairsJoinAndLoneSurrogatesBecomeReplacementCharacters() throws {
        #expect(try decoded(#""\ud83d\ude00""#) == "😀")
        #expect(try decoded(#""x\ud83dy""#) == "x\u{FFFD}y")
        #expect(try decoded(#""\ude00""#) == "\u{FFFD}")
    }

    @Test func badStringsAreRejected() {
        for bad in [#""abc"#, #""\x""#, #""\u12""#, "\"a\u{01}b\"", "abc"] {
            var scanner = JSONScanner(Array(bad.utf8))
            #expect(throws: SwellError.self) { try scanner.string() }
        }
    }

    @Test func isValidAcceptsExactlyOneValue() {
        for good in ["{}", " [1, 2.5e3, -0, true, false, null] ", #"{"a":{"b":["c"]}}"#, "\"s\"", "42"] {
            #expect(JSONScanner.isValid(Array(good.utf8)), "\(good)")
        }
        for bad in ["", "{", "{} {}", "[1,]", "01", "{'a':1}", "nul", "1.", "[1] x"] {
            #expect(!JSONScanner.isValid(Array(bad.utf8)), "\(bad)")
        }
        // Not UTF-8: a cut sequence, an overlong form, a surrogate.
        for bad: [UInt8] in [[0x22, 0xC3, 0x28, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22]] {
            #expect(!JSONScanner.isValid(bad))
        }
        #expect(JSONScanner.isValid(Array("\"é中😀\"".utf8)))
    }

    @Test func nestingBeyondTheLimitIsRejected() {
        let deep = String(repeating: "[", count: JSONScanner.maxDepth + 1) + String(repeating: "]", count: JSONScanner.maxDepth + 1)
        #expect(!JSONScanner.isValid(Array(deep.utf8)))
    }

    @Test func randomIDsAreVersionFourUUIDs() {
        let a = RandomID.uuid(), b = RandomID.uuid()
        #expect(a != b)
        #expect(a.count == 36)
        let parts = a.split(separator: "-")
        #expect(parts.map(\.count) == [8, 4, 4, 4, 12])
        #expect(parts[2].first == "4")
        #expect("89ab".contains(parts[3].first!))
        #expect(a.allSatisfy { "0123456789abcdef-".contains($0) })
    }

    @Test func traceHeadersHaveTheXRayWidths() {
        // Fixed widths even when the leading digits are zero (epoch 0x0000002a).
        let t = RandomID.traceHeader(epochSeconds: 42), u = RandomID.traceHeader(epochSeconds: 0x6756_1234)
        #expect(t.hasPrefix("Root=1-0000002a-") && t.hasSuffix(";Sampled=0") && t.count == 50)
        #expect(u.hasPrefix("Root=1-67561234-"))
        let random = t.dropFirst("Root=1-0000002a-".count).prefix(24)
        #expect(random.count == 24 && random.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(t != RandomID.traceHeader(epochSeconds: 42))
    }
}
