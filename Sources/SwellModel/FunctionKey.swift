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
