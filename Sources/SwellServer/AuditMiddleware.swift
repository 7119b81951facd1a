import Foundation
import Hummingbird
import Logging
import NIOCore
import SwellModel
import SwellStore
import Synchronization

/// What a route adds to its audit entry (the fields a deploy changed, the version it
/// published, the id of a new key), set through the task-local `AuditNote.current` that
/// `AuditMiddleware` provides around every audited request.
final class AuditNote: Sendable {
    @TaskLocal static var current: AuditNote?

    private let details = Mutex<[String: ConfigValue]>([:])

    func set(_ key: String, _ value: ConfigValue) {
        details.withLock { $0[key] = value }
    }

    var values: [String: ConfigValue] { details.withLock { $0 } }
}

/// Records every successful control-plane change of the `/v1` API in the audit log: who
/// (key id and role), when, from which address, in which namespace, what (action, target,
/// details). Added after `AuthMiddleware`, so the caller is known; the entry is stored before
/// the answer leaves, so a change the client saw acknowledged is in the log.
struct AuditMiddleware: RouterMiddleware {
    typealias Context = SwellRequestContext
    let store: any AuditStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let route = AuditAction.classify(method: request.method.rawValue, route: context.endpointPath ?? "") else {
            return try await next(request, context)
        }
        var request = request
        var details: [String: ConfigValue] = [:]
        if route.recordsBody {
            // The same bound the routes read with; the route reads the collected body again.
            let body = try await JSONBody.collect(&request, limit: 1 << 20)
            if body.readableBytes > 0, body.readableBytes <= 16 << 10,
                case .object(let fields)? = try? JSONDecoder().decode(ConfigValue.self, from: Data(body.readableBytesView))
            {
                details = fields
            }
        }
        let note = AuditNote()
        let response = try await AuditNote.$current.withValue(note) { try await next(request, context) }
        guard response.status.code < 400, let principal = context.principal else { return response }
        for (key, value) in note.values { details[key] = value }
        if route.action == .other {
            details["method"] = .string(request.method.rawValue)
            details["route"] = .string(context.endpointPath ?? "")
        }
        let entry = AuditEntry(
            time: Date(), keyID: principal.keyID, role: principal.role, address: context.remoteAddress?.ipAddress ?? "",
            namespace: context.parameters.get("ns") ?? principal.namespace, action: route.action,
            target: route.target.flatMap { context.parameters.get($0) } ?? "", details: .object(details))
        do {
            _ = try await store.append(entry)
        } catch {
            context.logger.error("cannot write the audit log", metadata: ["error": "\(error)", "action": "\(route.action.rawValue)"])
        }
        return response
    }
}

/// `GET /v1/audit`: the audit log, newest first, a page at a time.
struct AuditRoutes {
    let store: any AuditStore

    func register(on group: RouterGroup<SwellRequestContext>) {
        group.get("audit") { request, ctx in
            let p = try ctx.requirePrincipal()
            let q = request.uri.queryParameters
            var ns: String? = q.get("namespace") ?? p.namespace
            if ns == "*" {
                guard p.isPlatformAdmin else {
                    throw SwellError(.forbidden, "only an admin key of the default namespace may read every namespace (namespace=*)")
                }
                ns = nil
            } else if let n = ns {
                guard Names.isNamespaceName(n) else {
                    throw SwellError.invalid("namespace", "namespace names are 1-32 characters of a-z 0-9 - (got \"\(n)\")")
                }
                try p.authorize(namespace: n, role: .developer)
            }
            let limit = try int(q.get("limit"), field: "limit", range: 1...1000) ?? 100
            let before = try int(q.get("before"), field: "before", range: 1...Int.max).map(Int64.init)
            let entries = try await store.entries(namespace: ns, before: before, limit: limit)
            let next: String? = entries.count == limit ? entries.last.map { String($0.id) } : nil
            return try JSONBody.response(API.AuditPage(entries: entries.map(API.AuditEntryInfo.init), next: next))
        }
    }
}

extension API {
    struct AuditEntryInfo: Encodable {
        var id: String
        var time: String
        var keyId: String
        var role: String
        var address: String
        var namespace: String
        var action: String
        var target: String
        var details: ConfigValue

        init(_ e: AuditEntry) {
            id = String(e.id)
            time = Timestamps.iso8601(e.time)
            keyId = e.keyID
            role = e.role.rawValue
            address = e.address
            namespace = e.namespace
            action = e.action.rawValue
            target = e.target
            details = e.details
        }
    }

    struct AuditPage: Encodable {
        var entries: [AuditEntryInfo]
        var next: String?

        enum CodingKeys: String, CodingKey { case entries, next }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(entries, forKey: .entries)
            try c.encode(next, forKey: .next)
        }
    }
}
