import Foundation
import SwellModel
import SwellStore
import Testing

/// Idempotency keys are unique in the shared database: two nodes (two stores, each with its
/// own connection pool) reserving the same new key at the same moment get one holder.
@Suite struct IdempotencyContractTests {
    @Test(.enabled(if: StoreEngine.postgresURL != nil))
    func twoNodesEnqueueingTheSameNewKeyAtOnceGetOneTask() async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { a in
            try await PostgresStore.withStore(a.location, logger: TestPostgres.logger) { b in
                let now = Date()
                for round in 0..<40 {
                    let key = "order-\(round)"
                    async let byA = a.reserveIdempotencyKey(namespace: "n", function: "f", key: key, taskID: "a-\(round)", at: now)
                    async let byB = b.reserveIdempotencyKey(namespace: "n", function: "f", key: key, taskID: "b-\(round)", at: now)
                    let (holderA, holderB) = try await (byA, byB)
                    #expect(holderA == holderB, "round \(round): both nodes answer the same task")
                    #expect(["a-\(round)", "b-\(round)"].contains(holderA))
                }
                // Keys are per function and namespace.
                #expect(try await a.reserveIdempotencyKey(namespace: "n", function: "g", key: "order-0", taskID: "g0", at: now) == "g0")
                #expect(try await a.reserveIdempotencyKey(namespace: "m", function: "f", key: "order-0", taskID: "m0", at: now) == "m0")
            }
        }
    }

    @Test(.enabled(if: StoreEngine.postgresURL != nil))
    func aKeyIsFreeAgainAfterItsWindowOrWhenItsTaskWasNeverStored() async throws {
        try await TestPostgres.withFreshDatabase(StoreEngine.postgresURL!) { pg in
            let t0 = Date()
            let stored = TaskRecord(id: "t1", namespace: "n", function: "f", priority: 0, payload: Data("{}".utf8), idempotencyKey: "k", createdAt: t0, runAt: t0)
            #expect(try await pg.reserveIdempotencyKey(namespace: "n", function: "f", key: "k", taskID: "t1", at: t0) == "t1")
            try await pg.apply([.insert(stored)])
            // A stored holder keeps the key for the whole window…
            #expect(try await pg.reserveIdempotencyKey(namespace: "n", function: "f", key: "k", taskID: "t2", at: t0.addingTimeInterval(3600)) == "t1")
            // …and no longer after it.
            let later = t0.addingTimeInterval(TaskLimits.idempotencyWindow + 1)
            #expect(try await pg.reserveIdempotencyKey(namespace: "n", function: "f", key: "k", taskID: "t3", at: later) == "t3")
            // A holder that was never stored (its commit failed or its node died) lets go after a minute.
            #expect(try await pg.reserveIdempotencyKey(namespace: "n", function: "f", key: "lost", taskID: "x1", at: t0) == "x1")
            #expect(try await pg.reserveIdempotencyKey(namespace: "n", function: "f", key: "lost", taskID: "x2", at: t0.addingTimeInterval(10)) == "x1")
            #expect(try await pg.reserveIdempotencyKey(namespace: "n", function: "f", key: "lost", taskID: "x3", at: t0.addingTimeInterval(61)) == "x3")
            // A released key (failed commit) is free at once; only its holder releases it.
            try await pg.releaseIdempotencyKey(namespace: "n", function: "f", key: "lost", taskID: "x1")
            #expect(try await pg.reserveIdempotencyKey(namespace: "n", function: "f", key: "lost", taskID: "x4", at: t0.addingTimeInterval(62)) == "x3")
            try await pg.releaseIdempotencyKey(namespace: "n", function: "f", key: "lost", taskID: "x3")
            #expect(try await pg.reserveIdempotencyKey(namespace: "n", function: "f", key: "lost", taskID: "x5", at: t0.addingTimeInterval(62)) == "x5")
        }
    }
}
