import Foundation
import Synchronization
import SwellModel
import SwellStore
import Testing

/// What nodes sharing one PostgreSQL rely on: task leases, the catalog revision and its
/// notifications, the node registry. Runs when SWELL_TEST_POSTGRES_URL names a server.
@Suite(.enabled(if: StoreEngine.postgresURL != nil, Comment(rawValue: StoreEngine.skipNote)))
struct PostgresClusterTests {
    static func task(_ id: String, priority: Int = 0, at: Date, runAt: Date? = nil, key: String? = nil) -> TaskRecord {
        TaskRecord(id: id, namespace: "n", function: "f", priority: priority, payload: Data("{}".utf8), idempotencyKey: key,
                   createdAt: at, runAt: runAt ?? at)
    }

    @Test func claimsTakeDueTasksByPriorityAndNeverTheSameTwice() async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { pg in
            let t0 = Date()
            try await pg.apply((0..<40).map { .insert(Self.task(String(format: "t%02d", $0), priority: $0 == 7 ? 9 : 0, at: t0.addingTimeInterval(Double($0) / 1000))) }
                               + [.insert(Self.task("later", at: t0, runAt: t0.addingTimeInterval(3600)))])
            let first = try await pg.claimTasks(node: "a", limit: 5, lease: 6, now: t0.addingTimeInterval(1))
            #expect(first.map(\.id) == ["t07", "t00", "t01", "t02", "t03"])
            // Ten claimers at once: each task to one of them, the delayed one to none.
            let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
                for i in 0..<10 {
                    group.addTask { try await pg.claimTasks(node: "n\(i)", limit: 10, lease: 6, now: t0.addingTimeInterval(1)).map(\.id) }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(claimed.count == 35 && Set(claimed).count == 35)
            #expect(!claimed.contains("later") && Set(claimed).isDisjoint(with: first.map(\.id)))
            #expect(try await pg.claimTasks(node: "z", limit: 10, lease: 6, now: t0.addingTimeInterval(2)).isEmpty)
        }
    }

    @Test func claimsShareFairlyAcrossNamespaces() async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { pg in
            let t0 = Date()
            var flood = (0..<30).map { i -> TaskWrite in
                var t = Self.task(String(format: "a%02d", i), at: t0.addingTimeInterval(Double(i) / 1000))
                t.namespace = "flood"
                return .insert(t)
            }
            for i in 0..<2 {
                var t = Self.task("b\(i)", at: t0.addingTimeInterval(1 + Double(i)))
                t.namespace = "quiet"
                flood.append(.insert(t))
            }
            try await pg.apply(flood)
            // The quiet namespace's newer tasks come in the first claim all the same.
            let first = try await pg.claimTasks(node: "a", limit: 4, lease: 60, now: t0.addingTimeInterval(10)).map(\.id)
            #expect(Set(first) == ["a00", "a01", "b0", "b1"])
        }
    }

    @Test func aLapsedLeaseReturnsTheTaskWithAnInterruptedAttempt() async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { pg in
            let t0 = Date()
            try await pg.apply([.insert(Self.task("run", at: t0)), .insert(Self.task("wait", at: t0))])
            // Leases run on the database's clock: short ones, and real waits.
            #expect(try await pg.claimTasks(node: "dead", limit: 10, lease: 1, now: t0).count == 2)
            try await pg.apply([.started(TaskAttempt(taskID: "run", number: 1, requestID: "r1", startedAt: t0, queueDelayMs: 0), starts: 1)])
            // Within the lease nobody else gets them; the holder renews.
            #expect(try await pg.claimTasks(node: "live", limit: 10, lease: 6, now: t0).isEmpty)
            #expect(try await pg.renewLeases(node: "dead", ids: ["run", "wait"], until: Date().addingTimeInterval(1.5)) == [])
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await pg.claimTasks(node: "live", limit: 10, lease: 6, now: t0).isEmpty)
            try await Task.sleep(for: .milliseconds(1200))
            // Lapsed: both move, the running one with its attempt closed as interrupted.
            let taken = try await pg.claimTasks(node: "live", limit: 10, lease: 6, now: t0)
            #expect(Set(taken.map(\.id)) == ["run", "wait"] && taken.allSatisfy { $0.state == .queued })
            #expect(taken.first { $0.id == "run" }?.starts == 1)
            let attempts = try await pg.attempts(taskID: "run")
            #expect(attempts.count == 1 && attempts[0].outcome == "interrupted")
            // The old holder learns it lost them.
            #expect(try await pg.renewLeases(node: "dead", ids: ["run", "wait"], until: Date().addingTimeInterval(20)) == ["run", "wait"])
            // Given back: claimable at once; finished: nobody's.
            try await pg.releaseLeases(node: "live", ids: ["wait"])
            #expect(try await pg.claimTasks(node: "other", limit: 10, lease: 0.5, now: t0).map(\.id) == ["wait"])
            try await pg.apply([.state(id: "run", state: .succeeded, attempts: 1, runAt: t0, finishedAt: t0, result: nil, error: nil, at: t0)])
            try await Task.sleep(for: .milliseconds(700))
            #expect(try await pg.claimTasks(node: "x", limit: 10, lease: 6, now: t0).map(\.id) == ["wait"])
        }
    }

    @Test func aQueuedTaskNobodyHoldsIsStoppedInTheSharedQueue() async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { pg in
            let t0 = Date()
            try await pg.apply([.insert(Self.task("free", at: t0)), .insert(Self.task("held", at: t0))])
            _ = try await pg.claimTasks(node: "a", limit: 1, lease: 60, now: t0)  // "free" is claimed first (id order)
            #expect(!(try await pg.stopUnclaimed(id: "free", namespace: "n", at: t0)))
            #expect(try await pg.stopUnclaimed(id: "held", namespace: "n", at: t0))
            #expect(try await pg.task(id: "held", namespace: "n")?.state == .stopped)
            #expect(!(try await pg.stopUnclaimed(id: "held", namespace: "other", at: t0)))
            #expect(try await pg.claimTasks(node: "b", limit: 10, lease: 60, now: t0).isEmpty)
        }
    }

    @Test func idempotencyKeysAreFoundByEveryNode() async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { pg in
            let t0 = Date()
            try await pg.apply([.insert(Self.task("first", at: t0, key: "k"))])
            #expect(try await pg.idempotentTask(namespace: "n", function: "f", key: "k", since: t0.addingTimeInterval(-60)) == "first")
            #expect(try await pg.idempotentTask(namespace: "n", function: "f", key: "k", since: t0.addingTimeInterval(1)) == nil)
            #expect(try await pg.idempotentTask(namespace: "n", function: "g", key: "k", since: t0.addingTimeInterval(-60)) == nil)
        }
    }

    @Test func everyCatalogWriteMovesTheRevisionAndNotifies() async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { pg in
            final class Seen: Sendable { let count = Mutex(0) }
            let seen = Seen()
            let watcher = Task { try await pg.watchCatalog { seen.count.withLock { $0 += 1 } } }
            defer { watcher.cancel() }
            try await Task.sleep(for: .milliseconds(300))  // listening
            let r0 = try await pg.catalogRevision()
            let config = FunctionConfig(runtime: .nodejs20, handler: "index.handler", codeSha256: String(repeating: "a", count: 64))
            _ = try await pg.putFunction(namespace: "n", name: "f", config: config)
            let r1 = try await pg.catalogRevision()
            #expect(r1 > r0)
            try await pg.createKey(KeyRecord(id: "k", namespace: "n", role: .invoker, name: "k", hash: "h", createdAt: Date()))
            _ = try await pg.revokeKey(namespace: "n", id: "k")
            try await pg.putAlias(AliasRecord(namespace: "n", function: "f", name: "a", config: AliasConfig(version: 1)))
            #expect(try await pg.catalogRevision() > r1)
            let deadline = ContinuousClock.now + .seconds(5)
            while seen.count.withLock({ $0 }) < 4 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(seen.count.withLock { $0 } >= 4)
            // Writes that are not the catalog's move nothing.
            let r2 = try await pg.catalogRevision()
            try await pg.apply([.insert(Self.task("t", at: Date()))])
            try await pg.setPaused("n/f/x", true)
            #expect(try await pg.catalogRevision() == r2)
        }
    }

    @Test func nodesHeartbeatWithTheStoresClock() async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { pg in
            // A node whose own clock is a day off still counts as alive: the store's clock stamps.
            var a = NodeStatus(id: "a", address: "127.0.0.1:1", startedAt: Date().addingTimeInterval(-86_400), version: "v", instances: 2)
            try await pg.heartbeat(a)
            try await pg.heartbeat(NodeStatus(id: "b", address: "127.0.0.1:2", startedAt: Date(), version: "v"))
            var nodes = try await pg.nodes()
            #expect(nodes.map(\.id) == ["a", "b"] && nodes.allSatisfy(\.alive) && nodes[0].instances == 2)
            a.instances = 5
            try await pg.heartbeat(a)
            nodes = try await pg.nodes()
            #expect(nodes.count == 2 && nodes[0].instances == 5)
            try await pg.removeNode(id: "b")
            #expect(try await pg.nodes().map(\.id) == ["a"])
            #expect(!NodeStatus(id: "x", address: "", startedAt: Date(), version: "", secondsSinceHeartbeat: 5.5).alive)
        }
    }
}

/// Explicit async caps across nodes: claims count the function's leased tasks under an
/// advisory lock, so a cap holds cluster-wide, also when it is smaller than the node count.
@Suite(.enabled(if: StoreEngine.postgresURL != nil, Comment(rawValue: StoreEngine.skipNote)))
struct PostgresTaskCapTests {
    static func config(cap: Int?) -> FunctionConfig {
        var config = FunctionConfig(runtime: .nodejs20, handler: "index.handler", codeSha256: String(repeating: "a", count: 64))
        config.async.concurrency = cap
        return config
    }

    static func tasks(_ function: String, _ n: Int, qualifier: String = "$LATEST", at t0: Date) -> [TaskWrite] {
        (0..<n).map { i in
            var t = PostgresClusterTests.task(String(format: "\(function)-%02d", i), at: t0.addingTimeInterval(Double(i) / 1000))
            t.function = function
            t.qualifier = qualifier
            return .insert(t)
        }
    }

    static func nodes(_ pg: PostgresStore, _ ids: [String]) async throws {
        for id in ids { try await pg.heartbeat(NodeStatus(id: id, address: "127.0.0.1:1", startedAt: Date(), version: "v")) }
    }

    @Test func aCapOfOneHoldsAcrossThreeNodesClaimingAtOnce() async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { pg in
            let t0 = Date()
            _ = try await pg.putFunction(namespace: "n", name: "one", config: Self.config(cap: 1))
            _ = try await pg.putFunction(namespace: "n", name: "free", config: Self.config(cap: nil))
            try await Self.nodes(pg, ["a", "b", "c"])
            try await pg.apply(Self.tasks("one", 20, at: t0) + Self.tasks("free", 6, at: t0))
            // Three nodes claim at once, many times: exactly one task of `one` is leased; the uncapped ones all go.
            let claimed = try await withThrowingTaskGroup(of: [TaskRecord].self) { group in
                for node in ["a", "b", "c"] {
                    group.addTask {
                        var mine: [TaskRecord] = []
                        for _ in 0..<5 { mine += try await pg.claimTasks(node: node, limit: 32, lease: 30, now: t0.addingTimeInterval(1)) }
                        return mine
                    }
                }
                return try await group.reduce(into: [TaskRecord]()) { $0 += $1 }
            }
            #expect(claimed.filter { $0.function == "one" }.count == 1)
            #expect(claimed.filter { $0.function == "free" }.count == 6)
            #expect(claimed.first { $0.function == "one" }?.id == "one-00")
            // Finished (its final state drops the lease): the next one may be claimed, by any node.
            let holder = claimed.first { $0.function == "one" }!
            #expect(try await pg.claimTasks(node: "b", limit: 32, lease: 30, now: t0.addingTimeInterval(1)).isEmpty)
            try await pg.apply([.state(id: holder.id, state: .succeeded, attempts: 1, runAt: t0, finishedAt: t0, result: nil, error: nil, at: t0)])
            #expect(try await pg.claimTasks(node: "b", limit: 32, lease: 30, now: t0.addingTimeInterval(1)).map(\.id) == ["one-01"])
            // Given back unstarted: claimable again.
            try await pg.releaseLeases(node: "b", ids: ["one-01"])
            #expect(try await pg.claimTasks(node: "c", limit: 32, lease: 30, now: t0.addingTimeInterval(1)).map(\.id) == ["one-01"])
        }
    }

    @Test func aLapsedLeaseFreesItsSlotAndEachNodeTakesItsShare() async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { pg in
            let t0 = Date()
            _ = try await pg.putFunction(namespace: "n", name: "four", config: Self.config(cap: 4))
            try await Self.nodes(pg, ["a", "b", "c"])
            try await pg.apply(Self.tasks("four", 10, at: t0))
            // Cap 4 over 3 live nodes: 2 per node (⌈4/3⌉), 4 in all.
            #expect(try await pg.claimTasks(node: "a", limit: 32, lease: 1, now: t0.addingTimeInterval(1)).count == 2)
            #expect(try await pg.claimTasks(node: "b", limit: 32, lease: 30, now: t0.addingTimeInterval(1)).count == 2)
            #expect(try await pg.claimTasks(node: "c", limit: 32, lease: 30, now: t0.addingTimeInterval(1)).isEmpty)
            // a dies: its two leases lapse and free their slots.
            try await Task.sleep(for: .milliseconds(1500))
            #expect(try await pg.claimTasks(node: "c", limit: 32, lease: 30, now: t0.addingTimeInterval(1)).count == 2)
        }
    }

    /// With and without a capped function in the catalog (the two claim queries).
    @Test(arguments: [false, true]) func claimsFollowNamespaceWeights(anyCap: Bool) async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { pg in
            let t0 = Date()
            if anyCap { _ = try await pg.putFunction(namespace: "elsewhere", name: "capped", config: Self.config(cap: 2)) }
            try await pg.setLimits(NamespaceTaskLimits(weight: 3), namespace: "heavy")
            var writes: [TaskWrite] = []
            for ns in ["heavy", "light"] {
                for i in 0..<40 {
                    var t = PostgresClusterTests.task(String(format: "\(ns)-%02d", i), at: t0.addingTimeInterval(Double(i) / 1000))
                    t.namespace = ns
                    writes.append(.insert(t))
                }
            }
            try await pg.apply(writes)
            // Weight 3 against 1: three turns for one, in every claim (so across the nodes' claims too).
            let first = try await pg.claimTasks(node: "a", limit: 8, lease: 30, now: t0.addingTimeInterval(1))
            #expect(first.filter { $0.namespace == "heavy" }.count == 6 && first.filter { $0.namespace == "light" }.count == 2)
            let second = try await pg.claimTasks(node: "b", limit: 4, lease: 30, now: t0.addingTimeInterval(1))
            #expect(second.filter { $0.namespace == "heavy" }.count == 3)
        }
    }

    @Test func theCapOfTheVersionATaskTargetsCounts() async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { pg in
            let t0 = Date()
            _ = try await pg.putFunction(namespace: "n", name: "v", config: Self.config(cap: 1))
            _ = try await pg.publishVersion(namespace: "n", name: "v", description: "")
            try await pg.putAlias(AliasRecord(namespace: "n", function: "v", name: "live", config: AliasConfig(version: 1)))
            _ = try await pg.putFunction(namespace: "n", name: "v", config: Self.config(cap: nil))  // $LATEST uncapped now
            try await pg.apply(Self.tasks("v", 3, qualifier: "live", at: t0))
            #expect(try await pg.claimTasks(node: "a", limit: 32, lease: 30, now: t0.addingTimeInterval(1)).count == 1)
            #expect(try await pg.claimTasks(node: "b", limit: 32, lease: 30, now: t0.addingTimeInterval(1)).isEmpty)
        }
    }
}
