import Foundation
import SwellStore

/// The stores beyond the core ones that every node shares when the state lives in PostgreSQL
/// (scale-out): workflows (executions owned by the node running them), layers, usage, audit
/// and AWS access keys. An embedded server keeps each in its SQLite file instead.
struct SharedStores: Sendable {
    var workflows: any WorkflowStore
    var layers: any LayerStorage
    var usage: any UsageStore
    var audit: any AuditStore
    /// Opens the AWS key store (it reads or creates the shared sealing key).
    var awsKeys: @Sendable () async throws -> any AWSKeyStorage
}

extension SwellServer.Stores {
    /// Every store in `pg`, this node owning the workflow executions it starts.
    mutating func useShared(_ pg: PostgresStore) {
        shared = SharedStores(
            workflows: PostgresWorkflowStore(store: pg, node: node), layers: PostgresLayerStore(store: pg), usage: PostgresUsageStore(store: pg),
            audit: PostgresAuditStore(store: pg), awsKeys: { try await PostgresAWSKeyStore.open(pg) })
    }
}
