import Foundation
import SwellModel
import SwellTasks

/// What runs workflows for triggers (the workflow engine, which lives above this module).
public protocol WorkflowTriggerHost: Sendable {
    /// Every workflow's triggers, as deployed.
    func workflowTriggers() async throws -> [(namespace: String, workflow: String, triggers: [TriggerConfig])]
    /// Starts an execution named `name` with `input` (a JSON document) and returns its id once
    /// the start is journaled. A second start of the same name and input returns the first
    /// execution (no new one); the same name with another input is a 409.
    func startExecution(namespace: String, workflow: String, qualifier: String, name: String, input: Data) async throws(SwellError) -> String
}

/// Where a timer's or an object-store trigger's events go: an async task of the function
/// (idempotency key: the event's identity), or an execution of the workflow (execution name:
/// derived from that identity, so an event delivered twice starts one execution).
public struct TriggerDelivery: Sendable {
    enum Sink: Sendable {
        case tasks(TaskService)
        case workflows(any WorkflowTriggerHost)
    }

    let sink: Sink

    public static func tasks(_ tasks: TaskService) -> TriggerDelivery { TriggerDelivery(sink: .tasks(tasks)) }
    public static func workflows(_ host: any WorkflowTriggerHost) -> TriggerDelivery { TriggerDelivery(sink: .workflows(host)) }

    /// Hands one event to the trigger's target.
    /// - Returns: the task's id, or the execution's.
    func deliver(_ id: TriggerID, qualifier: String, event: Data, idempotencyKey: String) async throws(SwellError) -> String {
        switch sink {
        case .tasks(let tasks):
            return try await tasks.enqueue(
                namespace: id.namespace, function: id.function, qualifier: qualifier, payload: event,
                options: TaskOptions(idempotencyKey: idempotencyKey)).taskID
        case .workflows(let host):
            return try await host.startExecution(
                namespace: id.namespace, workflow: id.function, qualifier: qualifier, name: Self.executionName(idempotencyKey), input: event)
        }
    }

    /// An execution name (1-64 characters of A-Z a-z 0-9 - _) for an event's idempotency key:
    /// the key's readable start, then a 64-bit FNV-1a digest of the whole key, so that two
    /// keys never share a name however alike they read, and one key always gives one name.
    ///
    /// `timer:nightly@2026-12-01T20:15:00Z` → `timer-nightly-2026-12-01T20-15-00Z-9f0c…`.
    public static func executionName(_ key: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        let digest = String(hash, radix: 16)
        let digits = String(repeating: "0", count: 16 - digest.count) + digest
        var readable = ""
        for scalar in key.unicodeScalars.prefix(64 - 17) {
            let c = Character(scalar)
            readable.append(c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "_") ? c : "-")
        }
        return "\(readable)-\(digits)"
    }
}
