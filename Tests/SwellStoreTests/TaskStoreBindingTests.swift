import Foundation
import GRDB
import Testing
@testable import SwellModel
@testable import SwellStore

/// The journal's statements bind their values with SQLite's own calls (`SQLiteBinder`): every
/// field of a task and of its attempts reads back as written, NULLs stay NULL, empty text and
/// bytes stay empty, and a failing statement throws SQLite's error and rolls its transaction back.
struct TaskStoreBindingTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000.125)

    static func full(_ id: String) -> TaskRecord {
        TaskRecord(
            id: id, namespace: "ns-ü", function: "fn", qualifier: "live", priority: -3, payload: Data([0, 1, 2, 255]),
            idempotencyKey: "key-✓", timeout: 42, createdAt: t0, runAt: t0.addingTimeInterval(5), updatedAt: t0,
            traceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    }

    @Test func everyFieldOfATaskAndItsAttemptsReadsBackAsWritten() async throws {
        let store = try TaskStore.inMemory()
        let task = Self.full("t1")
        // A task with the optional fields unset, an empty payload and an empty qualifier.
        let bare = TaskRecord(id: "t2", namespace: "ns-ü", function: "fn", qualifier: "", payload: Data(), createdAt: Self.t0, runAt: Self.t0)
        try await store.apply([.insert(task), .insert(bare)])
        #expect(try await store.task(id: "t1", namespace: "ns-ü") == task)
        let storedBare = try await store.task(id: "t2", namespace: "ns-ü")
        #expect(storedBare?.qualifier == "")
        #expect(storedBare?.idempotencyKey == nil && storedBare?.timeout == nil && storedBare?.traceParent == nil)
        #expect(storedBare?.result == nil && storedBare?.error == nil && storedBare?.finishedAt == nil)

        // One attempt written in steps (started, ended), one folded whole with its task's state.
        let first = TaskAttempt(taskID: "t1", number: 1, requestID: "r-1", startedAt: Self.t0.addingTimeInterval(6), queueDelayMs: 1.25)
        var firstEnded = first
        firstEnded.finishedAt = Self.t0.addingTimeInterval(7)
        firstEnded.outcome = "functionError"
        firstEnded.errorType = "Unhandled"
        firstEnded.error = Data(#"{"errorMessage":"boom"}"#.utf8)
        firstEnded.durationMs = 12.5
        firstEnded.coldStart = true
        try await store.apply([.started(first, starts: 1)])
        #expect(try await store.task(id: "t1", namespace: "ns-ü")?.state == .running)
        #expect(try await store.attempts(taskID: "t1") == [first])
        try await store.apply([
            .attemptFinished(firstEnded),
            .state(id: "t1", state: .queued, attempts: 1, runAt: Self.t0.addingTimeInterval(8), finishedAt: nil, result: nil,
                   error: firstEnded.error, at: Self.t0.addingTimeInterval(7)),
        ])
        var second = TaskAttempt(taskID: "t1", number: 2, requestID: "r-2", startedAt: Self.t0.addingTimeInterval(9), queueDelayMs: 0)
        let done = Self.t0.addingTimeInterval(10)
        try await store.apply([
            .started(second, starts: 2),
            .attemptFinished({ second.finishedAt = done; second.outcome = "succeeded"; second.durationMs = 0.5; return second }()),
            .state(id: "t1", state: .succeeded, attempts: 1, runAt: Self.t0.addingTimeInterval(8), finishedAt: done, result: Data("{}".utf8),
                   error: nil, at: done),
        ])
        let stored = try #require(try await store.task(id: "t1", namespace: "ns-ü"))
        #expect(stored.state == .succeeded && stored.attempts == 1 && stored.starts == 2)
        #expect(stored.finishedAt == done && stored.updatedAt == done && stored.result == Data("{}".utf8) && stored.error == nil)
        #expect(stored.runAt == Self.t0.addingTimeInterval(8) && stored.payload == task.payload && stored.traceParent == task.traceParent)
        let attempts = try await store.attempts(taskID: "t1")
        #expect(attempts.count == 2)
        #expect(attempts.first == firstEnded)
        #expect(attempts.last?.finishedAt == done && attempts.last?.outcome == "succeeded" && attempts.last?.errorType == nil)
        #expect(attempts.last?.error == nil && attempts.last?.durationMs == 0.5 && attempts.last?.coldStart == false)
    }

    @Test func aFailingStatementThrowsSQLitesErrorAndNoneOfItsBatchIsStored() async throws {
        let store = try TaskStore.inMemory()
        try await store.apply([.insert(Self.full("t1"))])
        // The second insert of t1 breaks the primary key: t3 before it is rolled back with it.
        await #expect {
            try await store.apply([.insert(Self.full("t3")), .insert(Self.full("t1"))])
        } throws: { error in
            guard let e = error as? DatabaseError else { return false }
            return e.resultCode == .SQLITE_CONSTRAINT && (e.message ?? "").contains("tasks.id")
        }
        #expect(try await store.task(id: "t3", namespace: "ns-ü") == nil)
        // The statement is usable again afterwards (reset, unbound).
        try await store.apply([.insert(Self.full("t4"))])
        #expect(try await store.task(id: "t4", namespace: "ns-ü")?.payload == Data([0, 1, 2, 255]))
    }
}
