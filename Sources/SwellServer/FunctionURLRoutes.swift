import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwellInvoker
import SwellModel
import SwellRuntime
import Tracing

/// `ANY /fn/{ns}/{name}/…`: function URLs, mapped to and from the Lambda function-URL
/// (API Gateway HTTP API v2.0) event and response formats.
struct FunctionURLRoutes {
    let invoker: Invoker
    let catalog: Catalog

    static let methods: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch, .head, .options]

    func register(on router: Router<SwellRequestContext>) {
        for method in Self.methods {
            router.on("fn/:ns/:name", method: method) { request, ctx in try await handle(request, ctx) }
            router.on("fn/:ns/:name/**", method: method) { request, ctx in try await handle(request, ctx) }
        }
    }

    func handle(_ request: Request, _ ctx: SwellRequestContext) async throws -> Response {
        let target = FunctionURLTarget(
            namespace: ctx.parameters.get("ns") ?? "", name: ctx.parameters.get("name") ?? "",
            rest: ctx.parameters.getCatchAll().joined(separator: "/"))
        return try await respond(request, to: target, remote: ctx.remoteAddress)
    }

    /// The answer to a request that `FunctionURLFront` took off the router: the same
    /// middlewares the router runs for these routes (tracing when on, errors), then the route.
    /// Never throws: an error is an answer, as the application makes it.
    func respondAsRouted(_ request: Request, to target: FunctionURLTarget, context: SwellRequestContext) async -> Response {
        context.coreContext.endpointPath.value = target.routePath
        let errors = ErrorMiddleware<SwellRequestContext>()
        do {
            if invoker.tracing {
                return try await SwellServer.requestTracing().handle(request, context: context) { request, context in
                    try await errors.handle(request, context: context) { request, context in
                        try await respond(request, to: target, remote: context.remoteAddress)
                    }
                }
            }
            return try await errors.handle(request, context: context) { request, context in
                try await respond(request, to: target, remote: context.remoteAddress)
            }
        } catch {
            return Response(status: .internalServerError)
        }
    }

    func respond(_ request: Request, to target: FunctionURLTarget, remote: SocketAddress?) async throws -> Response {
        let ns = target.namespace
        let name = target.name
        guard let function = catalog.function(ns, name), let url = function.config.url else {
            let why = catalog.function(ns, name) == nil ? "no function \(name) in namespace \(ns)" : "function \(name) has no url"
            throw SwellError.notFound("no function URL at /fn/\(ns)/\(name): \(why) (add url: to the function in swell.yaml, e.g. url: { auth: none }, and deploy)")
        }
        if url.auth == .key {
            guard let p = APIKeys.principal(authorization: request.headers[.authorization], catalog: catalog) else {
                throw SwellError(.unauthorized, "this function URL needs an API key (Authorization: Bearer KEY)")
            }
            guard p.namespace == ns || p.isPlatformAdmin else {
                throw SwellError(.forbidden, "this key belongs to namespace \"\(p.namespace)\"")
            }
        }
        var request = request
        let body = try await JSONBody.collect(&request, limit: Limits.maxPayloadBytes)
        let rest = target.rest
        // Tracing on: the function sees the request's span as its `traceparent` header.
        let traceParent = invoker.tracing ? ServiceContext.current.flatMap(SwellTracing.traceParent(of:))?.header : nil
        let event = FunctionURLEvent.encode(
            request: request, body: body, rawPath: "/" + rest, namespace: ns, remote: remote,
            forwardAuthorization: url.auth == .none, traceParent: traceParent)
        let response = try await invoker.invoke(
            namespace: ns, name: name, qualifier: try Qualifier(parsing: url.qualifier), payload: event,
            traceID: request.headers[.amznTraceID])
        var headers = InvokeRoutes.headers(for: response)
        switch response.result {
        case .success(let result):
            return FunctionURLEvent.decodeResponse(result, headers: &headers)
        case .failure(let kind, let error):
            headers[.swellFunctionError] = kind.rawValue
            headers[.contentType] = "application/json"
            return Response(status: .badGateway, headers: headers, body: .init(byteBuffer: ByteBuffer(data: (try? JSONBody.encoder.encode(error)) ?? Data())))
        }
    }
}

extension HTTPField.Name {
    static let amznTraceID = HTTPField.Name("X-Amzn-Trace-Id")!
    static let traceparent = HTTPField.Name("traceparent")!
}

/// The function-URL event and response mapping.
enum FunctionURLEvent {
    /// Content types whose bodies are passed as text; everything else is base64.
    static func isText(_ contentType: String?) -> Bool {
        guard let ct = contentType?.lowercased() else { return true }
        let type = ct.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return type.hasPrefix("text/") || type == "application/json" || type == "application/xml"
            || type == "application/javascript" || type == "application/x-www-form-urlencoded"
            || type.hasSuffix("+json") || type.hasSuffix("+xml")
    }

    /// Builds the event JSON straight into bytes: one pass, no intermediate strings or objects.
    ///
    /// The caller's `Authorization` never reaches the function when it carries a Swell key (a
    /// URL with `auth: key` consumes it; on an `auth: none` URL a bearer token of the
    /// function's own is passed on unless it is a Swell key).
    static func encode(
        request: Request, body: ByteBuffer, rawPath: String, namespace: String, remote: SocketAddress?,
        forwardAuthorization: Bool, traceParent: String? = nil, allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) -> ByteBuffer {
        var out = allocator.buffer(capacity: 768 + body.readableBytes * 4 / 3 + rawPath.utf8.count)
        let epochMs = Int64(Date().timeIntervalSince1970 * 1000)
        let authority = request.head.authority
        out.writeStaticString(#"{"version":"2.0","routeKey":"$default","rawPath":"#)
        out.writeJSONString(rawPath)
        out.writeStaticString(#","rawQueryString":"#)
        out.writeJSONString(request.uri.query ?? "")

        // Cookies first (their own list), then the other headers, repeated names joined by commas.
        var cookies = 0
        for field in request.headers where field.name == .cookie {
            for cookie in field.value.split(separator: ";") {
                let trimmed = cookie.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty { continue }
                out.writeStaticString(cookies == 0 ? #","cookies":["# : ",")
                out.writeJSONString(trimmed)
                cookies += 1
            }
        }
        if cookies > 0 { out.writeStaticString("]") }
        out.writeStaticString(#","headers":{"#)
        var first = true
        if let authority {
            out.writeStaticString(#""host":"#)
            out.writeJSONString(authority)
            first = false
        }
        var written: Set<HTTPField.Name> = []
        for field in request.headers where field.name != .cookie && !written.contains(field.name) {
            if field.name == .authorization && !(forwardAuthorization && !field.value.contains("swk_")) { continue }
            if traceParent != nil && field.name == .traceparent { continue }
            written.insert(field.name)
            if !first { out.writeStaticString(",") }
            first = false
            out.writeJSONString(field.name.canonicalName)
            out.writeStaticString(":")
            let values = request.headers[values: field.name]
            out.writeJSONString(values.count == 1 ? values[0] : values.joined(separator: ","))
        }
        if let traceParent {
            out.writeStaticString(first ? #""traceparent":"# : #","traceparent":"#)
            out.writeJSONString(traceParent)
        }
        out.writeStaticString("}")

        let parameters = request.uri.queryParameters
        if !parameters.isEmpty {
            var keys: [Substring] = []
            var joined: [Substring: String] = [:]
            for (k, v) in parameters {
                if let existing = joined[k] { joined[k] = existing + "," + v } else {
                    keys.append(k)
                    joined[k] = String(v)
                }
            }
            out.writeStaticString(#","queryStringParameters":{"#)
            for (i, k) in keys.enumerated() {
                if i > 0 { out.writeStaticString(",") }
                out.writeJSONString(k)
                out.writeStaticString(":")
                out.writeJSONString(joined[k]!)
            }
            out.writeStaticString("}")
        }
        out.writeStaticString(#","requestContext":{"accountId":"#)
        out.writeJSONString(namespace)
        out.writeStaticString(#","apiId":"#)
        out.writeJSONString(namespace)
        out.writeStaticString(#","domainName":"#)
        out.writeJSONString(authority ?? "localhost")
        out.writeStaticString(#","http":{"method":"#)
        out.writeJSONString(request.method.rawValue)
        out.writeStaticString(#","path":"#)
        out.writeJSONString(rawPath)
        out.writeStaticString(#","protocol":"HTTP/1.1","sourceIp":"#)
        out.writeJSONString(remote?.ipAddress ?? "127.0.0.1")
        out.writeStaticString(#","userAgent":"#)
        out.writeJSONString(request.headers[.userAgent] ?? "")
        out.writeStaticString(#"},"requestId":""#)
        out.writeRandomUUID()
        out.writeStaticString(#"","routeKey":"$default","stage":"$default","time":""#)
        out.writeISO8601(epochMs: epochMs)
        out.writeStaticString(#"","timeEpoch":"#)
        out.writeDecimal(epochMs)
        out.writeStaticString("}")
        if body.readableBytes > 0 {
            out.writeStaticString(#","body":"#)
            if isText(request.headers[.contentType]), JSONScanner.isValidUTF8(body.readableBytesView) {
                out.writeJSONString(bytes: body.readableBytesView)
                out.writeStaticString(#","isBase64Encoded":false}"#)
            } else {
                out.writeStaticString("\"")
                out.writeBase64(body.readableBytesView)
                out.writeStaticString(#"","isBase64Encoded":true}"#)
            }
        } else {
            out.writeStaticString(#","isBase64Encoded":false}"#)
        }
        return out
    }

    /// Headers a function may not set: the platform's own, and those that frame the message or
    /// the connection (hop-by-hop), which would let a response desync the client's connection.
    static func isReserved(_ lowercasedName: String) -> Bool {
        switch lowercasedName {
        case "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
            "date", "server":
            return true
        default:
            return lowercasedName.hasPrefix("x-swell-")
        }
    }

    /// Maps a handler's return value back to HTTP: `{statusCode, headers, cookies, body,
    /// isBase64Encoded}` when it has a `statusCode`, otherwise the value itself as a JSON body.
    /// The value is scanned in place, not decoded into a tree and encoded again.
    static func decodeResponse(_ result: ByteBuffer, headers: inout HTTPFields) -> Response {
        guard let mapped = try? MappedResponse(result) else {
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: result))
        }
        for (name, value) in mapped.headers {
            guard let fieldName = HTTPField.Name(name), !isReserved(fieldName.canonicalName) else { continue }
            headers[fieldName] = value
        }
        for cookie in mapped.cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        if headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return Response(status: .init(code: mapped.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: mapped.body)))
    }

    /// The parts of a function-URL response object that Swell reads.
    struct MappedResponse {
        var status: Int
        var headers: [(String, String)] = []
        var cookies: [String] = []
        var body: [UInt8] = []

        enum Failure: Error { case notAResponseObject }

        /// Throws when `result` is not an object with a `statusCode` in 100...599.
        init(_ result: ByteBuffer) throws {
            let bytes = Array(result.readableBytesView)
            var scanner = JSONScanner(bytes)
            guard scanner.peek() == UInt8(ascii: "{") else { throw Failure.notAResponseObject }
            var status: Int?
            var headers: [(String, String)] = []
            var cookies: [String] = []
            var body: [UInt8] = []
            var base64 = false
            try scanner.object { key, s throws(SwellError) in
                switch key {
                case "statusCode":
                    if s.peek() == UInt8(ascii: "\"") {
                        status = Int(try s.string())
                    } else {
                        let r = try s.value()
                        status = Int(String(decoding: bytes[r], as: UTF8.self))
                            ?? Double(String(decoding: bytes[r], as: UTF8.self)).flatMap { $0 == $0.rounded() ? Int(exactly: $0) : nil }
                    }
                case "headers":
                    guard s.peek() == UInt8(ascii: "{") else {
                        _ = try s.value()
                        return
                    }
                    try s.object { name, s throws(SwellError) in
                        switch s.peek() {
                        case UInt8(ascii: "\""): headers.append((name, try s.string()))
                        case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "n"): _ = try s.value()
                        default: headers.append((name, String(decoding: bytes[try s.value()], as: UTF8.self)))
                        }
                    }
                case "cookies":
                    guard s.peek() == UInt8(ascii: "[") else {
                        _ = try s.value()
                        return
                    }
                    try s.array { _, s throws(SwellError) in
                        if s.peek() == UInt8(ascii: "\"") { cookies.append(try s.string()) } else { _ = try s.value() }
                    }
                case "body":
                    switch s.peek() {
                    case UInt8(ascii: "\""): body = try s.stringBytes()
                    case UInt8(ascii: "n"): _ = try s.value()
                    default: body = Array(bytes[try s.value()])
                    }
                case "isBase64Encoded":
                    base64 = s.peek() == UInt8(ascii: "t")
                    _ = try s.value()
                default:
                    _ = try s.value()
                }
            }
            scanner.skipSpace()
            guard scanner.atEnd, let status, (100...599).contains(status) else { throw Failure.notAResponseObject }
            if base64, let decoded = Data(base64Encoded: Data(body)) { body = Array(decoded) }
            self.status = status
            self.headers = headers
            self.cookies = cookies
            self.body = body
        }
    }
}

extension ByteBuffer {
    /// Writes `epochMs` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), without a formatter.
    mutating func writeISO8601(epochMs: Int64) {
        let ms = Int(epochMs % 1000)
        let secs = epochMs / 1000
        let days = Int(secs / 86400)
        let rem = Int(secs % 86400)
        let (year, month, day) = CronCalendar.civil(fromDays: days)
        func two(_ v: Int) -> [UInt8] { [UInt8(ascii: "0") + UInt8(v / 10), UInt8(ascii: "0") + UInt8(v % 10)] }
        writeDecimal(year)
        writeInteger(UInt8(ascii: "-")); writeBytes(two(month))
        writeInteger(UInt8(ascii: "-")); writeBytes(two(day))
        writeInteger(UInt8(ascii: "T")); writeBytes(two(rem / 3600))
        writeInteger(UInt8(ascii: ":")); writeBytes(two(rem / 60 % 60))
        writeInteger(UInt8(ascii: ":")); writeBytes(two(rem % 60))
        writeInteger(UInt8(ascii: "."))
        writeBytes([UInt8(ascii: "0") + UInt8(ms / 100), UInt8(ascii: "0") + UInt8(ms / 10 % 10), UInt8(ascii: "0") + UInt8(ms % 10)])
        writeInteger(UInt8(ascii: "Z"))
    }

    /// Writes a random (version 4) UUID in lower case.
    mutating func writeRandomUUID() {
        writeBytes(RandomID.uuidBytes())
    }
}
