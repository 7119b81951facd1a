import Foundation
import Hummingbird
import NIOCore
import SwellModel
import SwellTriggers

/// `/v1/namespaces/{ns}/triggers` (list), `…/functions/{fn}/triggers/{name}` and
/// `…/workflows/{wf}/triggers/{name}` (get, pause, resume) and `POST /v1/namespaces/{ns}/object-events`, where S3-compatible stores send
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
            let workflow = request.uri.queryParameters.get("workflow").map { String($0) }
            return try JSONBody.response(["triggers": await triggers.list(namespace: ns, function: function, workflow: workflow)])
        }
        // A function's triggers and a workflow's, alike: get, pause, resume.
        for kind in ["functions", "workflows"] {
            group.get("namespaces/:ns/\(kind)/:name/triggers/:trigger") { _, ctx in
                try await status(ctx, kind, setting: nil)
            }
            for (action, paused) in [("pause", true), ("resume", false)] {
                group.post("namespaces/:ns/\(kind)/:name/triggers/:trigger/\(action)") { _, ctx in
                    try await status(ctx, kind, setting: paused)
                }
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

    /// A function's (`kind` "functions") or a workflow's trigger's status, after pausing or
    /// resuming it when `setting` is given.
    func status(_ ctx: SwellRequestContext, _ kind: String, setting paused: Bool?) async throws -> Response {
        let ns = try namespace(ctx)
        _ = try ctx.authorize(ns, .developer)
        let name = try targetName(ctx, kind)
        let trigger = ctx.parameters.get("trigger") ?? ""
        let status: TriggerStatus
        switch (kind == "functions", paused) {
        case (true, nil): status = try await triggers.get(namespace: ns, function: name, name: trigger)
        case (false, nil): status = try await triggers.get(namespace: ns, workflow: name, name: trigger)
        case (true, let p?): status = try await triggers.setPaused(namespace: ns, function: name, name: trigger, paused: p)
        case (false, let p?): status = try await triggers.setPaused(namespace: ns, workflow: name, name: trigger, paused: p)
        }
        return try JSONBody.response(status)
    }

    func targetName(_ ctx: SwellRequestContext, _ kind: String) throws(SwellError) -> String {
        let name = ctx.parameters.get("name") ?? ""
        let field = kind == "functions" ? "function" : "workflow"
        guard Names.isFunctionName(name) else { throw SwellError.invalid(field, "is not a valid \(field) name (got \"\(name)\")") }
        return name
    }
}
