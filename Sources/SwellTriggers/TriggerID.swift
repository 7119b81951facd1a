/// Names one trigger: the function it belongs to and its name there.
public struct TriggerID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var function: String
    public var name: String

    public init(namespace: String, function: String, name: String) {
        self.namespace = namespace
        self.function = function
        self.name = name
    }

    /// `namespace/function/name`, the key of its stored state.
    public var description: String { "\(namespace)/\(function)/\(name)" }

    /// The consumer group a Kafka trigger commits to unless its config names one.
    public var defaultGroupID: String { "swell-\(namespace)-\(function)-\(name)" }

    public static func < (a: TriggerID, b: TriggerID) -> Bool {
        (a.namespace, a.function, a.name) < (b.namespace, b.function, b.name)
    }
}
