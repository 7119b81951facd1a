import Foundation
import Logging
import SwellModel
@testable import SwellStore
import Testing

/// The contracts of the workflow, layer, usage, audit and AWS key stores, run against SQLite
/// and PostgreSQL; the PostgreSQL runs also check what many nodes sharing one database need
/// (execution owners, merges from two nodes at once, keys issued on another node).
@Suite struct SharedStoresContractTests {
    static let logger = Logger(label: "swell.test.workflows")

    static func execution(_ id: String, started: Double) -> ExecutionRecord {
        ExecutionRecord(
            id: "ns/wf/\(id)", namespace: "ns", workflow: "wf", name: id, status: .running, input: "{}", seed: UInt64.max - 7,
            definition: #"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#, revision: 1, startedAt: Date(timeIntervalSince1970: started))
    }

    @Test(arguments: StoreEngine.allCases)
    func workflowDefinitionsVersionsAndAliases(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.workflows
            let (first, changed) = try await store.putWorkflow(namespace: "ns", name: "wf", definition: "{\"v\":1}")
            #expect(changed && first.revision == 1)
            let (same, changedAgain) = try await store.putWorkflow(namespace: "ns", name: "wf", definition: "{\"v\":1}")
            #expect(!changedAgain && same.revision == 1)
            #expect(try await store.publishWorkflow(namespace: "ns", name: "wf", description: "one")?.0.version == 1)
            #expect(try await store.publishWorkflow(namespace: "ns", name: "wf", description: "again")?.created == false)
            let (second, _) = try await store.putWorkflow(namespace: "ns", name: "wf", definition: "{\"v\":2}")
            #expect(second.revision == 2)
            #expect(try await store.publishWorkflow(namespace: "ns", name: "wf", description: "two")?.0.version == 2)
            #expect(try await store.publishWorkflow(namespace: "ns", name: "missing", description: "") == nil)
            #expect(try await store.workflowVersions(namespace: "ns", name: "wf").map(\.version) == [1, 2])
            #expect(try await store.putWorkflowAlias(WorkflowAliasRecord(namespace: "ns", workflow: "wf", name: "live", version: 1)))
            #expect(!(try await store.putWorkflowAlias(WorkflowAliasRecord(namespace: "ns", workflow: "wf", name: "live", version: 9))))
            #expect(try await store.putWorkflowAlias(WorkflowAliasRecord(namespace: "ns", workflow: "wf", name: "live", version: 2)))
            #expect(try await store.workflowAliases(namespace: "ns", workflow: "wf").map(\.version) == [2])
            #expect(try await store.resolveWorkflow(namespace: "ns", name: "wf", qualifier: "live")?.definition == "{\"v\":2}")
            #expect(try await store.resolveWorkflow(namespace: "ns", name: "wf", qualifier: "1")?.definition == "{\"v\":1}")
            #expect(try await store.resolveWorkflow(namespace: "ns", name: "wf", qualifier: nil)?.version == "$LATEST")
            #expect(try await store.resolveWorkflow(namespace: "ns", name: "wf", qualifier: "nope") == nil)
            #expect(try await store.workflows(namespace: "ns").map(\.name) == ["wf"])
            // A weighted alias: every version it names must exist; the weights pick a start's version.
            #expect(!(try await store.putWorkflowAlias(WorkflowAliasRecord(
                namespace: "ns", workflow: "wf", name: "canary", version: 1, additionalVersionWeights: [7: 0.25]))))
            #expect(try await store.putWorkflowAlias(WorkflowAliasRecord(
                namespace: "ns", workflow: "wf", name: "canary", version: 1, additionalVersionWeights: [2: 0.25], description: "a quarter on 2")))
            let canary = try await store.workflowAliases(namespace: "ns", workflow: "wf").first { $0.name == "canary" }
            #expect(canary?.additionalVersionWeights == [2: 0.25] && canary?.description == "a quarter on 2")
            #expect(try await store.resolveWorkflow(namespace: "ns", name: "wf", qualifier: "canary", random: 0.1)?.version == "2")
            #expect(try await store.resolveWorkflow(namespace: "ns", name: "wf", qualifier: "canary", random: 0.9)?.version == "1")
            #expect(try await store.deleteWorkflowAlias(namespace: "ns", workflow: "wf", name: "canary"))
            // Triggers are kept with the definition; changing only them keeps the revision.
            let timer = try TriggerConfig.parse(.object(["type": "timer", "cron": "0 0 * * * *"]), path: "t", defaultName: "hourly")
            let (triggered, triggersChanged) = try await store.putWorkflow(namespace: "ns", name: "wf", definition: "{\"v\":2}", triggers: [timer])
            #expect(triggersChanged && triggered.revision == 2 && triggered.triggers == [timer])
            #expect(try await store.workflowTriggers().map(\.workflow) == ["wf"])
            #expect(try await store.workflow(namespace: "ns", name: "wf")?.triggers == [timer])
            #expect(try await store.deleteWorkflowAlias(namespace: "ns", workflow: "wf", name: "live"))
            #expect(!(try await store.deleteWorkflowAlias(namespace: "ns", workflow: "wf", name: "live")))
            #expect(try await store.deleteWorkflow(namespace: "ns", name: "wf"))
            #expect(try await store.workflow(namespace: "ns", name: "wf") == nil)
            #expect(try await store.workflowVersions(namespace: "ns", name: "wf").isEmpty)
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func journaledExecutionsReplayHistoryAndPurge(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.workflows
            let journal = WorkflowJournal(store: store, logger: Self.logger)
            defer { journal.close() }
            let a = Self.execution("a", started: 1_700_000_000)
            let b = Self.execution("b", started: 1_700_000_001)
            try await journal.commit([.create(a), .create(b)])
            try await journal.commit([
                .step(executionID: a.id, sequence: 0, event: Data([1]), history: [(1, Data("h1".utf8)), (2, Data("h2".utf8))]),
                .step(executionID: a.id, sequence: 1, event: Data([2]), history: [(3, Data("h3".utf8))]),
            ])
            // Acknowledged means committed: another reader sees it at once.
            #expect(try await store.events(executionID: a.id) == [Data([1]), Data([2])])
            #expect(try await store.history(executionID: a.id, after: 1, limit: 10) == [Data("h2".utf8), Data("h3".utf8)])
            #expect(try await store.execution(id: a.id)?.seed == UInt64.max - 7)
            #expect(try await store.openExecutions().map(\.id) == [a.id, b.id])
            try await journal.commit([.finish(executionID: b.id, status: .failed, output: nil, error: "E", cause: "c", at: Date(timeIntervalSince1970: 1_700_000_100))])
            #expect(try await store.openExecutions().map(\.id) == [a.id])
            #expect(try await store.executions(namespace: "ns", workflow: "wf", status: .failed, before: nil, limit: 10).map(\.error) == ["E"])
            let page = try await store.executions(namespace: "ns", workflow: "wf", status: nil, before: nil, limit: 1)
            #expect(page.map(\.id) == [b.id])
            #expect(try await store.executions(namespace: "ns", workflow: "wf", status: nil, before: (b.startedAt, b.id), limit: 5).map(\.id) == [a.id])
            try await journal.commit([.redrive(executionID: a.id, fromSequence: 1, lastHistoryID: 1, redriveCount: 1)])
            #expect(try await store.events(executionID: a.id) == [Data([1])])
            #expect(try await store.history(executionID: a.id, after: 0, limit: 10) == [Data("h1".utf8)])
            #expect(try await store.execution(id: a.id)?.redriveCount == 1)
            try await journal.commit([.purge(stoppedBefore: Date(timeIntervalSince1970: 1_700_000_200))])
            #expect(try await store.execution(id: b.id) == nil)
            #expect(try await store.execution(id: a.id) != nil, "running executions are never purged")
            if s.postgres == nil {
                // A failing batch is all or nothing, and its waiter hears of it.
                await #expect(throws: (any Error).self) { try await journal.commit([.create(Self.execution("c", started: 1)), .create(a)]) }
                #expect(try await store.execution(id: "ns/wf/c") == nil)
            } else {
                // Nodes: a create of an execution that exists (started on two nodes at once) changes nothing.
                var other = a
                other.input = "{\"other\":1}"
                try await journal.commit([.create(other)])
                #expect(try await store.execution(id: a.id)?.input == "{}")
            }
        }
    }

    /// Nodes on one database: the node that creates an execution owns it with a lease it
    /// renews; another node claims it only once the lease lapsed, and the old owner hears so.
    @Test func executionsBelongToOneNodeAtATime() async throws {
        try await StoreEngine.postgres.withStores { s in
            guard let pg = s.postgres else { return }
            let a = PostgresWorkflowStore(store: pg, node: "node-a", lease: 1)
            let b = PostgresWorkflowStore(store: pg, node: "node-b", lease: 1)
            let c = PostgresWorkflowStore(store: pg, node: "node-c", lease: 1)
            let journalA = WorkflowJournal(store: a, logger: Self.logger)
            defer { journalA.close() }
            try await journalA.commit([.create(Self.execution("x", started: 1)), .create(Self.execution("y", started: 2))])
            #expect(try await a.owner(executionID: "ns/wf/x") == "node-a")
            // node-a holds them: nobody else claims them while it renews.
            for _ in 0..<3 {
                #expect(try await b.openExecutions().isEmpty)
                #expect(try await a.renewExecutionLeases(ids: ["ns/wf/x", "ns/wf/y", "ns/wf/not-stored-yet"]).isEmpty)
                try await Task.sleep(for: .milliseconds(400))
            }
            // node-a stops renewing (dead or stalled): after the lease, node-b and node-c claim them at once, each once.
            try await Task.sleep(for: .milliseconds(1200))
            async let byB = b.openExecutions()
            async let byC = c.openExecutions()
            let (claimedB, claimedC) = try await (byB, byC)
            #expect(claimedB.count + claimedC.count == 2)
            #expect(Set(claimedB.map(\.id)).isDisjoint(with: claimedC.map(\.id)))
            #expect(claimedB.allSatisfy { $0.status == .running })
            // node-a comes back: its renewal tells it both are another node's now.
            #expect(try await a.renewExecutionLeases(ids: ["ns/wf/x", "ns/wf/y"]) == ["ns/wf/x", "ns/wf/y"])
            let owners = Set([try await a.owner(executionID: "ns/wf/x"), try await a.owner(executionID: "ns/wf/y")])
            #expect(owners.isSubset(of: ["node-b", "node-c"]))
            // The old owner's late writes are fenced out: the journal stays the new owner's.
            try await journalA.commit([.step(executionID: "ns/wf/x", sequence: 0, event: Data([9]), history: [(1, Data("stale".utf8))])])
            try await journalA.commit([.finish(executionID: "ns/wf/y", status: .failed, output: nil, error: "E", cause: nil, at: Date())])
            #expect(try await a.events(executionID: "ns/wf/x").isEmpty)
            #expect(try await a.history(executionID: "ns/wf/x", after: 0, limit: 10).isEmpty)
            #expect(try await a.execution(id: "ns/wf/y")?.status == .running)
            // A finished execution is never claimed.
            let xOwner = claimedB.contains { $0.id == "ns/wf/x" } ? b : c
            let journalX = WorkflowJournal(store: xOwner, logger: Self.logger)
            defer { journalX.close() }
            try await journalX.commit([.step(executionID: "ns/wf/x", sequence: 0, event: Data([1]), history: [])])
            #expect(try await a.events(executionID: "ns/wf/x") == [Data([1])])
            try await journalX.commit([.finish(executionID: "ns/wf/x", status: .succeeded, output: "1", error: nil, cause: nil, at: Date())])
            #expect(try await a.execution(id: "ns/wf/x")?.status == .succeeded)
            try await Task.sleep(for: .milliseconds(1200))
            #expect(try await a.openExecutions().map(\.id) == ["ns/wf/y"])
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func layerNumbersAreNeverReused(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let layers = s.layers
            let sha = String(repeating: "a", count: 64)
            let v1 = try await layers.publishLayer(namespace: "ns", name: "deps", sha256: sha, size: 10, description: "d", runtimes: ["python3.12"], license: "MIT")
            #expect(v1.version == 1 && v1.compatibleRuntimes == ["python3.12"])
            // Publishes at once (two nodes): distinct numbers.
            let numbers = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 {
                    group.addTask { try await layers.publishLayer(namespace: "ns", name: "deps", sha256: sha, size: 10, description: "", runtimes: [], license: "").version }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(numbers.sorted() == Array(2...7))
            try await layers.deleteLayerVersion(namespace: "ns", name: "deps", version: 7)
            #expect(try await layers.layerVersion(namespace: "ns", name: "deps", version: 7) == nil)
            #expect(try await layers.publishLayer(namespace: "ns", name: "deps", sha256: sha, size: 1, description: "", runtimes: [], license: "").version == 8)
            _ = try await layers.publishLayer(namespace: "ns", name: "other", sha256: sha, size: 1, description: "", runtimes: [], license: "")
            #expect(try await layers.latestLayers(namespace: "ns").map { "\($0.name):\($0.version)" } == ["deps:8", "other:1"])
            #expect(try await layers.layerVersions(namespace: "ns", name: "deps").map(\.version) == [8, 6, 5, 4, 3, 2, 1])
            #expect(try await layers.latestLayers(namespace: "elsewhere").isEmpty)
        }
    }

    static func delta(_ hour: Int64, _ fn: String, invocations: Int64, peak: Int64, ms: Double) -> UsageRecord {
        var latency = LatencyHistogram()
        for _ in 0..<invocations { latency.record(milliseconds: ms) }
        return UsageRecord(
            key: UsageKey(hour: hour, namespace: "default", function: fn, version: "$LATEST"),
            counters: UsageCounters(
                invocations: invocations, errors: 0, coldStarts: 1, billedMs: invocations * 10, mbMs: invocations * 1280, peakInstances: peak,
                memoryMB: 128, latency: latency))
    }

    @Test(arguments: StoreEngine.allCases)
    func usageOfManyWritersMergesIntoOneHour(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let usage = s.usage
            let hour: Int64 = 1_796_130_000
            // Eight meters (nodes) adding the same hours at once: every delta counts once.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<8 {
                    group.addTask {
                        try await usage.add([
                            Self.delta(hour, "a", invocations: 2, peak: Int64(i + 1), ms: 10), Self.delta(hour + 3600, "b", invocations: 1, peak: 1, ms: 100),
                        ])
                    }
                }
                try await group.waitForAll()
            }
            let a = try await usage.versionHours(namespace: "default", function: "a", fromHour: hour, toHour: hour + 3600)
            #expect(a.count == 1)
            #expect(a.first?.counters.invocations == 16 && a.first?.counters.mbMs == 16 * 1280 && a.first?.counters.coldStarts == 8)
            #expect(a.first?.counters.peakInstances == 8)
            #expect(a.first?.counters.latency.count == 16)
            let ns = try await usage.namespaceHours(namespace: "default", fromHour: hour, toHour: hour + 7200).sorted { $0.key.hour < $1.key.hour }
            #expect(ns.map(\.counters.invocations) == [16, 8])
            #expect(ns.first?.counters.peakInstances == 8)
            let days = try await usage.functionDays(namespace: "default", function: nil, fromDay: UsageHour.day(of: hour), toDay: UsageHour.day(of: hour) + 86_400)
            #expect(days.reduce(0) { $0 + $1.counters.invocations } == 24)
            #expect(try await usage.peakInstances(namespace: nil, fromHour: hour, toHour: hour + 7200) == 8)
            #expect(try await usage.prices() == nil)
            try await usage.setPrices(PriceTable(perGBSecond: 1, perMillionRequests: 2, alwaysOnPerGBHour: 3))
            try await usage.setPrices(PriceTable(perGBSecond: 4, perMillionRequests: 5, alwaysOnPerGBHour: 6))
            #expect(try await usage.prices() == PriceTable(perGBSecond: 4, perMillionRequests: 5, alwaysOnPerGBHour: 6))
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func auditIsOneAppendOnlySequence(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let audit = s.audit
            var ids: [Int64] = []
            for (i, ns) in ["a", "b", "a"].enumerated() {
                let entry = AuditEntry(
                    time: Date(timeIntervalSince1970: 1_700_000_000 + Double(i)), keyID: "k_\(i)", role: .admin, address: "127.0.0.1",
                    namespace: ns, action: .functionDeploy, target: "f\(i)", details: .object(["memory": .int(128)]))
                ids.append(try await audit.append(entry).id)
            }
            #expect(ids == ids.sorted() && Set(ids).count == 3)
            let all = try await audit.entries(namespace: nil, before: nil, limit: 10)
            #expect(all.map(\.target) == ["f2", "f1", "f0"])
            #expect(all.first?.details == .object(["memory": .int(128)]) && all.first?.role == .admin && all.first?.action == .functionDeploy)
            #expect(try await audit.entries(namespace: "a", before: nil, limit: 10).map(\.target) == ["f2", "f0"])
            #expect(try await audit.entries(namespace: nil, before: ids[2], limit: 1).map(\.target) == ["f1"])
            if let pg = s.postgres {
                await #expect(throws: (any Error).self) { try await pg.run("DELETE FROM audit", []) }
                await #expect(throws: (any Error).self) { try await pg.run("UPDATE audit SET target = 'x'", []) }
                #expect(try await audit.entries(namespace: nil, before: nil, limit: 10).count == 3)
            }
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func awsKeysAreReadBackSealed(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let (id, secret) = try await s.awsKeys.createAccessKey(keyID: "k_1", namespace: "team")
            #expect(id.hasPrefix("AKIA") && id.count == 20 && secret.count == 40)
            #expect(try await s.awsKeys.lookupCredential(id) == AWSKeyStore.Credential(accessKeyID: id, keyID: "k_1", namespace: "team", secret: secret))
            #expect(try await s.awsKeys.lookupCredential("AKIANOSUCHKEY0000000") == nil)
            guard let pg = s.postgres else { return }
            // Another node (a store object of its own, same database) reads the key a first one issued.
            let other = try await PostgresAWSKeyStore.open(pg)
            #expect(try await other.lookupCredential(id)?.secret == secret)
            #expect(try await other.accessKeyIDs(keyID: "k_1") == [id])
            // The secret is not in the database in clear.
            let stored = try await pg.rows("SELECT encode(sealed_secret, 'escape') AS s FROM aws_keys", []).map { try $0.decode("s", as: String.self) }
            #expect(stored.count == 1 && !stored[0].contains(secret))
        }
    }
}
