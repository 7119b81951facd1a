import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwellInvoker
import SwellModel
import SwellStore
import Synchronization

/// Authenticates every request on the AWS paths by its SigV4 signature, and answers every
/// error there in AWS's shape (``AWSError``): nothing on these paths is served unsigned.
///
/// The body is collected first (its SHA-256 is part of what is signed), up to `bodyLimit`,
/// and handed on to the route already collected.
struct SigV4Middleware: RouterMiddleware {
    typealias Context = SwellRequestContext
    let catalog: Catalog
    let keys: any AWSKeyStorage
    /// The service the credential scope must name (`lambda`).
    let service: String
    let bodyLimit: Int
    let signingKeys: SigningKeyCache

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            var request = request
            let principal = try await authenticate(&request)
            var context = context
            context.principal = principal
            return try await next(request, context)
        } catch let error as AWSError {
            return try error.response(from: request, context: context)
        } catch let error as SwellError {
            return try AWSError(error).response(from: request, context: context)
        } catch let error as HTTPError {
            let code: AWSError.Code = error.status.code == 413 ? .requestTooLarge : error.status.code == 404 ? .resourceNotFound : .invalidParameterValue
            return try AWSError(code, error.status.code, error.body ?? error.status.reasonPhrase).response(from: request, context: context)
        } catch {
            context.logger.error("unexpected error on an AWS path", metadata: ["error": "\(error)"])
            return try AWSError(.service, 500, "internal error").response(from: request, context: context)
        }
    }

    func authenticate(_ request: inout Request) async throws -> Principal {
        let target = request.head.path ?? "/"
        let (rawPath, rawQuery): (Substring, Substring)
        if let q = target.firstIndex(of: "?") {
            (rawPath, rawQuery) = (target[..<q], target[target.index(after: q)...])
        } else {
            (rawPath, rawQuery) = (target[...], "")
        }
        var headers: [String: [String]] = [:]
        for field in request.headers { headers[field.name.canonicalName, default: []].append(field.value) }
        if let authority = request.head.authority { headers["host"] = [authority] }
        let sig = SigV4.Request(
            method: request.method.rawValue, rawPath: String(rawPath), rawQuery: String(rawQuery), headers: headers,
            payloadSHA256: headers["x-amz-content-sha256"]?.first ?? SigV4.emptyPayloadSHA256)
        let now = Date()
        // Everything but the body first: unsigned, malformed, stale or unknown callers are
        // refused before a byte of their body is read.
        var parsed: SigV4.Parsed
        do {
            parsed = try SigV4.parse(sig, service: service, now: now)
        } catch {
            throw AWSError(error)
        }
        guard let credential = try await keys.lookupCredential(parsed.accessKeyID), let key = catalog.key(id: credential.keyID) else {
            throw AWSError(.unrecognizedClient, 403, "The security token included in the request is invalid.")
        }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: bodyLimit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw AWSError(.requestTooLarge, 413, "Request must be smaller than \(bodyLimit) bytes for this operation")
        } catch is NIOTooManyBytesError {
            throw AWSError(.requestTooLarge, 413, "Request must be smaller than \(bodyLimit) bytes for this operation")
        }
        let payloadHash = body.readableBytes == 0
            ? SigV4.emptyPayloadSHA256 : body.withUnsafeReadableBytes { SigV4.hex(SHA256.hash(data: $0)) }
        do {
            parsed = try parsed.withPayload(payloadHash)
        } catch {
            throw AWSError(error)
        }
        let signingKey = signingKeys.key(credential: credential, date: parsed.date, region: parsed.region, service: parsed.service)
        do {
            try parsed.verify(signingKey: signingKey)
        } catch {
            throw AWSError(error)
        }
        return Principal(keyID: key.id, namespace: key.namespace, role: key.role)
    }
}

/// Derived SigV4 signing keys by access key, day, region and service: four HMACs saved on
/// every request after the first of the day. Bounded (cleared when full).
final class SigningKeyCache: Sendable {
    /// The keys' bytes (`SymmetricKey` is not `Sendable`).
    private let keys = Mutex<[String: Data]>([:])
    static let capacity = 4096

    func key(credential: AWSKeyStore.Credential, date: String, region: String, service: String) -> SymmetricKey {
        let id = "\(credential.accessKeyID)/\(date)/\(region)/\(service)"
        if let bytes = keys.withLock({ $0[id] }) { return SymmetricKey(data: bytes) }
        let key = SigV4.signingKey(secret: credential.secret, date: date, region: region, service: service)
        let bytes = key.withUnsafeBytes { Data($0) }
        keys.withLock { k in
            if k.count >= Self.capacity { k.removeAll() }
            k[id] = bytes
        }
        return key
    }
}
