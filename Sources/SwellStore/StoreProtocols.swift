import Foundation
import SwellModel

/// Durable state of the control plane: namespaces, functions, versions, aliases and keys.
///
/// Writes happen on deploys and admin calls, never on the invoke path; the server keeps
/// an in-memory catalog loaded from `loadCatalog()` and updated after each write.
public protocol ControlStore: Sendable {
    func loadCatalog() throws -> CatalogSnapshot
    func ensureNamespace(_ namespace: String) throws
    /// Creates or replaces `$LATEST`; the revision is bumped when the configuration changed.
    func putFunction(namespace: String, name: String, config: FunctionConfig) throws -> FunctionRecord
    /// Deletes a function with its versions and aliases; false when it did not exist.
    func deleteFunction(namespace: String, name: String) throws -> Bool
    /// Freezes `$LATEST` as the next version number, or returns the newest version when it already equals `$LATEST`.
    func publishVersion(namespace: String, name: String, description: String) throws -> (VersionRecord, created: Bool)
    func putAlias(_ alias: AliasRecord) throws
    func deleteAlias(namespace: String, function: String, name: String) throws -> Bool
    func createKey(_ key: KeyRecord) throws
    func revokeKey(namespace: String, id: String) throws -> Bool
    /// Every function's uid, keyed by `namespace/name`.
    func functionUIDs() throws -> [String: UInt32]
    /// The function's uid, allocated from `range` if it has none (never reused).
    func allocateUID(namespace: String, name: String, range: UIDRange) throws -> UInt32
}

/// Invocation records, written behind requests in batches (log lines live in `LogStore`).
public protocol RecordStore: Sendable {
    func appendInvocations(_ records: [InvocationRecord]) throws
    func invocations(namespace: String, function: String, limit: Int) throws -> [InvocationRecord]
    /// Applies retention: removes records older than `maxAge` seconds.
    func pruneInvocations(maxAge: TimeInterval) throws
}
