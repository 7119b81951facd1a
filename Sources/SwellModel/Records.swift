import Foundation

/// A function as stored: its mutable `$LATEST` configuration and bookkeeping.
public struct FunctionRecord: Sendable, Codable, Hashable {
    public var namespace: String
    public var name: String
    public var config: FunctionConfig
    /// Increases on every change of `$LATEST`; instances of older revisions are retired.
    public var revision: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(namespace: String, name: String, config: FunctionConfig, revision: Int, createdAt: Date, updatedAt: Date) {
        self.namespace = namespace
        self.name = name
        self.config = config
        self.revision = revision
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// An immutable published version.
public struct VersionRecord: Sendable, Codable, Hashable {
    public var namespace: String
    public var function: String
    public var version: Int
    public var config: FunctionConfig
    public var description: String
    public var publishedAt: Date

    public init(namespace: String, function: String, version: Int, config: FunctionConfig, description: String, publishedAt: Date) {
        self.namespace = namespace
        self.function = function
        self.version = version
        self.config = config
        self.description = description
        self.publishedAt = publishedAt
    }
}

/// A named pointer at a version.
public struct AliasRecord: Sendable, Codable, Hashable {
    public var namespace: String
    public var function: String
    public var name: String
    public var config: AliasConfig

    public init(namespace: String, function: String, name: String, config: AliasConfig) {
        self.namespace = namespace
        self.function = function
        self.name = name
        self.config = config
    }
}

/// An API key; only its SHA-256 is stored.
public struct KeyRecord: Sendable, Codable, Hashable {
    public var id: String
    public var namespace: String
    public var role: Role
    public var name: String
    public var hash: String
    public var createdAt: Date
    public var revoked: Bool

    public init(id: String, namespace: String, role: Role, name: String, hash: String, createdAt: Date, revoked: Bool = false) {
        self.id = id
        self.namespace = namespace
        self.role = role
        self.name = name
        self.hash = hash
        self.createdAt = createdAt
        self.revoked = revoked
    }
}

/// Everything the control plane knows, as loaded at start.
public struct CatalogSnapshot: Sendable {
    public var namespaces: [String]
    public var functions: [FunctionRecord]
    public var versions: [VersionRecord]
    public var aliases: [AliasRecord]
    public var keys: [KeyRecord]

    public init(namespaces: [String] = [], functions: [FunctionRecord] = [], versions: [VersionRecord] = [], aliases: [AliasRecord] = [], keys: [KeyRecord] = []) {
        self.namespaces = namespaces
        self.functions = functions
        self.versions = versions
        self.aliases = aliases
        self.keys = keys
    }
}
