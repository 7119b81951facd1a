import Foundation
import SwellModel
import SwellStore
import Testing

/// The `TaskStorage` contract, run against SQLite and PostgreSQL.
@Suite struct TaskStorageContractTests {
    static func task(_ id: String, ns: String = "n", fn: String = "f", key: String? = nil, at: Date, payload: String = "{}") -> TaskRecord {
        TaskRecord(id: id, namespace: ns, function: fn, priority: 3, payload: Data(payload.utf8), idempotencyKey: key, timeout: 30,
                   createdAt: at, runAt: at)
    }

    @Test(arguments: StoreEngine.allCases)
    func insertsStartsAndFinishesRoundTrip(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.tasks
            let t0 = Date(timeIntervalSince1970: 1_700_000_000)
            var a = Self.task("t1", key: "k1", at: t0, payload: "{\"x\":1}")
            // The trace its attempts continue is kept with it (tracing on).
            a.traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            try await store.apply([.insert(a), .insert(Self.task("t2", at: t0.addingTimeInterval(1))), .insert(Self.task("t3", ns: "m", at: t0))])
            var got = try #require(try await store.task(id: "t1", namespace: "n"))
            #expect(got == a)
            #expect(try await store.task(id: "t1", namespace: "m") == nil)
            let attempt = TaskAttempt(taskID: "t1", number: 1, requestID: "r1", startedAt: t0.addingTimeInterval(2), queueDelayMs: 2000)
            var finished = attempt
            finished.finishedAt = t0.addingTimeInterval(3)
            finished.outcome = "failed"
            finished.errorType = "Boom"
            finished.error = Data("{\"e\":1}".utf8)
            finished.durationMs = 1000
            finished.coldStart = true
            let result = Data("\"ok\"".utf8)
            try await store.apply([
                .started(attempt, starts: 1), .attemptFinished(finished),
                .state(id: "t1", state: .succeeded, attempts: 1, runAt: t0, finishedAt: t0.addingTimeInterval(4), result: result, error: nil,
                       at: t0.addingTimeInterval(4)),
            ])
            got = try #require(try await store.task(id: "t1", namespace: "n"))
            #expect(got.state == .succeeded && got.starts == 1 && got.attempts == 1 && got.result == result && got.error == nil)
            #expect(got.finishedAt == t0.addingTimeInterval(4))
            #expect(try await store.attempts(taskID: "t1") == [finished])
            let summary = try await store.summary(namespace: "n", function: nil)
            #expect(summary[.succeeded] == 1 && summary[.queued] == 1 && summary[.failed] == 0)
            #expect(try await store.summary(namespace: "n", function: "other")[.queued] == 0)
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func listPagesNewestFirstWithFilters(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.tasks
            let t0 = Date(timeIntervalSince1970: 1_700_000_000)
            try await store.apply((0..<7).map { .insert(Self.task("t\($0)", fn: $0 % 2 == 0 ? "even" : "odd", at: t0.addingTimeInterval(Double($0)))) })
            let first = try await store.list(namespace: "n", function: nil, state: nil, since: nil, until: nil, before: nil, limit: 3)
            #expect(first.map(\.id) == ["t6", "t5", "t4"])
            let next = try await store.list(
                namespace: "n", function: nil, state: nil, since: nil, until: nil, before: (first[2].createdAt, first[2].id), limit: 3)
            #expect(next.map(\.id) == ["t3", "t2", "t1"])
            #expect(try await store.list(namespace: "n", function: "even", state: .queued, since: t0.addingTimeInterval(2), until: t0.addingTimeInterval(6),
                                         before: nil, limit: 10).map(\.id) == ["t4", "t2"])
            #expect(try await store.list(namespace: "x", function: nil, state: nil, since: nil, until: nil, before: nil, limit: 10).isEmpty)
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func recoveryClosesOpenAttemptsAsInterruptedAndRequeues(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.tasks
            let t0 = Date(timeIntervalSince1970: 1_700_000_000)
            try await store.apply([.insert(Self.task("run", at: t0)), .insert(Self.task("wait", at: t0.addingTimeInterval(1))),
                                   .insert(Self.task("done", at: t0))])
            try await store.apply([
                .started(TaskAttempt(taskID: "run", number: 1, requestID: "r", startedAt: t0, queueDelayMs: 0), starts: 1),
                .state(id: "done", state: .failed, attempts: 1, runAt: t0, finishedAt: t0, result: nil, error: Data("{}".utf8), at: t0),
            ])
            let now = t0.addingTimeInterval(60)
            let pending = try await store.recover(at: now)
            #expect(pending.map(\.id) == ["run", "wait"])
            #expect(pending.allSatisfy { $0.state == .queued })
            let attempts = try await store.attempts(taskID: "run")
            #expect(attempts.count == 1 && attempts[0].outcome == "interrupted" && attempts[0].finishedAt == now)
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func redrivePurgeLimitsAndIdempotencyKeys(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.tasks
            let t0 = Date(timeIntervalSince1970: 1_700_000_000)
            try await store.apply([.insert(Self.task("a", key: "k-a", at: t0)), .insert(Self.task("b", key: "k-b", at: t0.addingTimeInterval(10))),
                                   .insert(Self.task("c", at: t0))])
            try await store.apply([.state(id: "a", state: .failed, attempts: 3, runAt: t0, finishedAt: t0, result: nil, error: nil, at: t0)])
            let keys = try await store.recentIdempotencyKeys(since: t0.addingTimeInterval(5))
            #expect(keys == [StoredIdempotencyKey(namespace: "n", function: "f", key: "k-b", taskID: "b", createdAt: t0.addingTimeInterval(10))])
            let later = t0.addingTimeInterval(100)
            try await store.apply([.redrive(id: "a", at: later)])
            let a = try #require(try await store.task(id: "a", namespace: "n"))
            #expect(a.state == .queued && a.attempts == 0 && a.createdAt == later && a.finishedAt == nil)
            try await store.apply([.state(id: "c", state: .succeeded, attempts: 1, runAt: t0, finishedAt: t0, result: nil, error: nil, at: t0),
                                   .purge(finishedBefore: t0.addingTimeInterval(1))])
            #expect(try await store.task(id: "c", namespace: "n") == nil)
            #expect(try await store.task(id: "a", namespace: "n") != nil)

            try await store.setLimits(NamespaceTaskLimits(ratePerSecond: 5, burst: 10, weight: 2), namespace: "n")
            try await store.setLimits(NamespaceTaskLimits(weight: 3), namespace: "n")
            try await store.setLimits(NamespaceTaskLimits(ratePerSecond: 1), namespace: "m")
            #expect(try await store.allLimits() == ["n": NamespaceTaskLimits(weight: 3), "m": NamespaceTaskLimits(ratePerSecond: 1)])
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func aFailedBatchAppliesNothing(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let t0 = Date(timeIntervalSince1970: 1_700_000_000)
            try await s.tasks.apply([.insert(Self.task("dup", at: t0))])
            // The second insert of "dup" breaks the primary key: "new" must not stay either.
            await #expect(throws: (any Error).self) {
                try await s.tasks.apply([.insert(Self.task("new", at: t0)), .insert(Self.task("dup", at: t0))])
            }
            #expect(try await s.tasks.task(id: "new", namespace: "n") == nil)
        }
    }
}
