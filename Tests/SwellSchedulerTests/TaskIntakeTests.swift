import SwellScheduler
import Testing

@Suite struct TaskIntakeTests {
    @Test func aKeyIsClaimedOnceAndLaterClaimsAnswerTheFirstTask() {
        var intake = TaskIntake<String, Int>(window: 100)
        #expect(intake.claim("k", id: "t1", now: 0) == nil)
        #expect(intake.claim("k", id: "t2", now: 1) == "t1")
        #expect(intake.holder(of: "k", now: 2) == "t1")
        #expect(intake.claim("other", id: "t3", now: 2) == nil)
        #expect(intake.idempotency.count == 2)
    }

    @Test func aClaimAfterTheWindowIsNewAndPrunesTheOldKeys() {
        var intake = TaskIntake<String, Int>(window: 100)
        #expect(intake.claim("a", id: "t1", now: 0) == nil)
        #expect(intake.claim("b", id: "t2", now: 50) == nil)
        #expect(intake.claim("a", id: "t3", now: 100) == nil)
        #expect(intake.holder(of: "a", now: 101) == "t3")
        // "a"'s first entry is out of the window and pruned; "b" is still held.
        #expect(intake.idempotency.count == 2)
        #expect(intake.claim("b", id: "t4", now: 120) == "t2")
    }

    @Test func aReleasedClaimFreesTheKeyOnlyForItsTask() {
        var intake = TaskIntake<String, Int>(window: 100)
        #expect(intake.claim("k", id: "t1", now: 0) == nil)
        intake.release("k", id: "t2")
        #expect(intake.holder(of: "k", now: 1) == "t1")
        intake.release("k", id: "t1")
        #expect(intake.claim("k", id: "t3", now: 1) == nil)
    }

    @Test func rememberKeepsAKnownHolder() {
        var intake = TaskIntake<String, Int>(window: 100)
        intake.remember("k", id: "shared", at: 0)
        intake.remember("k", id: "later", at: 1)
        #expect(intake.holder(of: "k", now: 2) == "shared")
        #expect(intake.claim("k", id: "t1", now: 3) == "shared")
    }

    @Test func onlyTheFirstCommitIntoAnEmptyInboxAsksForAWakeUp() {
        var intake = TaskIntake<String, Int>(window: 100)
        #expect(!intake.committed([]))
        #expect(intake.committed([1, 2]))
        #expect(!intake.committed([3]))
        #expect(intake.waiting == 3)
        #expect(intake.take() == [1, 2, 3])
        #expect(intake.waiting == 0)
        #expect(intake.take() == [])
        #expect(intake.committed([4]))
        #expect(intake.take() == [4])
    }
}
