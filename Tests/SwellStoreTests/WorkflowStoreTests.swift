import Foundation
import SwellModel
import Testing

@testable import SwellStore

@Suite struct WorkflowStoreTests {
    func definition(_ result: String) -> String {
        #"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":"\#(result)","End":true}}}"#
    }

    /// A workflow with versions 1 (result "one") and 2 (result "two").
    func twoVersions() async throws -> SQLiteWorkflowStore {
        let store = try SQLiteWorkflowStore.inMemory()
        _ = try await store.putWorkflow(namespace: "default", name: "wf", definition: definition("one"))
        _ = try await store.publishWorkflow(namespace: "default", name: "wf", description: "")
        _ = try await store.putWorkflow(namespace: "default", name: "wf", definition: definition("two"))
        _ = try await store.publishWorkflow(namespace: "default", name: "wf", description: "")
        return store
    }

    @Test func aWeightedAliasPicksItsVersionFromTheRandomNumber() async throws {
        let store = try await twoVersions()
        let alias = WorkflowAliasRecord(namespace: "default", workflow: "wf", name: "live", version: 1, additionalVersionWeights: [2: 0.25], description: "canary")
        #expect(try await store.putWorkflowAlias(alias))
        #expect(try await store.workflowAliases(namespace: "default", workflow: "wf") == [alias])
        for (random, version, result) in [(0.0, "2", "two"), (0.2499, "2", "two"), (0.25, "1", "one"), (0.99, "1", "one")] {
            let r = try await store.resolveWorkflow(namespace: "default", name: "wf", qualifier: "live", random: random)
            #expect(r?.version == version, "random \(random)")
            #expect(r?.definition.contains(result) == true)
        }
        // A version number or $LATEST ignores the random number.
        #expect(try await store.resolveWorkflow(namespace: "default", name: "wf", qualifier: "1", random: 0)?.version == "1")
        #expect(try await store.resolveWorkflow(namespace: "default", name: "wf", qualifier: nil, random: 0)?.version == "$LATEST")
        // Moved without weights: always the main version.
        #expect(try await store.putWorkflowAlias(WorkflowAliasRecord(namespace: "default", workflow: "wf", name: "live", version: 2)))
        #expect(try await store.resolveWorkflow(namespace: "default", name: "wf", qualifier: "live", random: 0)?.version == "2")
        #expect(try await store.workflowAliases(namespace: "default", workflow: "wf").first?.additionalVersionWeights == [:])
    }

    @Test func anAliasMustNameVersionsThatExist() async throws {
        let store = try await twoVersions()
        #expect(try await !store.putWorkflowAlias(WorkflowAliasRecord(namespace: "default", workflow: "wf", name: "live", version: 3)))
        #expect(try await !store.putWorkflowAlias(
            WorkflowAliasRecord(namespace: "default", workflow: "wf", name: "live", version: 1, additionalVersionWeights: [7: 0.5])))
        #expect(try await store.workflowAliases(namespace: "default", workflow: "wf").isEmpty)
    }

    @Test func triggersAreStoredWithTheDefinitionAndListed() async throws {
        let store = try SQLiteWorkflowStore.inMemory()
        let timer = try TriggerConfig.parse(.object(["type": "timer", "cron": "0 0 * * * *"]), path: "t", defaultName: "hourly")
        let (created, changed) = try await store.putWorkflow(namespace: "default", name: "wf", definition: definition("one"), triggers: [timer])
        #expect(changed && created.revision == 1 && created.triggers == [timer])
        // The same again: unchanged. Other triggers only: changed, same revision.
        #expect(try await !store.putWorkflow(namespace: "default", name: "wf", definition: definition("one"), triggers: [timer]).changed)
        let (moved, changedAgain) = try await store.putWorkflow(namespace: "default", name: "wf", definition: definition("one"), triggers: [])
        #expect(changedAgain && moved.revision == 1 && moved.triggers.isEmpty)
        #expect(try await store.workflowTriggers().isEmpty)
        _ = try await store.putWorkflow(namespace: "other", name: "wf2", definition: definition("one"), triggers: [timer])
        let listed = try await store.workflowTriggers()
        #expect(listed.count == 1 && listed[0].namespace == "other" && listed[0].workflow == "wf2" && listed[0].triggers == [timer])
        #expect(try await store.workflow(namespace: "other", name: "wf2")?.triggers == [timer])
    }
}
