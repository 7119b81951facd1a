import Foundation
import Testing
@testable import SwellServer

/// SigV4 verification against AWS's published test suite vector (`get-vanilla`, secret
/// `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`, 2015-08-30T12:36:00Z, us-east-1/service) and
/// signatures computed the way the SDKs compute them.
struct SigV4Tests {
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let now = Date(timeIntervalSince1970: 1_440_938_160)  // 20150830T123600Z

    func vanilla(authorization: String? = nil, date: String = "20150830T123600Z") -> SigV4.Request {
        var headers: [String: [String]] = ["host": ["example.amazonaws.com"], "x-amz-date": [date]]
        headers["authorization"] = [
            authorization
                ?? "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        ]
        return SigV4.Request(method: "GET", rawPath: "/", rawQuery: "", headers: headers, payloadSHA256: SigV4.emptyPayloadSHA256)
    }

    @Test func awsTestSuiteGetVanillaVerifies() throws {
        let parsed = try SigV4.parse(vanilla(), service: "service", now: Self.now)
        #expect(parsed.accessKeyID == "AKIDEXAMPLE")
        #expect(parsed.canonicalRequest == """
            GET
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        try parsed.verify(secret: Self.secret)
    }

    @Test func aWrongSecretIsRefused() throws {
        let parsed = try SigV4.parse(vanilla(), service: "service", now: Self.now)
        #expect(throws: SigV4.Failure.signatureMismatch) { try parsed.verify(secret: "not-the-secret") }
    }

    @Test func aTamperedRequestIsRefused() throws {
        var request = vanilla()
        request.rawPath = "/other"
        let parsed = try SigV4.parse(request, service: "service", now: Self.now)
        #expect(throws: SigV4.Failure.signatureMismatch) { try parsed.verify(secret: Self.secret) }
        var body = vanilla()
        body.payloadSHA256 = String(repeating: "0", count: 64)
        #expect(throws: SigV4.Failure.signatureMismatch) { try SigV4.parse(body, service: "service", now: Self.now).verify(secret: Self.secret) }
    }

    @Test func theClockSkewIsFifteenMinutesEitherWay() throws {
        _ = try SigV4.parse(vanilla(), service: "service", now: Self.now.addingTimeInterval(14 * 60))
        _ = try SigV4.parse(vanilla(), service: "service", now: Self.now.addingTimeInterval(-14 * 60))
        #expect(throws: SigV4.Failure.self) { try SigV4.parse(vanilla(), service: "service", now: Self.now.addingTimeInterval(16 * 60)) }
        #expect(throws: SigV4.Failure.self) { try SigV4.parse(vanilla(), service: "service", now: Self.now.addingTimeInterval(-16 * 60)) }
        do {
            _ = try SigV4.parse(vanilla(), service: "service", now: Self.now.addingTimeInterval(3600))
            Issue.record("a stale date passed")
        } catch {
            #expect(error.code == "InvalidSignatureException")
            #expect(error.description.contains("Signature expired"))
        }
    }

    @Test func missingAndMalformedSignaturesHaveAWSCodes() {
        var request = vanilla()
        request.headers["authorization"] = nil
        #expect(throws: SigV4.Failure.missing) { try SigV4.parse(request, service: "service", now: Self.now) }
        #expect(SigV4.Failure.missing.code == "MissingAuthenticationTokenException")
        do {
            _ = try SigV4.parse(vanilla(authorization: "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request"), service: "service", now: Self.now)
            Issue.record("an incomplete signature passed")
        } catch {
            #expect(error.code == "IncompleteSignatureException")
        }
        #expect(throws: SigV4.Failure.wrongService("service")) { try SigV4.parse(vanilla(), service: "lambda", now: Self.now) }
    }

    @Test func datesAreReadAsUTC() throws {
        #expect(try SigV4.parseAmzDate("20261201T170000Z").timeIntervalSince1970 == 1_796_144_400)
        #expect(try SigV4.parseAmzDate("20000229T235959Z").timeIntervalSince1970 == 951_868_799)
        #expect(SigV4.format(Date(timeIntervalSince1970: 1_796_144_400)) == "20261201T170000Z")
        #expect(throws: SigV4.Failure.self) { try SigV4.parseAmzDate("2026-12-01T17:00:00Z") }
        #expect(throws: SigV4.Failure.self) { try SigV4.parseAmzDate("20261301T170000Z") }
    }

    /// The server parses before it reads the body, then puts the body's hash in.
    @Test func theBodyHashCanBeSetAfterParsing() throws {
        let date = SigV4.format(Self.now)
        let body = #"{"x": 1}"#
        let signed = sign(method: "POST", path: "/p", query: "", headers: ["host": "h"], body: body, secret: "s", date: date)
        var early = signed
        early.payloadSHA256 = SigV4.emptyPayloadSHA256
        let parsedEarly = try SigV4.parse(early, service: "lambda", now: Self.now)
        #expect(throws: SigV4.Failure.signatureMismatch) { try parsedEarly.verify(secret: "s") }
        let completed = try parsedEarly.withPayload(SigV4.sha256Hex(body))
        #expect(completed == (try SigV4.parse(signed, service: "lambda", now: Self.now)))
        try completed.verify(secret: "s")
        var declared = early
        declared.headers["x-amz-content-sha256"] = [SigV4.emptyPayloadSHA256]
        #expect(throws: SigV4.Failure.payloadMismatch) { try SigV4.parse(declared, service: "lambda", now: Self.now).withPayload(SigV4.sha256Hex(body)) }
    }

    @Test func aDeclaredPayloadHashMustMatchTheBody() {
        var request = vanilla()
        request.headers["x-amz-content-sha256"] = [SigV4.unsignedPayload]
        #expect(throws: SigV4.Failure.payloadMismatch) { try SigV4.parse(request, service: "service", now: Self.now) }
    }

    /// Signs like botocore: path encoded once more, query sorted, payload hashed.
    func sign(method: String, path: String, query: String, headers: [String: String], body: String, secret: String, date: String) -> SigV4.Request {
        let payload = SigV4.sha256Hex(body)
        var h = headers.mapValues { [$0] }
        h["x-amz-date"] = [date]
        let signed = h.keys.sorted()
        let request = SigV4.Request(method: method, rawPath: path, rawQuery: query, headers: h, payloadSHA256: payload)
        let canonical = SigV4.canonicalRequest(request, query: SigV4.parseQuery(query), signedHeaders: signed, payload: payload, excludeSignature: false)
        let scope = "\(date.prefix(8))/swell/lambda/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(date)\n\(scope)\n\(SigV4.sha256Hex(canonical))"
        let signature = SigV4.signature(
            stringToSign: stringToSign, signingKey: SigV4.signingKey(secret: secret, date: String(date.prefix(8)), region: "swell", service: "lambda"))
        var out = request
        out.headers["authorization"] = ["AWS4-HMAC-SHA256 Credential=AKIATEST/\(scope), SignedHeaders=\(signed.joined(separator: ";")), Signature=\(signature)"]
        return out
    }

    @Test func encodedPathsQueriesAndBodiesVerify() throws {
        let date = SigV4.format(Self.now)
        let request = sign(
            method: "POST", path: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aswell%3Adefault%3Afunction%3Ahello/invocations",
            query: "Qualifier=live&Marker=a%20b", headers: ["host": "127.0.0.1:8080", "content-type": "application/json"],
            body: #"{"x": 1}"#, secret: "s3cret", date: date)
        let parsed = try SigV4.parse(request, service: "lambda", now: Self.now)
        #expect(parsed.canonicalRequest.contains("/2015-03-31/functions/arn%253Aaws%253Alambda"))
        #expect(parsed.canonicalRequest.contains("Marker=a%20b&Qualifier=live"))
        try parsed.verify(secret: "s3cret")
    }

    @Test func presignedRequestsVerifyUntilTheyExpire() throws {
        let date = SigV4.format(Self.now)
        let scope = "\(date.prefix(8))/swell/lambda/aws4_request"
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIATEST%2F\(scope.replacingOccurrences(of: "/", with: "%2F"))&X-Amz-Date=\(date)&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
        var request = SigV4.Request(
            method: "GET", rawPath: "/2015-03-31/functions/", rawQuery: query, headers: ["host": ["h:1"]], payloadSHA256: SigV4.emptyPayloadSHA256)
        let canonical = SigV4.canonicalRequest(request, query: SigV4.parseQuery(query), signedHeaders: ["host"], payload: SigV4.unsignedPayload, excludeSignature: true)
        let stringToSign = "AWS4-HMAC-SHA256\n\(date)\n\(scope)\n\(SigV4.sha256Hex(canonical))"
        let signature = SigV4.signature(stringToSign: stringToSign, signingKey: SigV4.signingKey(secret: "k", date: String(date.prefix(8)), region: "swell", service: "lambda"))
        request.rawQuery += "&X-Amz-Signature=\(signature)"
        try SigV4.parse(request, service: "lambda", now: Self.now.addingTimeInterval(30)).verify(secret: "k")
        #expect(throws: SigV4.Failure.signatureMismatch) { try SigV4.parse(request, service: "lambda", now: Self.now).verify(secret: "other") }
        #expect(throws: SigV4.Failure.self) { try SigV4.parse(request, service: "lambda", now: Self.now.addingTimeInterval(61)) }
        // botocore over http signs the body's hash instead of UNSIGNED-PAYLOAD: also accepted.
        var hashed = SigV4.Request(
            method: "GET", rawPath: "/2015-03-31/functions/", rawQuery: query, headers: ["host": ["h:1"]], payloadSHA256: SigV4.emptyPayloadSHA256)
        let canonical2 = SigV4.canonicalRequest(hashed, query: SigV4.parseQuery(query), signedHeaders: ["host"], payload: SigV4.emptyPayloadSHA256, excludeSignature: true)
        let signature2 = SigV4.signature(
            stringToSign: "AWS4-HMAC-SHA256\n\(date)\n\(scope)\n\(SigV4.sha256Hex(canonical2))",
            signingKey: SigV4.signingKey(secret: "k", date: String(date.prefix(8)), region: "swell", service: "lambda"))
        hashed.rawQuery += "&X-Amz-Signature=\(signature2)"
        try SigV4.parse(hashed, service: "lambda", now: Self.now).verify(secret: "k")
    }
}
