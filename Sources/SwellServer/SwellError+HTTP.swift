import Foundation
import HTTPTypes
import Hummingbird
import SwellModel

extension SwellError: HTTPResponseError {
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: code.httpStatus) }

    /// `{"error": {"code", "message", "field"?, "problems"?}}` with the code's status; `problems`
    /// lists `{"field", "message"}` when one request had several mistakes (`message` then
    /// lists them too, one per line).
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: jsonBody)))
    }

    var jsonBody: Data {
        var error: [String: Any] = ["code": code.rawValue, "message": description]
        if let field { error["field"] = field }
        if !problems.isEmpty {
            error["problems"] = problems.map { p -> [String: String] in
                var entry = ["message": p.message]
                if let field = p.field { entry["field"] = field }
                return entry
            }
        }
        // Unescaped slashes: `no function URL at /fn/…`, not `\/fn\/…`.
        return (try? JSONSerialization.data(withJSONObject: ["error": error], options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }
}

/// Turns any error a route throws into Swell's error body, so that nothing leaks as a bare 500.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as SwellError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            let code: SwellError.Code
            switch error.status.code {
            case 400: code = .invalidRequest
            case 401: code = .unauthorized
            case 403: code = .forbidden
            case 404: code = .notFound
            case 413: code = .payloadTooLarge
            default: code = error.status.code >= 500 ? .internal : .invalidRequest
            }
            let message = error.body ?? (error.status.code == 413 ? "request body too large" : error.status.reasonPhrase)
            return try SwellError(code, message).response(from: request, context: context)
        } catch {
            context.logger.error("unexpected error", metadata: ["error": "\(error)"])
            return try SwellError(.internal, "internal error: \(error)").response(from: request, context: context)
        }
    }
}
