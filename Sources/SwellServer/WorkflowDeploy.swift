import Logging
import SwellDeploy
import SwellStore

extension SwellServer {
    /// Puts the workflows of an example manifest (`swell serve --example`), after its functions.
    static func deployExampleWorkflows(_ directory: String, store: any WorkflowStore, logger: Logger) async throws {
        let manifest = try Manifest.load(directory)
        let ns = manifest.namespace ?? "default"
        for w in manifest.workflows {
            let (_, changed) = try await store.putWorkflow(namespace: ns, name: w.name, definition: w.definition, triggers: w.triggers)
            logger.notice("example workflow deployed", metadata: ["workflow": "\(ns)/\(w.name)", "changed": "\(changed)"])
        }
    }
}
