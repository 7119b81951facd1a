/// What a key may do inside its namespace.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    /// Invoke functions and read their configuration.
    case invoker
    /// Everything an invoker may do, plus deploy, publish, alias, delete and read logs.
    case developer
    /// Everything, including managing keys.
    case admin

    var rank: Int {
        switch self {
        case .invoker: 0
        case .developer: 1
        case .admin: 2
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

/// Who is calling: resolved from the bearer key, in memory, on every request.
public struct Principal: Sendable, Hashable {
    public var keyID: String
    public var namespace: String
    public var role: Role

    public init(keyID: String, namespace: String, role: Role) {
        self.keyID = keyID
        self.namespace = namespace
        self.role = role
    }

    /// The platform administrator: an admin key of the `default` namespace may act in any namespace.
    public var isPlatformAdmin: Bool { role == .admin && namespace == "default" }

    /// Checks that this principal may act in `namespace` with at least `role`.
    public func authorize(namespace target: String, role required: Role) throws(SwellError) {
        if target != namespace && !isPlatformAdmin {
            throw SwellError(.forbidden, "this key belongs to namespace \"\(namespace)\" and cannot act in \"\(target)\"")
        }
        if role < required {
            throw SwellError(.forbidden, "this key has role \(role.rawValue); this operation needs \(required.rawValue)")
        }
    }
}
