import Foundation
import Hummingbird
import NIOCore
import SwellModel
import SwellTriggers

/// `/v1/namespaces/{ns}/triggers` (list), `…/functions/{fn}/triggers/{name}` (get, pause,
/// resume) and `POST /v1/namespaces/{ns}/object-events`, where S3-compatible stores send
/// their event notifications.
struct TriggerRoutes {
    let triggers: TriggerManager

    /// Notifications larger than this are refused (413): S3 sends one record per notification.
    static let maxNotificationBytes = 1 << 20

    func register(on group: RouterGroup<SwellRequestContext>) {
        group.get("namespaces/:ns/triggers") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let function = request.uri.queryParameters.get("function").map { String($0) }
            return try JSONBody.response(["triggers": await triggers.list(namespace: ns, function: function)])
        }
        group.get("namespaces/:ns/functions/:name/triggers/:trigger") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            return try JSONBody.response(try await triggers.get(namespace: ns, function: functionName(ctx), name: ctx.parameters.get("trigger") ?? ""))
        }
        for (action, paused) in [("pause", true), ("resume", false)] {
            group.post("namespaces/:ns/functions/:name/triggers/:trigger/\(action)") { _, ctx in
                let ns = try namespace(ctx)
                _ = try ctx.authorize(ns, .developer)
                return try JSONBody.response(try await triggers.setPaused(
                    namespace: ns, function: functionName(ctx), name: ctx.parameters.get("trigger") ?? "", paused: paused))
            }
        }
        group.post("namespaces/:ns/object-events") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .invoker)
            var request = request
            let body = try await JSONBody.collect(&request, limit: Self.maxNotificationBytes)
            let records = try ObjectEventRecord.parse(Data(body.readableBytesView))
            let outcome = await triggers.objectEvents(namespace: ns, records: records)
            return try JSONBody.response(outcome, status: outcome.errors.isEmpty ? .accepted : .serviceUnavailable)
        }
    }

    func functionName(_ ctx: SwellRequestContext) throws(SwellError) -> String {
        let name = ctx.parameters.get("name") ?? ""
        guard Names.isFunctionName(name) else { throw SwellError.invalid("function", "is not a valid function name (got \"\(name)\")") }
        return name
    }
}
