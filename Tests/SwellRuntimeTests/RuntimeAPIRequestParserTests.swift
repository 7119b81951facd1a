import NIOCore
import Testing
@testable import SwellRuntime

/// The Runtime API's request decoder as a value: bytes in (split anywhere), events out.
struct RuntimeAPIRequestParserTests {
    typealias Parser = RuntimeAPIRequestParser

    /// A request as the tests compare it (the body as text).
    struct Seen: Equatable, CustomStringConvertible {
        var method: String
        var target: String
        var keepAlive: Bool
        var errorType: String?
        var body: String
        var tooLarge: Bool
        var description: String { "\(method) \(target) keepAlive=\(keepAlive) errorType=\(errorType ?? "-") body=\(body.debugDescription) tooLarge=\(tooLarge)" }
    }

    enum Out: Equatable {
        case `continue`
        case request(Seen)
        case failed(Parser.Failure)
    }

    /// Feeds `chunks` one by one to a fresh parser, collecting every event.
    private func run(_ chunks: [[UInt8]], maxHeader: Int = 64 * 1024, maxBody: Int = 1024) -> [Out] {
        var parser = Parser(maxHeaderBytes: maxHeader, maxBodyBytes: maxBody)
        var buffer = ByteBuffer()
        var out: [Out] = []
        for chunk in chunks {
            buffer.writeBytes(chunk)
            while let event = parser.next(&buffer) {
                switch event {
                case .continueExpected: out.append(.continue)
                case .request(let r):
                    out.append(.request(Seen(
                        method: r.method, target: r.target, keepAlive: r.keepAlive, errorType: r.errorType,
                        body: String(buffer: r.body), tooLarge: r.bodyTooLarge)))
                case .failed(let f): out.append(.failed(f))
                }
            }
            buffer.discardReadBytes()
        }
        return out
    }

    /// The same bytes whole, one byte at a time, and split in two at every offset must give the same events.
    private func expectSplitsAgree(_ text: String, maxHeader: Int = 64 * 1024, maxBody: Int = 1024,
                                   sourceLocation: SourceLocation = #_sourceLocation) -> [Out] {
        let bytes = Array(text.utf8)
        let whole = run([bytes], maxHeader: maxHeader, maxBody: maxBody)
        #expect(run(bytes.map { [$0] }, maxHeader: maxHeader, maxBody: maxBody) == whole, "byte by byte", sourceLocation: sourceLocation)
        for cut in 1..<bytes.count {
            let split = run([Array(bytes[..<cut]), Array(bytes[cut...])], maxHeader: maxHeader, maxBody: maxBody)
            if split != whole {
                Issue.record("split at \(cut) gives \(split), whole gives \(whole)", sourceLocation: sourceLocation)
                break
            }
        }
        return whole
    }

    private func req(_ method: String, _ target: String, keepAlive: Bool = true, errorType: String? = nil, body: String = "", tooLarge: Bool = false) -> Out {
        .request(Seen(method: method, target: target, keepAlive: keepAlive, errorType: errorType, body: body, tooLarge: tooLarge))
    }

    @Test func nextAndAResponseWithContentLengthPipelined() {
        let text = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: x\r\n\r\n"
            + "POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\ncontent-LENGTH: 11\r\n\r\n{\"ok\":true}"
            + "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n"
        #expect(expectSplitsAgree(text) == [
            req("GET", "/2018-06-01/runtime/invocation/next"),
            req("POST", "/2018-06-01/runtime/invocation/r1/response", body: #"{"ok":true}"#),
            req("GET", "/2018-06-01/runtime/invocation/next"),
        ])
    }

    @Test func chunkedBodiesWithExtensionsAndTrailers() {
        let text = "POST /2018-06-01/runtime/invocation/r2/response HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
            + "5\r\nhello\r\n"
            + "1;name=value;other\r\n,\r\n"
            + "B \r\n 0123456789\r\n"  // size with trailing whitespace; data beginning with a space
            + "0\r\nX-Checksum: abc\r\nOther: 1\r\n\r\n"
            + "POST /2018-06-01/runtime/invocation/r3/error HTTP/1.1\r\ntransfer-encoding: chunked\r\n"
            + "Lambda-Runtime-Function-Error-Type: Runtime.Oops\r\n\r\n"
            + "2\r\n{}\r\n0\r\n\r\n"
        #expect(expectSplitsAgree(text) == [
            req("POST", "/2018-06-01/runtime/invocation/r2/response", body: "hello, 0123456789"),
            req("POST", "/2018-06-01/runtime/invocation/r3/error", errorType: "Runtime.Oops", body: "{}"),
        ])
    }

    @Test func keepAliveFollowsTheVersionAndConnectionHeader() {
        let text = "GET /a HTTP/1.0\r\n\r\n"
            + "GET /b HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
            + "GET /c HTTP/1.1\r\nConnection: foo, close\r\n\r\n"
            + "GET /d HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"
        #expect(expectSplitsAgree(text) == [
            req("GET", "/a", keepAlive: false), req("GET", "/b"), req("GET", "/c", keepAlive: false), req("GET", "/d"),
        ])
    }

    @Test func expectContinueAsksForAnInterimAnswerBeforeTheBody() {
        let text = "POST /2018-06-01/runtime/invocation/r4/response HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\nabc"
            + "GET /n HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"  // no body: nothing to wait for
            + "POST /p HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx"  // HTTP/1.0 has no interim answers
        #expect(expectSplitsAgree(text) == [
            .continue, req("POST", "/2018-06-01/runtime/invocation/r4/response", body: "abc"),
            req("GET", "/n"), req("POST", "/p", keepAlive: false, body: "x"),
        ])
        // The interim answer comes as soon as the head is in, before any of the body.
        var parser = Parser(maxBodyBytes: 100)
        var buffer = ByteBuffer(string: "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        #expect(parser.next(&buffer) == .continueExpected)
        #expect(parser.next(&buffer) == nil)
    }

    @Test func aBodyOverTheLimitIsReadAndDroppedAndTheConnectionGoesOn() {
        let big = String(repeating: "x", count: 40)
        let text = "POST /r HTTP/1.1\r\nContent-Length: 40\r\n\r\n\(big)"
            + "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n\(big.prefix(20))\r\n14\r\n\(big.prefix(20))\r\n0\r\n\r\n"
            + "POST /ok HTTP/1.1\r\nContent-Length: 32\r\n\r\n\(big.prefix(32))"
        #expect(expectSplitsAgree(text, maxBody: 32) == [
            req("POST", "/r", tooLarge: true), req("POST", "/c", tooLarge: true), req("POST", "/ok", body: String(big.prefix(32))),
        ])
        // Dropped as it comes: a huge declared body never accumulates.
        var parser = Parser(maxBodyBytes: 32)
        var buffer = ByteBuffer(string: "POST /r HTTP/1.1\r\nContent-Length: 1000000000\r\n\r\n")
        #expect(parser.next(&buffer) == nil)
        for _ in 0..<100 {
            buffer.writeRepeatingByte(0x41, count: 10_000)
            #expect(parser.next(&buffer) == nil)
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func theHeaderSectionIsCapped() {
        let long = "GET /x HTTP/1.1\r\nX-Long: " + String(repeating: "a", count: 200) + "\r\n\r\n"
        #expect(expectSplitsAgree(long, maxHeader: 128) == [.failed(.headerTooLarge)])
        // Without an end in sight: refused once past the cap, not buffered for ever.
        #expect(run([Array(("GET /x HTTP/1.1\r\n" + String(repeating: "X-A: b\r\n", count: 20)).utf8)], maxHeader: 128) == [.failed(.headerTooLarge)])
        // Trailers count against the same cap.
        let trailers = "POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " + String(repeating: "t", count: 200) + "\r\n\r\n"
        #expect(expectSplitsAgree(trailers, maxHeader: 128) == [.failed(.headerTooLarge)])
        // Just under it is fine.
        #expect(expectSplitsAgree("GET /x HTTP/1.1\r\n\r\n", maxHeader: 19) == [req("GET", "/x")])
    }

    @Test func malformedRequestsFailAndNothingAfterIsRead() {
        let cases: [(String, String)] = [
            ("GET /x HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", "both Content-Length and Transfer-Encoding"),
            ("GET /x HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab", "conflicting Content-Length"),
            ("GET /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
            ("GET /x HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", "invalid Content-Length"),
            ("GET /x HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", "invalid Content-Length"),
            ("GET /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "unsupported Transfer-Encoding (only chunked)"),
            ("GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "unsupported Transfer-Encoding (only chunked)"),
            ("GET /x HTTP/2.0\r\n\r\n", "unsupported HTTP version"),
            ("GET /x\r\n\r\n", "request line is not method, target and version"),
            ("GET  /x HTTP/1.1\r\n\r\n", "invalid request target"),
            ("G(T /x HTTP/1.1\r\n\r\n", "invalid method"),
            ("GET /x HTTP/1.1\r\nHost : x\r\n\r\n", "invalid header name"),
            ("GET /x HTTP/1.1\r\n: x\r\n\r\n", "header line without a name"),
            ("GET /x HTTP/1.1\r\nNoColon\r\n\r\n", "header line without a name"),
            ("GET /x HTTP/1.1\r\nA: b\r\n c\r\n\r\n", "folded or empty header line"),
            ("GET /x HTTP/1.1\r\nA: b\nB: c\r\n\r\n", "bare LF in the head"),
            ("GET /x HTTP/1.1\r\nA: b\rB: c\r\n\r\n", "bare CR in the head"),
            ("GET /x HTTP/1.1\r\nA: b\u{1}c\r\n\r\n", "control character in header A"),
            ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"),
            ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "invalid chunk size"),
            ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1x\r\n", "invalid chunk size"),
            ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", "invalid chunk size"),
            ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "chunk data not followed by CRLF"),
            ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", "invalid trailer"),
        ]
        for (text, reason) in cases {
            // Whatever follows a malformed request is never read as a request.
            let out = expectSplitsAgree(text + "GET /after HTTP/1.1\r\n\r\n")
            #expect(out == [.failed(.malformed(reason))], "\(text.debugDescription)")
        }
        // A chunk-size line without an end is refused once past its cap.
        let endless = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;" + String(repeating: "e", count: Parser.maxChunkLine + 10)
        #expect(run([Array(endless.utf8)]) == [.failed(.malformed("chunk size line too long"))])
    }

    @Test func emptyLinesBeforeARequestAreSkippedAndTheFirstErrorTypeKept() {
        let text = "\r\n\r\nPOST /e HTTP/1.1\r\nLambda-Runtime-Function-Error-Type: First\r\nlambda-runtime-function-error-type: Second\r\n"
            + "Content-Length: 0\r\n\r\n\r\nGET /q?x=1 HTTP/1.1\r\n\r\n"
        #expect(expectSplitsAgree(text) == [req("POST", "/e", errorType: "First"), req("GET", "/q?x=1")])
    }

    @Test func aWholeContentLengthBodyIsTheReadBytesThemselves() {
        var parser = Parser(maxBodyBytes: 100)
        var buffer = ByteBuffer(string: "POST /r HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
        guard case .request(let r)? = parser.next(&buffer) else { Issue.record("no request"); return }
        #expect(String(buffer: r.body) == "hello")
        #expect(buffer.readableBytes == 0)
    }
}
