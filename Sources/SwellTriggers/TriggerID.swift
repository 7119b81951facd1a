/// What a trigger starts: a function's async invocation, or a workflow's execution.
public enum TriggerTargetKind: String, Hashable, Sendable, Comparable {
    case function, workflow

    public static func < (a: TriggerTargetKind, b: TriggerTargetKind) -> Bool { a.rawValue < b.rawValue }
}

/// Names one trigger: the function (or workflow) it belongs to and its name there.
public struct TriggerID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var namespace: String
    /// The function's name, or the workflow's (`kind` says which).
    public var function: String
    public var name: String
    public var kind: TriggerTargetKind

    public init(namespace: String, function: String, name: String) {
        self.init(namespace: namespace, target: function, kind: .function, name: name)
    }

    public init(namespace: String, workflow: String, name: String) {
        self.init(namespace: namespace, target: workflow, kind: .workflow, name: name)
    }

    init(namespace: String, target: String, kind: TriggerTargetKind, name: String) {
        self.namespace = namespace
        self.function = target
        self.kind = kind
        self.name = name
    }

    /// The function's or workflow's name.
    public var target: String { function }

    /// `namespace/function/name` (`namespace/workflow:NAME/name` for a workflow's), the key
    /// of its stored state. Names hold no `:` or `/`, so the two kinds never share a key.
    public var description: String {
        switch kind {
        case .function: "\(namespace)/\(function)/\(name)"
        case .workflow: "\(namespace)/workflow:\(function)/\(name)"
        }
    }

    /// The consumer group a Kafka trigger commits to unless its config names one.
    public var defaultGroupID: String {
        switch kind {
        case .function: "swell-\(namespace)-\(function)-\(name)"
        case .workflow: "swell-\(namespace)-workflow-\(function)-\(name)"
        }
    }

    public static func < (a: TriggerID, b: TriggerID) -> Bool {
        (a.namespace, a.kind, a.function, a.name) < (b.namespace, b.kind, b.function, b.name)
    }
}
