import Foundation
import Hummingbird
import SwellInvoker
import SwellModel
import SwellStore

/// Keys, identity, logs and invocation records.
struct AdminRoutes {
    let control: ControlPlane
    let catalog: Catalog
    let records: any RecordStore
    let logs: any LogStorage
    let hub: LogHub
    let writer: RecordWriter

    func register(on group: RouterGroup<SwellRequestContext>) {
        group.get("whoami") { _, ctx in
            let p = try ctx.requirePrincipal()
            return try JSONBody.response(["namespace": p.namespace, "role": p.role.rawValue, "keyId": p.keyID])
        }
        group.post("namespaces/:ns/keys") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .admin)
            let body = try FieldReader(try await JSONBody.read(request), path: "")
            try body.rejectUnknown(["role", "name"])
            let roleName = try body.string("role") ?? "developer"
            guard let role = Role(rawValue: roleName) else {
                throw SwellError.invalid("role", "must be admin, developer or invoker (got \"\(roleName)\")")
            }
            let name = try body.string("name") ?? ""
            guard name.count <= 64 else { throw SwellError.invalid("name", "must be at most 64 characters") }
            let (record, plaintext) = try await control.createKey(namespace: ns, role: role, name: name)
            AuditNote.current?.set("keyId", .string(record.id))
            return try JSONBody.response(API.KeyInfo(record, plaintext: plaintext), status: .created)
        }
        group.get("namespaces/:ns/keys") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .admin)
            return try JSONBody.response(["keys": catalog.keys(namespace: ns).map { API.KeyInfo($0) }])
        }
        group.delete("namespaces/:ns/keys/:id") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .admin)
            try await control.revokeKey(namespace: ns, id: ctx.parameters.get("id") ?? "")
            return Response(status: .noContent)
        }
        group.get("namespaces/:ns/functions/:name/logs") { request, ctx in
            let (ns, name) = try names(ctx)
            _ = try ctx.authorize(ns, .developer)
            guard catalog.function(ns, name) != nil else { throw SwellError.notFound("function \(name) does not exist in namespace \(ns)") }
            let q = request.uri.queryParameters
            let after = try int(q.get("after"), field: "after", range: 0...Int.max) ?? 0
            let limit = try int(q.get("limit"), field: "limit", range: 1...10_000) ?? 1000
            let wait = try int(q.get("wait"), field: "wait", range: 0...30) ?? 0
            let newest = try bool(q.get("newest"), field: "newest") ?? false
            var since: Date?
            if let raw = q.get("since") {
                guard let date = AsyncInvoke.parseTime(String(raw)) else {
                    throw SwellError.invalid("since", "must be an RFC 3339 time such as 2026-12-01T14:00:00Z (got \"\(raw)\")")
                }
                since = date
            }
            let requestID = q.get("requestId")
            let query = LogQuery(namespace: ns, function: name, after: Int64(after), limit: limit, requestID: requestID, since: since, newest: newest)
            var lines = try await logs.lines(query)
            // Long poll in slices of at most a second, so a line stored between the query and
            // the wait is never missed for longer than that.
            let deadline = ContinuousClock.now + .seconds(wait)
            while lines.isEmpty && ContinuousClock.now < deadline {
                await hub.waitForLines(namespace: ns, function: name, timeout: min(.seconds(1), deadline - ContinuousClock.now))
                lines = try await logs.lines(query)
            }
            struct Page: Encodable {
                var lines: [API.LogLineInfo]
                var next: Int64
                var dropped: API.LogDropsInfo
            }
            let dropped = try await logs.drops(namespace: ns, function: name)
            return try JSONBody.response(Page(
                lines: lines.map(API.LogLineInfo.init), next: lines.last?.id ?? Int64(after), dropped: API.LogDropsInfo(dropped)))
        }
        group.get("namespaces/:ns/functions/:name/invocations") { request, ctx in
            let (ns, name) = try names(ctx)
            _ = try ctx.authorize(ns, .developer)
            guard catalog.function(ns, name) != nil else { throw SwellError.notFound("function \(name) does not exist in namespace \(ns)") }
            let limit = try int(request.uri.queryParameters.get("limit"), field: "limit", range: 1...1000) ?? 50
            await writer.flush()
            return try JSONBody.response(["invocations": try await records.invocations(namespace: ns, function: name, limit: limit).map(API.InvocationInfo.init)])
        }
    }
}

/// Reads a boolean query parameter (`true` or `false`), naming the parameter on error.
func bool(_ raw: String?, field: String) throws(SwellError) -> Bool? {
    guard let raw else { return nil }
    switch raw {
    case "true": return true
    case "false": return false
    default: throw SwellError.invalid(field, "must be true or false (got \"\(raw)\")")
    }
}

/// Reads an integer query parameter within `range`, naming the parameter on error.
func int(_ raw: String?, field: String, range: ClosedRange<Int>) throws(SwellError) -> Int? {
    guard let raw else { return nil }
    guard let n = Int(raw), range.contains(n) else {
        throw SwellError.invalid(field, "must be an integer between \(range.lowerBound) and \(range.upperBound) (got \"\(raw)\")")
    }
    return n
}
