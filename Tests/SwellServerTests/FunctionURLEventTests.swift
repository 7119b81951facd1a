import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Testing
@testable import SwellServer

struct FunctionURLEventTests {
    private func response(_ json: String) -> (Response, HTTPFields) {
        var headers = HTTPFields()
        headers[HTTPField.Name("X-Swell-Request-Id")!] = "req-1"
        let r = FunctionURLEvent.decodeResponse(ByteBuffer(string: json), headers: &headers)
        return (r, r.headers)
    }

    private func mappedBody(_ json: String) throws -> String {
        String(decoding: try FunctionURLEvent.MappedResponse(ByteBuffer(string: json)).body, as: UTF8.self)
    }

    @Test func aResponseObjectMapsToStatusHeadersCookiesAndBody() async throws {
        let (r, h) = response(#"""
            {"statusCode": 201, "headers": {"Content-Type": "text/plain", "X-Count": 3, "X-Flag": true, "X-Obj": {"a": 1}},
             "cookies": ["a=1; Path=/", "b=2"], "body": "line \"one\"\nline two", "extra": [1, 2]}
            """#)
        #expect(r.status.code == 201)
        #expect(h[.contentType] == "text/plain")
        #expect(h[HTTPField.Name("X-Count")!] == "3")
        #expect(h[HTTPField.Name("X-Flag")!] == "true")
        #expect(h[HTTPField.Name("X-Obj")!] == nil)
        #expect(h[values: .setCookie] == ["a=1; Path=/", "b=2"])
        #expect(try mappedBody(#"{"statusCode": 201, "body": "line \"one\"\nline two"}"#) == "line \"one\"\nline two")
    }

    @Test func framingHopByHopAndPlatformHeadersFromTheFunctionAreDropped() {
        let (_, h) = response(#"""
            {"statusCode": 200, "headers": {"Content-Length": "0", "transfer-encoding": "chunked", "Connection": "close",
             "Keep-Alive": "timeout=5", "Upgrade": "h2c", "TE": "trailers", "Trailer": "X", "Proxy-Connection": "close",
             "X-Swell-Request-Id": "forged", "x-swell-function-error": "no", "X-Ok": "yes"}, "body": "hi"}
            """#)
        // The length is Swell's own, of the body it sends.
        #expect(h[.contentLength] == "2")
        for name in ["Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "TE", "Trailer", "Proxy-Connection", "X-Swell-Function-Error"] {
            #expect(h[HTTPField.Name(name)!] == nil, "\(name)")
        }
        #expect(h[HTTPField.Name("X-Swell-Request-Id")!] == "req-1")
        #expect(h[HTTPField.Name("X-Ok")!] == "yes")
    }

    @Test func base64BodiesAreDecodedAndObjectBodiesPassAsJSONText() throws {
        let (r, _) = response(#"{"statusCode": "200", "isBase64Encoded": true, "body": "AAEC/w=="}"#)
        #expect(r.status.code == 200)
        #expect(try FunctionURLEvent.MappedResponse(ByteBuffer(string: #"{"statusCode": "200", "isBase64Encoded": true, "body": "AAEC/w=="}"#)).body == [0, 1, 2, 255])
        let (r2, h2) = response(#"{"statusCode": 202, "body": {"ok": [1, "x"]}}"#)
        #expect(r2.status.code == 202)
        #expect(h2[.contentType] == "application/json")
        #expect(try mappedBody(#"{"statusCode": 202, "body": {"ok": [1, "x"]}}"#) == #"{"ok": [1, "x"]}"#)
        #expect(try mappedBody(#"{"statusCode": 204, "body": null}"#) == "")
    }

    @Test func anythingElseIsTheBodyItself() throws {
        for json in [#"{"hello": "world"}"#, #"[1, 2]"#, #""text""#, "42", #"{"statusCode": 99}"#, #"{"statusCode": 600}"#,
                     #"{"statusCode": 200.5}"#, #"{"statusCode": 200, "body": "x"} trailing"#, "{broken"] {
            let (r, h) = response(json)
            #expect(r.status.code == 200, "\(json)")
            #expect(h[.contentType] == "application/json")
            #expect(throws: (any Error).self) { try FunctionURLEvent.MappedResponse(ByteBuffer(string: json)) }
        }
    }

    private func event(
        headers: HTTPFields, body: ByteBuffer = ByteBuffer(), path: String = "/fn/ns/f/a/b?x=1&y=2&x=3", forward: Bool,
        traceParent: String? = nil
    ) throws -> [String: Any] {
        let request = Request(
            head: HTTPRequest(method: .post, scheme: "http", authority: "example.test:8080", path: path, headerFields: headers),
            body: .init(buffer: body))
        let out = FunctionURLEvent.encode(
            request: request, body: body, rawPath: "/a/b", namespace: "ns", remote: nil, forwardAuthorization: forward,
            traceParent: traceParent)
        return try #require(JSONSerialization.jsonObject(with: Data(out.readableBytesView)) as? [String: Any])
    }

    @Test func withTracingTheEventCarriesTheServersTraceparentInsteadOfTheCallers() throws {
        let ours = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        var headers = HTTPFields()
        headers[HTTPField.Name("traceparent")!] = "00-11111111111111111111111111111111-2222222222222222-01"
        headers[.userAgent] = "ua/1"
        let traced = try #require(try event(headers: headers, forward: false, traceParent: ours)["headers"] as? [String: String])
        #expect(traced["traceparent"] == ours)
        #expect(traced["user-agent"] == "ua/1")
        let untraced = try #require(try event(headers: headers, forward: false)["headers"] as? [String: String])
        #expect(untraced["traceparent"] == "00-11111111111111111111111111111111-2222222222222222-01")
        // The only header: still one valid object.
        let alone = try #require(try event(headers: HTTPFields(), forward: false, traceParent: ours)["headers"] as? [String: String])
        #expect(alone["traceparent"] == ours)
    }

    @Test func theEventCarriesTheRequest() throws {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.userAgent] = "ua/1"
        headers.append(HTTPField(name: .cookie, value: "a=1; b=2"))
        headers.append(HTTPField(name: HTTPField.Name("X-Multi")!, value: "one"))
        headers.append(HTTPField(name: HTTPField.Name("X-Multi")!, value: "two"))
        let ev = try event(headers: headers, body: ByteBuffer(string: "tab\there \"quoted\" \u{01} é"), forward: true)
        #expect(ev["version"] as? String == "2.0")
        #expect(ev["rawPath"] as? String == "/a/b")
        #expect(ev["rawQueryString"] as? String == "x=1&y=2&x=3")
        #expect(ev["cookies"] as? [String] == ["a=1", "b=2"])
        let h = try #require(ev["headers"] as? [String: String])
        #expect(h["host"] == "example.test:8080")
        #expect(h["x-multi"] == "one,two")
        #expect(h["cookie"] == nil)
        #expect(ev["queryStringParameters"] as? [String: String] == ["x": "1,3", "y": "2"])
        #expect(ev["body"] as? String == "tab\there \"quoted\" \u{01} é")
        #expect(ev["isBase64Encoded"] as? Bool == false)
        let context = try #require(ev["requestContext"] as? [String: Any])
        #expect(context["accountId"] as? String == "ns")
        let http = try #require(context["http"] as? [String: Any])
        #expect(http["method"] as? String == "POST")
        #expect(http["userAgent"] as? String == "ua/1")
        let time = try #require(context["time"] as? String)
        #expect(time.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
        let epoch = try #require(context["timeEpoch"] as? Int)
        #expect(abs(Double(epoch) / 1000 - Date().timeIntervalSince1970) < 5)
        // The hand-written date is the same instant as the epoch.
        let parsed = try #require(ISO8601DateFormatter.withFractions.date(from: time))
        #expect(Int((parsed.timeIntervalSince1970 * 1000).rounded()) == epoch)
        #expect((context["requestId"] as? String)?.count == 36)
    }

    @Test func binaryBodiesAreBase64() throws {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain"
        let ev = try event(headers: headers, body: ByteBuffer(bytes: [0xFF, 0xFE, 0x00]), forward: true)
        #expect(ev["isBase64Encoded"] as? Bool == true)
        #expect(ev["body"] as? String == "//4A")
        var png = HTTPFields()
        png[.contentType] = "image/png"
        #expect(try event(headers: png, body: ByteBuffer(string: "abc"), forward: true)["isBase64Encoded"] as? Bool == true)
    }

    @Test func aSwellKeyNeverReachesTheFunction() throws {
        var swell = HTTPFields()
        swell[.authorization] = "Bearer swk_0123456789abcdef0123456789abcdef0123456789abcdef"
        for forward in [true, false] {
            let h = try #require(try event(headers: swell, forward: forward)["headers"] as? [String: String])
            #expect(h["authorization"] == nil)
        }
        var own = HTTPFields()
        own[.authorization] = "Bearer app-token"
        #expect((try event(headers: own, forward: true)["headers"] as? [String: String])?["authorization"] == "Bearer app-token")
        #expect((try event(headers: own, forward: false)["headers"] as? [String: String])?["authorization"] == nil)
    }
}

extension ISO8601DateFormatter {
    static var withFractions: ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }
}

