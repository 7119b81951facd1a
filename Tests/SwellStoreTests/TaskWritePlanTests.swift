import Foundation
import Testing
@testable import SwellModel
@testable import SwellStore

/// Folding the writes of one task that meet in a journal transaction: the plan as a value, and
/// the rows SQLite ends up with, which are the rows the writes give one by one.
struct TaskWritePlanTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    static func record(_ id: String) -> TaskRecord {
        TaskRecord(id: id, namespace: "ns", function: "f", qualifier: "$LATEST", payload: Data("{}".utf8), createdAt: t0, runAt: t0)
    }

    static func started(_ id: String, _ n: Int) -> TaskAttempt {
        TaskAttempt(taskID: id, number: n, requestID: "req-\(id)-\(n)", startedAt: t0.addingTimeInterval(Double(n)), queueDelayMs: 1.5)
    }

    static func ended(_ a: TaskAttempt, _ outcome: String) -> TaskAttempt {
        var a = a
        a.finishedAt = a.startedAt.addingTimeInterval(0.25)
        a.outcome = outcome
        a.durationMs = 250
        a.coldStart = true
        if outcome != "succeeded" {
            a.errorType = "Error"
            a.error = Data(#"{"errorType":"Error"}"#.utf8)
        }
        return a
    }

    static func final(_ id: String, _ state: TaskState, attempts: Int, at: Double) -> TaskWrite {
        .state(id: id, state: state, attempts: attempts, runAt: t0, finishedAt: state.isFinal ? t0.addingTimeInterval(at) : nil,
               result: state == .succeeded ? Data("42".utf8) : nil, error: nil, at: t0.addingTimeInterval(at))
    }

    /// Start, end and final state of one task: one attempt row and one task update.
    @Test func aTaskStartedAndFinishedInOneBatchIsOneAttemptRowAndOneUpdate() {
        let a = Self.started("a", 1)
        let steps = TaskWriteStep.plan([.started(a, starts: 1), .attemptFinished(Self.ended(a, "succeeded")), Self.final("a", .succeeded, attempts: 0, at: 2)])
        #expect(steps == [.attempt(Self.ended(a, "succeeded")), .state(Self.final("a", .succeeded, attempts: 0, at: 2), starts: 1)])
    }

    @Test func writesOfOtherTasksAndUnmatchedOnesPassThrough() {
        let a = Self.started("a", 1), b = Self.started("b", 1)
        let writes: [TaskWrite] = [
            .insert(Self.record("c")), .started(a, starts: 1), .attemptFinished(Self.ended(b, "succeeded")), Self.final("b", .succeeded, attempts: 0, at: 1),
        ]
        #expect(TaskWriteStep.plan(writes) == writes.map { .write($0) })
    }

    @Test func anAttemptEndedWithoutItsStateChangeIsWrittenWholeAndTheTaskMarkedRunning() {
        let a = Self.started("a", 2)
        let steps = TaskWriteStep.plan([.started(a, starts: 2), .attemptFinished(Self.ended(a, "timeout"))])
        #expect(steps == [.startedAttempt(Self.ended(a, "timeout"), starts: 2)])
    }

    @Test func aRetryAndTheNextAttemptInOneBatchPairEachStartWithItsOwnStateChange() {
        let a1 = Self.started("a", 1), a2 = Self.started("a", 2)
        let retry = Self.final("a", .queued, attempts: 1, at: 1.5)
        let done = Self.final("a", .succeeded, attempts: 1, at: 3)
        let steps = TaskWriteStep.plan([
            .started(a1, starts: 1), .attemptFinished(Self.ended(a1, "functionError")), retry,
            .started(a2, starts: 2), .attemptFinished(Self.ended(a2, "succeeded")), done,
        ])
        #expect(steps == [
            .attempt(Self.ended(a1, "functionError")), .state(retry, starts: 1),
            .attempt(Self.ended(a2, "succeeded")), .state(done, starts: 2),
        ])
    }

    /// The same writes applied one per transaction and folded in one: the same rows.
    @Test func foldedWritesLeaveTheRowsTheWritesGiveOneByOne() async throws {
        let a1 = Self.started("a", 1), a2 = Self.started("a", 2), b1 = Self.started("b", 1), c1 = Self.started("c", 1)
        let writes: [TaskWrite] = [
            .started(a1, starts: 1), .attemptFinished(Self.ended(a1, "functionError")), Self.final("a", .queued, attempts: 1, at: 1.5),
            .started(a2, starts: 2), .attemptFinished(Self.ended(a2, "succeeded")), Self.final("a", .succeeded, attempts: 1, at: 3),
            .started(b1, starts: 1), .attemptFinished(Self.ended(b1, "timeout")),
            .started(c1, starts: 1),
        ]
        let oneByOne = try TaskStore.inMemory(), folded = try TaskStore.inMemory()
        for store in [oneByOne, folded] {
            try await store.apply(["a", "b", "c"].map { .insert(Self.record($0)) })
        }
        for w in writes { try await oneByOne.apply([w]) }
        try await folded.apply(writes)
        for id in ["a", "b", "c"] {
            let expected = try await oneByOne.task(id: id, namespace: "ns")
            let got = try await folded.task(id: id, namespace: "ns")
            #expect(got != nil && got == expected)
            let expectedAttempts = try await oneByOne.attempts(taskID: id)
            let gotAttempts = try await folded.attempts(taskID: id)
            #expect(gotAttempts == expectedAttempts)
        }
        #expect(try await folded.task(id: "a", namespace: "ns")?.starts == 2)
        #expect(try await folded.task(id: "b", namespace: "ns")?.state == .running)
        #expect(try await folded.attempts(taskID: "a").count == 2)
    }
}
