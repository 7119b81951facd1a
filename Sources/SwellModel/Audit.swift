import Foundation

/// A control-plane change recorded in the audit log.
public enum AuditAction: String, Sendable, Codable, CaseIterable {
    case functionDeploy = "function.deploy"
    case functionDelete = "function.delete"
    case functionPublish = "function.publish"
    case aliasPut = "alias.put"
    case aliasDelete = "alias.delete"
    case manifestDeploy = "namespace.deploy"
    case codeUpload = "code.upload"
    case keyCreate = "key.create"
    case keyRevoke = "key.revoke"
    case triggerPause = "trigger.pause"
    case triggerResume = "trigger.resume"
    case taskStop = "task.stop"
    case taskRetry = "task.retry"
    case limitsPut = "limits.put"
    case pricesPut = "prices.put"
    case workflowDeploy = "workflow.deploy"
    case workflowDelete = "workflow.delete"
    case workflowPublish = "workflow.publish"
    case workflowAliasPut = "workflow.alias.put"
    case workflowAliasDelete = "workflow.alias.delete"
    case executionStop = "execution.stop"
    case executionRedrive = "execution.redrive"
    /// A changing request of the API that no entry above names (recorded with its method and route).
    case other = "other"

    /// What a route records: its action, and the path parameter that names its target.
    public struct Route: Sendable, Hashable {
        public var action: AuditAction
        /// The path parameter naming the target (nil: none, e.g. prices).
        public var target: String?
        /// Whether the request body (a small JSON mapping) is recorded as the entry's details.
        public var recordsBody: Bool
    }

    /// The audited action of a request by method and route pattern (Hummingbird's
    /// `endpointPath`, e.g. `/v1/namespaces/{ns}/functions/{name}`); nil for reads and for the
    /// data plane (invocations, task submissions, object-store notifications).
    public static func classify(method: String, route: String) -> Route? {
        guard ["POST", "PUT", "PATCH", "DELETE"].contains(method) else { return nil }
        let ns = "/v1/namespaces/{ns}"
        switch (method, route) {
        case ("PUT", "\(ns)/functions/{name}"): return Route(action: .functionDeploy, target: "name", recordsBody: false)
        case ("DELETE", "\(ns)/functions/{name}"): return Route(action: .functionDelete, target: "name", recordsBody: false)
        case ("POST", "\(ns)/functions/{name}/versions"): return Route(action: .functionPublish, target: "name", recordsBody: true)
        case ("PUT", "\(ns)/functions/{name}/aliases/{alias}"): return Route(action: .aliasPut, target: "alias", recordsBody: true)
        case ("DELETE", "\(ns)/functions/{name}/aliases/{alias}"): return Route(action: .aliasDelete, target: "alias", recordsBody: false)
        case ("POST", "\(ns)/deploy"): return Route(action: .manifestDeploy, target: nil, recordsBody: false)
        case ("PUT", "\(ns)/code/{sha}"): return Route(action: .codeUpload, target: "sha", recordsBody: false)
        case ("POST", "\(ns)/keys"): return Route(action: .keyCreate, target: nil, recordsBody: true)
        case ("DELETE", "\(ns)/keys/{id}"): return Route(action: .keyRevoke, target: "id", recordsBody: false)
        case ("POST", "\(ns)/functions/{name}/triggers/{trigger}/pause"): return Route(action: .triggerPause, target: "trigger", recordsBody: false)
        case ("POST", "\(ns)/functions/{name}/triggers/{trigger}/resume"): return Route(action: .triggerResume, target: "trigger", recordsBody: false)
        case ("POST", "\(ns)/tasks/{id}/stop"): return Route(action: .taskStop, target: "id", recordsBody: false)
        case ("POST", "\(ns)/tasks/{id}/retry"): return Route(action: .taskRetry, target: "id", recordsBody: false)
        case ("PUT", "\(ns)/async-limits"): return Route(action: .limitsPut, target: nil, recordsBody: true)
        case ("PUT", "/v1/prices"): return Route(action: .pricesPut, target: nil, recordsBody: true)
        case ("PUT", "\(ns)/workflows/{name}"): return Route(action: .workflowDeploy, target: "name", recordsBody: false)
        case ("DELETE", "\(ns)/workflows/{name}"): return Route(action: .workflowDelete, target: "name", recordsBody: false)
        case ("POST", "\(ns)/workflows/{name}/versions"): return Route(action: .workflowPublish, target: "name", recordsBody: true)
        case ("PUT", "\(ns)/workflows/{name}/aliases/{alias}"): return Route(action: .workflowAliasPut, target: "alias", recordsBody: true)
        case ("DELETE", "\(ns)/workflows/{name}/aliases/{alias}"): return Route(action: .workflowAliasDelete, target: "alias", recordsBody: false)
        case ("POST", "\(ns)/workflows/{name}/executions/{execution}/stop"):
            return Route(action: .executionStop, target: "execution", recordsBody: false)
        case ("POST", "\(ns)/workflows/{name}/executions/{execution}/redrive"):
            return Route(action: .executionRedrive, target: "execution", recordsBody: false)
        // The data plane: too frequent to audit, and recorded elsewhere (invocations, tasks).
        case ("POST", "\(ns)/functions/{name}/invoke"), ("POST", "\(ns)/functions/{name}/tasks"), ("POST", "\(ns)/object-events"),
            ("POST", "\(ns)/workflows/{name}/executions"), ("POST", "\(ns)/workflow-tasks/{verb}"):
            return nil
        default: return Route(action: .other, target: nil, recordsBody: false)
        }
    }
}

/// One entry of the audit log: who changed what, when and from where.
public struct AuditEntry: Sendable, Hashable {
    /// Store-assigned, increasing (0 until stored).
    public var id: Int64
    public var time: Date
    public var keyID: String
    public var role: Role
    /// The caller's IP address as the server saw it.
    public var address: String
    public var namespace: String
    public var action: AuditAction
    /// The function, alias, key, trigger or task the change was about ("" when none).
    public var target: String
    /// What changed (fields, versions, settings); never secrets such as keys or environment values.
    public var details: ConfigValue

    public init(
        id: Int64 = 0, time: Date, keyID: String, role: Role, address: String, namespace: String, action: AuditAction, target: String,
        details: ConfigValue
    ) {
        self.id = id
        self.time = time
        self.keyID = keyID
        self.role = role
        self.address = address
        self.namespace = namespace
        self.action = action
        self.target = target
        self.details = details
    }
}
