import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwellInvoker
import SwellModel
import SwellRuntime

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
        let ns = ctx.parameters.get("ns") ?? ""
        let name = ctx.parameters.get("name") ?? ""
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
        let rest = ctx.parameters.getCatchAll().joined(separator: "/")
        let event = FunctionURLEvent.encode(request: request, body: body, rawPath: "/" + rest, namespace: ns, remote: ctx.remoteAddress)
        let response = try await invoker.invoke(
            namespace: ns, name: name, qualifier: try Qualifier(parsing: url.qualifier), payload: event,
            traceID: request.headers[HTTPField.Name("X-Amzn-Trace-Id")!])
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

    /// Builds the event JSON by hand: one pass, no intermediate objects.
    static func encode(request: Request, body: ByteBuffer, rawPath: String, namespace: String, remote: SocketAddress?) -> ByteBuffer {
        var headerValues: [(String, [String])] = []
        var index: [String: Int] = [:]
        var cookies: [String] = []
        if let authority = request.head.authority {
            index["host"] = 0
            headerValues.append(("host", [authority]))
        }
        for field in request.headers {
            let name = field.name.canonicalName
            if name == "cookie" {
                cookies += field.value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                continue
            }
            if let i = index[name] { headerValues[i].1.append(field.value) } else {
                index[name] = headerValues.count
                headerValues.append((name, [field.value]))
            }
        }
        let rawQuery = request.uri.query ?? ""
        var query: [(String, [String])] = []
        var qIndex: [String: Int] = [:]
        for (k, v) in request.uri.queryParameters {
            let key = String(k), value = String(v)
            if let i = qIndex[key] { query[i].1.append(value) } else {
                qIndex[key] = query.count
                query.append((key, [value]))
            }
        }
        let now = Date()
        let epochMs = Int64(now.timeIntervalSince1970 * 1000)
        let method = request.method.rawValue
        let text = isText(request.headers[.contentType])
        var json = "{\"version\":\"2.0\",\"routeKey\":\"$default\",\"rawPath\":" + JSONText.quote(rawPath)
        json += ",\"rawQueryString\":" + JSONText.quote(rawQuery)
        if !cookies.isEmpty { json += ",\"cookies\":[" + cookies.map(JSONText.quote).joined(separator: ",") + "]" }
        json += ",\"headers\":{" + headerValues.map { JSONText.quote($0.0) + ":" + JSONText.quote($0.1.joined(separator: ",")) }.joined(separator: ",") + "}"
        if !query.isEmpty {
            json += ",\"queryStringParameters\":{" + query.map { JSONText.quote($0.0) + ":" + JSONText.quote($0.1.joined(separator: ",")) }.joined(separator: ",") + "}"
        }
        let sourceIP = remote?.ipAddress ?? "127.0.0.1"
        let requestID = UUID().uuidString.lowercased()
        json += ",\"requestContext\":{\"accountId\":" + JSONText.quote(namespace) + ",\"apiId\":" + JSONText.quote(namespace)
        json += ",\"domainName\":" + JSONText.quote(request.head.authority ?? "localhost")
        json += ",\"http\":{\"method\":" + JSONText.quote(method) + ",\"path\":" + JSONText.quote(rawPath)
        json += ",\"protocol\":\"HTTP/1.1\",\"sourceIp\":" + JSONText.quote(sourceIP)
        json += ",\"userAgent\":" + JSONText.quote(request.headers[.userAgent] ?? "") + "}"
        json += ",\"requestId\":" + JSONText.quote(requestID) + ",\"routeKey\":\"$default\",\"stage\":\"$default\""
        json += ",\"time\":" + JSONText.quote(Timestamps.iso8601(now)) + ",\"timeEpoch\":\(epochMs)}"
        if body.readableBytes > 0 {
            if text, let s = body.getString(at: body.readerIndex, length: body.readableBytes), s.utf8.count == body.readableBytes {
                json += ",\"body\":" + JSONText.quote(s) + ",\"isBase64Encoded\":false}"
            } else {
                json += ",\"body\":\"" + Data(body.readableBytesView).base64EncodedString() + "\",\"isBase64Encoded\":true}"
            }
        } else {
            json += ",\"isBase64Encoded\":false}"
        }
        return ByteBuffer(string: json)
    }

    /// Maps a handler's return value back to HTTP: `{statusCode, headers, cookies, body,
    /// isBase64Encoded}` when it has a `statusCode`, otherwise the value itself as a JSON body.
    static func decodeResponse(_ result: ByteBuffer, headers: inout HTTPFields) -> Response {
        let data = Data(result.readableBytesView)
        guard let object = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) as? [String: Any],
            let status = (object["statusCode"] as? NSNumber)?.intValue ?? (object["statusCode"] as? String).flatMap({ Int($0) }),
            (100...599).contains(status)
        else {
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: result))
        }
        if let h = object["headers"] as? [String: Any] {
            for (k, v) in h {
                // The platform's own headers cannot be overridden by the function.
                guard let name = HTTPField.Name(k), !k.lowercased().hasPrefix("x-swell-") else { continue }
                let value: String
                switch v {
                case let s as String: value = s
                case let b as Bool: value = b ? "true" : "false"
                default: value = "\(v)"
                }
                headers[name] = value
            }
        }
        if let cookies = object["cookies"] as? [String] {
            for c in cookies { headers.append(HTTPField(name: .setCookie, value: c)) }
        }
        var body = ByteBuffer()
        if let s = object["body"] as? String {
            if (object["isBase64Encoded"] as? Bool) == true, let decoded = Data(base64Encoded: s) {
                body = ByteBuffer(data: decoded)
            } else {
                body = ByteBuffer(string: s)
            }
        } else if let b = object["body"], !(b is NSNull) {
            body = ByteBuffer(data: (try? JSONSerialization.data(withJSONObject: b, options: [.fragmentsAllowed])) ?? Data())
        }
        if headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: body))
    }
}
