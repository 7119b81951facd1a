import Crypto
import Foundation
import Hummingbird
import SwellInvoker
import SwellModel

/// API keys: `swk_` and 48 hex digits. Only their SHA-256 is stored.
enum APIKeys {
    static func generate() -> String {
        var bytes = [UInt8](repeating: 0, count: 24)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        return "swk_" + bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// Every `/v1` request hashes its key: hex digits without `String(format:)` (which cost
    /// ~5 % of an async enqueue's CPU).
    static func hash(_ key: String) -> String {
        SigV4.hex(SHA256.hash(data: Data(key.utf8)))
    }

    static func newID() -> String {
        "k_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }

    /// The principal for an `Authorization` header, from the in-memory catalog.
    static func principal(authorization: String?, catalog: Catalog) -> Principal? {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return nil }
        let key = authorization.dropFirst(7).trimmingCharacters(in: .whitespaces)
        guard key.hasPrefix("swk_"), let record = catalog.key(hash: hash(key)) else { return nil }
        return Principal(keyID: record.id, namespace: record.namespace, role: record.role)
    }
}

/// Authenticates every `/v1` request (but health and the API document) by its bearer key.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = SwellRequestContext
    let catalog: Catalog

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let principal = APIKeys.principal(authorization: request.headers[.authorization], catalog: catalog) else {
            throw SwellError(.unauthorized, request.headers[.authorization] == nil
                ? "missing API key (send Authorization: Bearer KEY)"
                : "unknown or revoked API key")
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }
}
