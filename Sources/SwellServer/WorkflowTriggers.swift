import Foundation
import SwellModel
import SwellStore
import SwellTriggers
import SwellWorkflow

/// Lets the trigger manager run workflows' triggers: it lists them from the workflow store
/// and starts executions through the engine (the start returns once it is journaled).
struct WorkflowTriggerStarter: WorkflowTriggerHost {
    let engine: WorkflowEngine

    func workflowTriggers() async throws -> [(namespace: String, workflow: String, triggers: [TriggerConfig])] {
        try await engine.store.workflowTriggers()
    }

    func startExecution(namespace: String, workflow: String, qualifier: String, name: String, input: Data) async throws(SwellError) -> String {
        let json = (try? JSON(parsing: Array(input))) ?? .string(String(decoding: input, as: UTF8.self))
        let (record, _) = try await engine.start(
            namespace: namespace, workflow: workflow, qualifier: qualifier == "$LATEST" ? nil : qualifier, name: name, input: json)
        return record.id
    }
}
