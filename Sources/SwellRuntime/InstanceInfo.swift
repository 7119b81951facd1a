import SwellModel

/// Identifies a function version whose instances share a pool.
public struct FunctionKey: Sendable, Hashable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    public var version: VersionRef

    public init(namespace: String, name: String, version: VersionRef) {
        self.namespace = namespace
        self.name = name
        self.version = version
    }

    public var description: String { "\(namespace)/\(name):\(version)" }
}

/// What a log line or a metric needs to know about the instance it came from.
public struct InstanceInfo: Sendable, Hashable {
    public var function: FunctionKey
    /// `i-` and 12 hex digits, unique for the life of the server.
    public var name: String
    public var memoryMB: Int
}
