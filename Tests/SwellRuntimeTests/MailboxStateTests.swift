import SwellModel
import Testing
@testable import SwellRuntime

/// The mailbox's decisions as a value: loops are numbers, `next`s are tokens, invocations names.
struct MailboxStateTests {
    final class Next: CustomStringConvertible {
        let name: String
        init(_ name: String) { self.name = name }
        var description: String { name }
    }

    typealias State = MailboxState<Next, String, Int>

    private func expectHanded(_ d: State.Delivery, _ name: String, _ sameLoop: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .handOver(let next, let same) = d else { Issue.record("not handed over: \(d)", sourceLocation: sourceLocation); return }
        #expect(next.name == name && same == sameLoop, sourceLocation: sourceLocation)
    }

    @Test func anInvocationGoesToANextWaitingOnTheDeliveringLoop() {
        var s = State()
        let a0 = Next("a0"), b0 = Next("b0"), b1 = Next("b1")
        // Loop 0's next waited first; a delivery on loop 1 still takes loop 1's.
        let first = s.nextRequested(a0, on: 0).first
        #expect(first)
        let second = s.nextRequested(b0, on: 1).first
        #expect(!second)
        _ = s.nextRequested(b1, on: 1)
        expectHanded(s.deliver("r1", "r1", on: 1), "b0", true)
        expectHanded(s.deliver("r2", "r2", on: 1), "b1", true)
        // None left on loop 1: the longest-waiting one elsewhere, not on the same loop.
        expectHanded(s.deliver("r3", "r3", on: 1), "a0", false)
        // None anywhere: it queues.
        guard case .queued = s.deliver("r4", "r4", on: 1) else { Issue.record("not queued"); return }
        #expect(s.inFlight.keys.sorted() == ["r1", "r2", "r3", "r4"])
        #expect(s.waitingCount == 0)
    }

    @Test func offAnyLoopTheLongestWaitingNextIsTaken() {
        var s = State()
        let a = Next("a"), b = Next("b"), c = Next("c")
        _ = s.nextRequested(a, on: 1)
        _ = s.nextRequested(b, on: 0)
        _ = s.nextRequested(c, on: 1)
        expectHanded(s.deliver("r1", "r1", on: nil), "a", false)
        expectHanded(s.deliver("r2", "r2", on: nil), "b", false)
        expectHanded(s.deliver("r3", "r3", on: 7), "c", false)
    }

    @Test func queuedInvocationsGoOutInOrderToWhicheverNextAsks() {
        var s = State()
        for id in ["r1", "r2", "r3"] {
            guard case .queued = s.deliver(id, id, on: 0) else { Issue.record("\(id) not queued"); return }
        }
        var carried: [String] = []
        for (i, loop) in [1, 0, 1].enumerated() {
            let (first, step) = s.nextRequested(Next("n\(i)"), on: loop)
            #expect(first == (i == 0))
            guard case .carry(let inv) = step else { Issue.record("next \(i) not answered"); return }
            carried.append(inv)
        }
        #expect(carried == ["r1", "r2", "r3"])
        guard case .wait = s.nextRequested(Next("n3"), on: 0).step else { Issue.record("should wait"); return }
    }

    @Test func aNextTakesAQueuedInvocationOfItsOwnLoopButPassesTheOldestOverOnlyTwice() {
        var s = State()
        for (id, loop) in [("r1", 0), ("r2", 1), ("r3", 1), ("r4", 1), ("r5", 0)] {
            guard case .queued = s.deliver(id, id, on: loop) else { Issue.record("\(id) not queued"); return }
        }
        var carried: [String] = []
        for i in 0..<5 {
            guard case .carry(let inv) = s.nextRequested(Next("n\(i)"), on: 1).step else { Issue.record("next \(i) not answered"); return }
            carried.append(inv)
        }
        // r2 and r3 overtake r1 (delivered on loop 0), then r1 may wait no longer.
        #expect(carried == ["r2", "r3", "r1", "r4", "r5"])
        #expect(State.maxHeadPasses == 2)

        // Beyond the window, the oldest goes first.
        var t = State()
        for i in 0..<State.sameLoopWindow { _ = t.deliver("a\(i)", "a\(i)", on: 0) }
        _ = t.deliver("b", "b", on: 1)
        guard case .carry(let first) = t.nextRequested(Next("x"), on: 1).step else { Issue.record("not answered"); return }
        #expect(first == "a0")

        // Invocations delivered off any loop are taken in order by every loop.
        var u = State()
        _ = u.deliver("o1", "o1", on: nil)
        _ = u.deliver("o2", "o2", on: nil)
        guard case .carry(let o) = u.nextRequested(Next("y"), on: 1).step else { Issue.record("not answered"); return }
        #expect(o == "o1")
    }

    @Test func aRedeliveredInvocationPrefersTheLoopItCameBackOnAndOtherwiseGoesFirst() {
        var s = State()
        let a = Next("a"), b = Next("b")
        _ = s.nextRequested(a, on: 0)
        expectHanded(s.deliver("r1", "r1", on: 0), "a", true)
        // Its connection (loop 0) died before the runtime read it; a next waits on loop 1 only.
        _ = s.nextRequested(b, on: 1)
        guard case .handOver(let next, let inv, let same) = s.redeliver("r1", on: 0) else { Issue.record("not handed over"); return }
        #expect(next === b && inv == "r1" && !same)
        // Again, with nothing waiting: it goes ahead of one queued after it.
        guard case .queued = s.deliver("r2", "r2", on: 1) else { Issue.record("r2 not queued"); return }
        guard case .queued = s.redeliver("r1", on: 1) else { Issue.record("r1 not queued"); return }
        #expect(s.queued.map(\.id) == ["r1", "r2"])
        // With a next waiting on the same loop, it goes there.
        var t = State()
        let c = Next("c"), d = Next("d")
        _ = t.deliver("q", "q", on: nil)
        _ = t.nextRequested(Next("x"), on: 0)
        _ = t.nextRequested(c, on: 0)
        _ = t.nextRequested(d, on: 1)
        guard case .handOver(let n, _, let sameLoop) = t.redeliver("q", on: 1) else { Issue.record("q not handed over"); return }
        #expect(n === d && sameLoop)
    }

    @Test func aCompletedOrClosedInvocationIsNotRedelivered() {
        var s = State()
        _ = s.nextRequested(Next("a"), on: 0)
        _ = s.deliver("r1", "r1", on: 0)
        let once = s.complete("r1"), twice = s.complete("r1")
        #expect(once == "r1" && twice == nil)
        _ = s.nextRequested(Next("b"), on: 0)
        guard case .dropped = s.redeliver("r1", on: 0) else { Issue.record("completed one redelivered"); return }
        #expect(s.waitingCount == 1)
        _ = s.deliver("r2", "r2", on: 0)
        _ = s.close(.crashed, FunctionError(errorType: "Runtime.ExitError", errorMessage: "x"))
        guard case .dropped = s.redeliver("r2", on: 0) else { Issue.record("closed one redelivered"); return }
    }

    @Test func aQueuedInvocationThatCompletesLeavesTheQueue() {
        var s = State()
        _ = s.deliver("r1", "r1", on: 0)
        _ = s.deliver("r2", "r2", on: 0)
        let timedOut = s.complete("r1")  // timed out while queued
        #expect(timedOut == "r1")
        guard case .carry(let inv) = s.nextRequested(Next("a"), on: 0).step else { Issue.record("not answered"); return }
        #expect(inv == "r2")
    }

    @Test func anAbandonedNextIsNeverHandedAnInvocation() {
        var s = State()
        let a = Next("a"), b = Next("b")
        _ = s.nextRequested(a, on: 0)
        _ = s.nextRequested(b, on: 1)
        let removed = s.nextAbandoned(a), again = s.nextAbandoned(a)
        #expect(removed && !again)
        expectHanded(s.deliver("r1", "r1", on: 0), "b", false)
        guard case .queued = s.deliver("r2", "r2", on: 0) else { Issue.record("not queued"); return }
    }

    @Test func closingFailsWhatIsInFlightAndEveryLaterDelivery() {
        var s = State()
        _ = s.nextRequested(Next("a"), on: 0)
        _ = s.deliver("r1", "r1", on: 0)  // handed to a
        _ = s.nextRequested(Next("b"), on: 1)
        _ = s.deliver("r2", "r2", on: 0)  // handed to b
        _ = s.nextRequested(Next("c"), on: 1)
        let error = FunctionError(errorType: "Runtime.ExitError", errorMessage: "exit 1")
        let (pending, nexts) = s.close(.crashed, error)
        #expect(pending.sorted() == ["r1", "r2"])
        #expect(nexts.map(\.name) == ["c"])
        #expect(s.inFlight.isEmpty && s.queued.isEmpty && s.waitingCount == 0)
        guard case .closed(.crashed, let e) = s.deliver("r3", "r3", on: 0) else { Issue.record("delivered after close"); return }
        #expect(e == error)
        #expect(s.inFlight.isEmpty)
        // A later close keeps the first reason.
        _ = s.close(.timeout, FunctionError(errorType: "Sandbox.Timedout", errorMessage: ""))
        guard case .closed(.crashed, _) = s.deliver("r4", "r4", on: 0) else { Issue.record("reason changed"); return }
        guard case .closed = s.nextRequested(Next("c"), on: 0).step else { Issue.record("next waits after close"); return }
    }
}
