import Foundation
import SwellStore
import Testing

/// The `TriggerStorage` contract, run against SQLite and PostgreSQL.
@Suite struct TriggerStorageContractTests {
    @Test(arguments: StoreEngine.allCases)
    func pauseSwitchesAndLastFiresAreKeptUntilTheTriggerGoes(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.triggers
            #expect(try await store.paused("n/f/a") == nil)
            try await store.setPaused("n/f/a", true)
            #expect(try await store.paused("n/f/a") == true)
            try await store.setPaused("n/f/a", nil)
            #expect(try await store.paused("n/f/a") == nil)
            let fire = Date(timeIntervalSince1970: 1_700_000_060)
            try await store.setLastFire("n/f/a", fire)
            try await store.setPaused("n/f/a", false)
            // Each column keeps its value when the other is written.
            #expect(try await store.lastFire("n/f/a") == fire)
            #expect(try await store.paused("n/f/a") == false)
            try await store.setLastFire("n/f/b", fire)
            try await store.retain(["n/f/b"])
            #expect(try await store.lastFire("n/f/a") == nil)
            #expect(try await store.paused("n/f/a") == nil)
            #expect(try await store.lastFire("n/f/b") == fire)
            try await store.retain([])
            #expect(try await store.lastFire("n/f/b") == nil)
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func aTimersDueTimeIsClaimedOnce(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.triggers
            let due = Date(timeIntervalSince1970: 1_700_000_060)
            // Nodes firing the same due time at once: one wins.
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 { group.addTask { try await store.claimFire("n/f/tick", due) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            #expect(try await store.lastFire("n/f/tick") == due)
            // An earlier due time is not claimable any more; the next one is.
            #expect(!(try await store.claimFire("n/f/tick", due.addingTimeInterval(-1))))
            #expect(try await store.claimFire("n/f/tick", due.addingTimeInterval(1)))
            try await store.setPaused("n/f/tick", true)
            #expect(try await store.lastFire("n/f/tick") == due.addingTimeInterval(1))
        }
    }
}
