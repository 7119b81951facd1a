import Crypto
import Foundation

/// AWS Signature Version 4, as a server checks it: the header form
/// (`Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`) and the
/// presigned query form (`X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=…`).
///
/// Pure values: the caller hands over the request's parts and the time, and gets back the
/// access key id to look up and, given its secret, whether the signature holds.
///
/// ```swift
/// let parsed = try SigV4.parse(request, now: Date())
/// try parsed.verify(secret: secret)   // throws SigV4.Failure.signatureMismatch
/// ```
public enum SigV4 {
    /// How far a request's date may be from the server's clock.
    public static let allowedSkew: TimeInterval = 15 * 60
    /// The longest `X-Amz-Expires` a presigned request may carry (7 days).
    public static let maxExpires = 604_800
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// The parts of an HTTP request the signature covers.
    public struct Request: Sendable {
        public var method: String
        /// The path as sent (percent-encoded), without the query.
        public var rawPath: String
        /// The query as sent (percent-encoded), without `?`; empty when there is none.
        public var rawQuery: String
        /// Header values by lowercase name (several values of one name in order). `host`
        /// must be present when signed (HTTP/1's `Host`, HTTP/2's `:authority`).
        public var headers: [String: [String]]
        /// SHA-256 of the body, lowercase hex.
        public var payloadSHA256: String

        public init(method: String, rawPath: String, rawQuery: String, headers: [String: [String]], payloadSHA256: String) {
            self.method = method
            self.rawPath = rawPath
            self.rawQuery = rawQuery
            self.headers = headers
            self.payloadSHA256 = payloadSHA256
        }
    }

    /// Why a request is refused, each with the error code AWS answers with.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// Neither an `Authorization` header nor presigned query parameters.
        case missing
        /// A signature is there but malformed (the message names what).
        case incomplete(String)
        /// The date is outside the allowed skew, or a presigned request has expired.
        case expired(String)
        /// The signature does not match.
        case signatureMismatch
        /// The signed payload hash differs from the body's.
        case payloadMismatch
        /// The credential names another service than the one served.
        case wrongService(String)

        public var code: String {
            switch self {
            case .missing: "MissingAuthenticationTokenException"
            case .incomplete: "IncompleteSignatureException"
            case .expired, .signatureMismatch, .payloadMismatch, .wrongService: "InvalidSignatureException"
            }
        }

        public var httpStatus: Int {
            switch self {
            case .incomplete: 400
            default: 403
            }
        }

        public var description: String {
            switch self {
            case .missing: "Missing Authentication Token: sign the request with AWS Signature Version 4 (an access key from `swell keys create --aws`)"
            case .incomplete(let what): "Incomplete signature: \(what)"
            case .expired(let what): "Signature expired: \(what)"
            case .signatureMismatch:
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
            case .payloadMismatch: "The provided x-amz-content-sha256 header does not match what was computed."
            case .wrongService(let s): "Credential should be scoped to the correct service: got '\(s)'"
            }
        }
    }

    /// A request's signature, parsed and checked for form and time, awaiting the secret.
    public struct Parsed: Sendable, Equatable {
        public var accessKeyID: String
        /// `YYYYMMDD/region/service/aws4_request`
        public var scope: String
        public var date: String
        public var region: String
        public var service: String
        public var amzDate: String
        public var signedHeaders: [String]
        public var signature: String
        public var canonicalRequest: String
        /// A presigned request may sign its body's hash or `UNSIGNED-PAYLOAD` (botocore signs the
        /// hash over http, the SDKs sign `UNSIGNED-PAYLOAD` over https); this is the other one.
        public var alternativeCanonicalRequest: String?
        /// Whether the signature came in the query (presigned) rather than the header.
        public var presigned = false
        /// The payload hash the (alternative, when presigned) canonical request ends with.
        public var payload = ""
        /// The payload hash the request declares (`x-amz-content-sha256`, or the query's
        /// `X-Amz-Content-Sha256` when presigned).
        public var declaredPayload: String?

        /// The same request with the body's real hash: what ``SigV4/parse(_:service:now:)``
        /// gives for it, without parsing again (a server checks everything else before it
        /// reads the body).
        public func withPayload(_ hash: String) throws(Failure) -> Parsed {
            guard hash != payload else { return self }
            var p = self
            p.payload = hash
            if presigned {
                if let declared = declaredPayload, declared != SigV4.unsignedPayload, declared != hash { throw .payloadMismatch }
                p.alternativeCanonicalRequest = alternativeCanonicalRequest.map { String($0.dropLast(payload.utf8.count)) + hash }
            } else {
                if let declared = declaredPayload, declared != hash { throw .payloadMismatch }
                p.canonicalRequest = String(canonicalRequest.dropLast(payload.utf8.count)) + hash
            }
            return p
        }

        /// The string the signature is the HMAC of.
        public var stringToSign: String { Self.stringToSign(canonicalRequest, amzDate: amzDate, scope: scope) }

        static func stringToSign(_ canonical: String, amzDate: String, scope: String) -> String {
            "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(SigV4.hex(SHA256.hash(data: Data(canonical.utf8))))"
        }

        /// Checks the signature with the access key's secret.
        public func verify(secret: String) throws(Failure) {
            try verify(signingKey: SigV4.signingKey(secret: secret, date: date, region: region, service: service))
        }

        /// Checks the signature with a derived signing key (``SigV4/signingKey(secret:date:region:service:)``).
        public func verify(signingKey: SymmetricKey) throws(Failure) {
            // Constant-time comparison of the given signature with the computed one.
            guard let given = SigV4.bytes(hex: signature), given.count == 32 else { throw .signatureMismatch }
            if HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Data(stringToSign.utf8), using: signingKey) { return }
            if let alternative = alternativeCanonicalRequest,
                HMAC<SHA256>.isValidAuthenticationCode(
                    given, authenticating: Data(Self.stringToSign(alternative, amzDate: amzDate, scope: scope).utf8), using: signingKey)
            {
                return
            }
            throw .signatureMismatch
        }
    }

    /// Parses the signature of `request` and checks everything but the signature itself:
    /// algorithm, credential scope, signed headers, date within the skew (or presigned
    /// expiry), and the payload hash.
    /// - Parameter service: the service the credential scope must name (`lambda`).
    public static func parse(_ request: Request, service expectedService: String, now: Date) throws(Failure) -> Parsed {
        let query = parseQuery(request.rawQuery)
        if let authorization = request.headers["authorization"]?.first {
            return try parseHeaderForm(authorization, request: request, query: query, service: expectedService, now: now)
        }
        if query.contains(where: { $0.name == "X-Amz-Algorithm" }) {
            return try parsePresigned(request, query: query, service: expectedService, now: now)
        }
        throw .missing
    }

    static func parseHeaderForm(
        _ authorization: String, request: Request, query: [(name: String, value: String)], service expectedService: String, now: Date
    ) throws(Failure) -> Parsed {
        let prefix = "AWS4-HMAC-SHA256 "
        guard authorization.hasPrefix(prefix) else {
            throw .incomplete("Authorization header requires the AWS4-HMAC-SHA256 algorithm")
        }
        var fields: [String: String] = [:]
        for part in authorization.dropFirst(prefix.count).split(separator: ",") {
            let item = part.trimmingCharacters(in: .whitespaces)
            guard let eq = item.firstIndex(of: "=") else { continue }
            fields[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        guard let credential = fields["Credential"] else { throw .incomplete("Authorization header requires 'Credential' parameter") }
        guard let signed = fields["SignedHeaders"] else { throw .incomplete("Authorization header requires 'SignedHeaders' parameter") }
        guard let signature = fields["Signature"] else { throw .incomplete("Authorization header requires 'Signature' parameter") }
        guard let amzDate = request.headers["x-amz-date"]?.first ?? request.headers["date"]?.first else {
            throw .incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header")
        }
        let (accessKey, date, region, service) = try parseCredential(credential, service: expectedService)
        let signedHeaders = signed.split(separator: ";").map(String.init)
        try checkSignedHeaders(signedHeaders, request: request)
        let time = try parseAmzDate(amzDate)
        guard amzDate.prefix(8) == date else { throw .incomplete("the credential's date \(date) differs from the request's \(amzDate.prefix(8))") }
        guard abs(time.timeIntervalSince(now)) <= allowedSkew else {
            throw .expired("\(amzDate) is not within 15 minutes of the server's time \(format(now))")
        }
        // The body hash is always the server's own; a declared one must agree with it.
        let payload = request.payloadSHA256
        if let declared = request.headers["x-amz-content-sha256"]?.first, declared != payload {
            throw .payloadMismatch
        }
        return Parsed(
            accessKeyID: accessKey, scope: "\(date)/\(region)/\(service)/aws4_request", date: date, region: region, service: service,
            amzDate: amzDate, signedHeaders: signedHeaders, signature: signature,
            canonicalRequest: canonicalRequest(request, query: query, signedHeaders: signedHeaders, payload: payload, excludeSignature: false),
            payload: payload, declaredPayload: request.headers["x-amz-content-sha256"]?.first)
    }

    static func parsePresigned(_ request: Request, query: [(name: String, value: String)], service expectedService: String, now: Date) throws(Failure) -> Parsed {
        func value(_ name: String) -> String? { query.first(where: { $0.name == name })?.value }
        guard value("X-Amz-Algorithm") == "AWS4-HMAC-SHA256" else { throw .incomplete("X-Amz-Algorithm must be AWS4-HMAC-SHA256") }
        guard let credential = value("X-Amz-Credential") else { throw .incomplete("X-Amz-Credential is required") }
        guard let amzDate = value("X-Amz-Date") else { throw .incomplete("X-Amz-Date is required") }
        guard let signed = value("X-Amz-SignedHeaders") else { throw .incomplete("X-Amz-SignedHeaders is required") }
        guard let signature = value("X-Amz-Signature") else { throw .incomplete("X-Amz-Signature is required") }
        guard let expiresText = value("X-Amz-Expires"), let expires = Int(expiresText), expires >= 1, expires <= maxExpires else {
            throw .incomplete("X-Amz-Expires must be a number of seconds between 1 and \(maxExpires)")
        }
        let (accessKey, date, region, service) = try parseCredential(credential, service: expectedService)
        let signedHeaders = signed.split(separator: ";").map(String.init)
        try checkSignedHeaders(signedHeaders, request: request)
        let time = try parseAmzDate(amzDate)
        guard amzDate.prefix(8) == date else { throw .incomplete("the credential's date \(date) differs from the request's \(amzDate.prefix(8))") }
        guard time.timeIntervalSince(now) <= allowedSkew else {
            throw .expired("\(amzDate) is more than 15 minutes after the server's time \(format(now))")
        }
        guard now.timeIntervalSince(time) <= TimeInterval(expires) else {
            throw .expired("the presigned request expired at \(format(time.addingTimeInterval(TimeInterval(expires))))")
        }
        // Presigned requests sign `UNSIGNED-PAYLOAD` (as AWS allows for them) or the body's hash.
        if let declared = value("X-Amz-Content-Sha256"), declared != unsignedPayload, declared != request.payloadSHA256 {
            throw .payloadMismatch
        }
        return Parsed(
            accessKeyID: accessKey, scope: "\(date)/\(region)/\(service)/aws4_request", date: date, region: region, service: service,
            amzDate: amzDate, signedHeaders: signedHeaders, signature: signature,
            canonicalRequest: canonicalRequest(request, query: query, signedHeaders: signedHeaders, payload: unsignedPayload, excludeSignature: true),
            alternativeCanonicalRequest: canonicalRequest(
                request, query: query, signedHeaders: signedHeaders, payload: request.payloadSHA256, excludeSignature: true),
            presigned: true, payload: request.payloadSHA256, declaredPayload: value("X-Amz-Content-Sha256"))
    }

    /// `AKID/YYYYMMDD/region/service/aws4_request`
    static func parseCredential(_ credential: String, service expected: String) throws(Failure) -> (String, String, String, String) {
        let parts = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, !parts[0].isEmpty, parts[1].count == 8, parts[1].allSatisfy(\.isASCIIDigit), !parts[2].isEmpty,
            parts[4] == "aws4_request"
        else {
            throw .incomplete("Credential must look like ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request")
        }
        guard parts[3] == expected else { throw .wrongService(parts[3]) }
        return (parts[0], parts[1], parts[2], parts[3])
    }

    static func checkSignedHeaders(_ names: [String], request: Request) throws(Failure) {
        guard !names.isEmpty, names.contains("host") else { throw .incomplete("SignedHeaders must include host") }
        for name in names {
            guard name == name.lowercased(), request.headers[name] != nil else {
                throw .incomplete("signed header \(name) is not in the request")
            }
        }
    }

    /// `YYYYMMDD'T'HHMMSS'Z'`, UTC.
    static func parseAmzDate(_ text: String) throws(Failure) -> Date {
        let u = Array(text.utf8)
        guard u.count == 16, u[8] == UInt8(ascii: "T"), u[15] == UInt8(ascii: "Z") else {
            throw .incomplete("X-Amz-Date must look like 20261201T170000Z (got \(text))")
        }
        func n(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r {
                guard u[i] >= 0x30 && u[i] <= 0x39 else { return nil }
                v = v * 10 + Int(u[i] - 0x30)
            }
            return v
        }
        guard let y = n(0..<4), let mo = n(4..<6), let d = n(6..<8), let h = n(9..<11), let mi = n(11..<13), let s = n(13..<15),
            (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { throw .incomplete("X-Amz-Date must look like 20261201T170000Z (got \(text))") }
        // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
        let yy = mo <= 2 ? y - 1 : y
        let era = yy / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + h * 3600 + mi * 60 + s))
    }

    /// A date as `X-Amz-Date` writes it.
    public static func format(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func p(_ v: Int?, _ w: Int) -> String {
            let s = String(v ?? 0)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(p(c.year, 4))\(p(c.month, 2))\(p(c.day, 2))T\(p(c.hour, 2))\(p(c.minute, 2))\(p(c.second, 2))Z"
    }

    // MARK: Canonical request

    /// The canonical request of SigV4 for services other than S3: the path URI-encoded once
    /// more as sent (so `%3A` is signed as `%253A`), the query sorted and strictly encoded,
    /// the signed headers with trimmed values.
    static func canonicalRequest(
        _ request: Request, query: [(name: String, value: String)], signedHeaders: [String], payload: String, excludeSignature: Bool
    ) -> String {
        let path = request.rawPath.isEmpty ? "/" : request.rawPath
        let canonicalPath = uriEncode(normalizePath(path), keepSlash: true)
        var pairs: [(String, String)] = []
        for item in query where !excludeSignature || item.name != "X-Amz-Signature" {
            pairs.append((uriEncode(item.name, keepSlash: false), uriEncode(item.value, keepSlash: false)))
        }
        pairs.sort { (a: (String, String), b: (String, String)) -> Bool in a.0 == b.0 ? a.1 < b.1 : a.0 < b.0 }
        let canonicalQuery = pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        var headers = ""
        for name in signedHeaders {
            let values = (request.headers[name] ?? []).map(trimValue)
            headers += "\(name):\(values.joined(separator: ","))\n"
        }
        return "\(request.method)\n\(canonicalPath)\n\(canonicalQuery)\n\(headers)\n\(signedHeaders.joined(separator: ";"))\n\(payload)"
    }

    /// Removes `.` and `..` segments and repeated slashes, as the SDKs do before signing.
    static func normalizePath(_ path: String) -> String {
        var out: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                _ = out.popLast()
                continue
            }
            out.append(segment)
        }
        var result = "/" + out.joined(separator: "/")
        if path.hasSuffix("/") && result != "/" { result += "/" }
        return result
    }

    static func trimValue(_ value: String) -> String {
        var out = ""
        var space = false
        for ch in value.trimmingCharacters(in: .whitespaces) {
            if ch == " " || ch == "\t" {
                space = true
            } else {
                if space { out.append(" ") }
                space = false
                out.append(ch)
            }
        }
        return out
    }

    /// The query's pairs, percent-decoded (`+` stays `+`, as the SDKs encode spaces as `%20`).
    static func parseQuery(_ raw: String) -> [(name: String, value: String)] {
        guard !raw.isEmpty else { return [] }
        return raw.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            if let eq = pair.firstIndex(of: "=") {
                return (percentDecode(pair[..<eq]), percentDecode(pair[pair.index(after: eq)...]))
            }
            return (percentDecode(pair), "")
        }
    }

    static func percentDecode(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count)
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// RFC 3986 encoding: every byte but `A-Z a-z 0-9 - _ . ~` (and `/` when kept) as `%XX`.
    static func uriEncode(_ s: String, keepSlash: Bool) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(b)
            case UInt8(ascii: "/") where keepSlash:
                out.append(b)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(b >> 4)])
                out.append(hexDigits[Int(b & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Keys and hashes

    /// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`
    public static func signingKey(secret: String, date: String, region: String, service: String) -> SymmetricKey {
        func hmac(_ key: SymmetricKey, _ text: String) -> SymmetricKey {
            SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key)))
        }
        let kDate = hmac(SymmetricKey(data: Data("AWS4\(secret)".utf8)), date)
        return hmac(hmac(hmac(kDate, region), service), "aws4_request")
    }

    /// The signature of a string to sign (for clients and tests).
    public static func signature(stringToSign: String, signingKey: SymmetricKey) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey))
    }

    public static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in digest {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func sha256Hex(_ text: String) -> String { hex(SHA256.hash(data: Data(text.utf8))) }

    static func bytes(hex: String) -> Data? {
        let u = Array(hex.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out = Data(capacity: u.count / 2)
        var i = 0
        while i < u.count {
            guard let v = UInt8(String(decoding: u[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(v)
            i += 2
        }
        return out
    }

    /// SHA-256 of nothing: the payload hash of a request without a body.
    public static let emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
