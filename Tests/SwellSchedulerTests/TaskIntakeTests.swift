import SwellScheduler
import Testing

@Suite struct TaskIntakeTests {
    @Test func aKeyIsClaimedOnceAndLaterClaimsAnswerTheFirstTask() {
        var intake = TaskIntake<String, Int>(window: 100)
        let r1 = intake.claim("k", id: "t1", now: 0)
        #expect(r1 == nil)
        let r2 = intake.claim("k", id: "t2", now: 1)
        #expect(r2 == "t1")
        #expect(intake.holder(of: "k", now: 2) == "t1")
        let r3 = intake.claim("other", id: "t3", now: 2)
        #expect(r3 == nil)
        #expect(intake.idempotency.count == 2)
    }

    @Test func aClaimAfterTheWindowIsNewAndPrunesTheOldKeys() {
        var intake = TaskIntake<String, Int>(window: 100)
        let r4 = intake.claim("a", id: "t1", now: 0)
        #expect(r4 == nil)
        let r5 = intake.claim("b", id: "t2", now: 50)
        #expect(r5 == nil)
        let r6 = intake.claim("a", id: "t3", now: 100)
        #expect(r6 == nil)
        #expect(intake.holder(of: "a", now: 101) == "t3")
        // "a"'s first entry is out of the window and pruned; "b" is still held.
        #expect(intake.idempotency.count == 2)
        let r7 = intake.claim("b", id: "t4", now: 120)
        #expect(r7 == "t2")
    }

    @Test func aReleasedClaimFreesTheKeyOnlyForItsTask() {
        var intake = TaskIntake<String, Int>(window: 100)
        let r8 = intake.claim("k", id: "t1", now: 0)
        #expect(r8 == nil)
        intake.release("k", id: "t2")
        #expect(intake.holder(of: "k", now: 1) == "t1")
        intake.release("k", id: "t1")
        let r9 = intake.claim("k", id: "t3", now: 1)
        #expect(r9 == nil)
    }

    @Test func rememberKeepsAKnownHolder() {
        var intake = TaskIntake<String, Int>(window: 100)
        intake.remember("k", id: "shared", at: 0)
        intake.remember("k", id: "later", at: 1)
        #expect(intake.holder(of: "k", now: 2) == "shared")
        let r10 = intake.claim("k", id: "t1", now: 3)
        #expect(r10 == "shared")
    }

    @Test func onlyTheFirstCommitIntoAnEmptyInboxAsksForAWakeUp() {
        var intake = TaskIntake<String, Int>(window: 100)
        let r11 = intake.committed([])
        #expect(!r11)
        let r12 = intake.committed([1, 2])
        #expect(r12)
        let r13 = intake.committed([3])
        #expect(!r13)
        #expect(intake.waiting == 3)
        let r14 = intake.take()
        #expect(r14 == [1, 2, 3])
        #expect(intake.waiting == 0)
        let r15 = intake.take()
        #expect(r15 == [])
        let r16 = intake.committed([4])
        #expect(r16)
        let r17 = intake.take()
        #expect(r17 == [4])
    }
}
