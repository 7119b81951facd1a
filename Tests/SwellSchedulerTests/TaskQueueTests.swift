import SwellScheduler
import Testing

@Suite struct TaskQueueTests {
    var seq: UInt64 = 0

    mutating func task(_ id: String, ns: String = "a", fn: String = "f", priority: Int = 0, runAt: Double = 0) -> QueuedTask {
        seq += 1
        return QueuedTask(id: id, namespace: ns, function: fn, priority: priority, runAt: runAt, sequence: seq)
    }

    func drain(_ q: inout TaskQueue, now: Double = 0, allow: (QueuedTask) -> Bool = { _ in true }) -> [String] {
        var out: [String] = []
        while let t = q.next(now: now, allow: allow) { out.append(t.id) }
        return out
    }

    @Test mutating func higherPriorityFirstThenArrivalOrder() {
        var q = TaskQueue()
        q.push(task("low1"), now: 0)
        q.push(task("high", priority: 9), now: 0)
        q.push(task("low2"), now: 0)
        q.push(task("mid", priority: 5), now: 0)
        #expect(drain(&q) == ["high", "mid", "low1", "low2"])
        #expect(q.count == 0)
    }

    @Test mutating func delayedTasksWaitForTheirRunTime() {
        var q = TaskQueue()
        q.push(task("later", runAt: 10), now: 0)
        q.push(task("now"), now: 0)
        #expect(drain(&q, now: 5) == ["now"])
        #expect(q.nextRunAt == 10)
        #expect(q.delayedCount == 1)
        #expect(drain(&q, now: 10) == ["later"])
    }

    @Test mutating func aFloodingNamespaceDoesNotStarveAnother() {
        var q = TaskQueue()
        for i in 0..<1000 { q.push(task("flood\(i)", ns: "big"), now: 0) }
        q.push(task("small1", ns: "small"), now: 0)
        q.push(task("small2", ns: "small"), now: 0)
        let first = (0..<4).compactMap { _ in q.next(now: 0, allow: { _ in true })?.id }
        #expect(first.filter { $0.hasPrefix("small") }.count == 2)
    }

    @Test mutating func aNamespaceJoiningLateGetsNoBankedCreditButIsServedNext() {
        var q = TaskQueue()
        for i in 0..<10 { q.push(task("a\(i)", ns: "a"), now: 0) }
        for _ in 0..<5 { _ = q.next(now: 0, allow: { _ in true }) }
        q.push(task("b0", ns: "b"), now: 0)
        q.push(task("b1", ns: "b"), now: 0)
        q.push(task("b2", ns: "b"), now: 0)
        // b starts at a's pass: they alternate rather than b taking three in a row.
        let order = (0..<4).compactMap { _ in q.next(now: 0, allow: { _ in true })?.namespace }
        #expect(order.filter { $0 == "b" }.count == 2)
    }

    @Test mutating func weightsShareDispatchProportionally() {
        var q = TaskQueue()
        q.setWeight(3, namespace: "gold")
        for i in 0..<100 {
            q.push(task("g\(i)", ns: "gold"), now: 0)
            q.push(task("s\(i)", ns: "silver"), now: 0)
        }
        let first40 = (0..<40).compactMap { _ in q.next(now: 0, allow: { _ in true })?.namespace }
        #expect(first40.filter { $0 == "gold" }.count == 30)
    }

    @Test mutating func aBlockedFunctionDoesNotBlockItsNamespacesOtherFunctions() {
        var q = TaskQueue()
        q.push(task("capped1", fn: "capped", priority: 9), now: 0)
        q.push(task("free1", fn: "free"), now: 0)
        #expect(drain(&q, allow: { $0.function != "capped" }) == ["free1"])
        #expect(q.readyCount == 1)
        #expect(drain(&q) == ["capped1"])
    }

    @Test mutating func removeTakesOutWaitingAndDelayedTasks() {
        var q = TaskQueue()
        q.push(task("x"), now: 0)
        q.push(task("y", runAt: 100), now: 0)
        q.push(task("z"), now: 0)
        let removed = [q.remove("x", namespace: "a", function: "f"), q.remove("y", namespace: "a", function: "f"),
                       q.remove("nope", namespace: "a", function: "f")]
        #expect(removed == [true, true, false])
        #expect(drain(&q, now: 200) == ["z"])
    }

    @Test mutating func aLongQueueIsNotCopiedPerOperation() {
        // Pushes and pops mutate the heaps in place: 50,000 tasks take well under a second
        // (with a copy of the heap per push and pop they took minutes).
        var q = TaskQueue()
        let n = 50_000
        let clock = ContinuousClock()
        let started = clock.now
        for i in 0..<n { q.push(task("t\(i)", priority: i % 3), now: 0) }
        var drained = 0
        var last = 10
        var ordered = true
        while let t = q.next(now: 0, allow: { _ in true }) {
            if t.priority > last { ordered = false }
            last = t.priority
            drained += 1
        }
        #expect(drained == n)
        #expect(ordered)
        #expect(clock.now - started < .seconds(10))
    }
}

@Suite struct TokenBucketTests {
    @Test func burstThenRate() {
        var b = TokenBucket(rate: 10, burst: 2, now: 0)
        var taken: [Bool] = []
        for t in [0, 0, 0] { taken.append(b.take(now: Double(t))) }
        #expect(taken == [true, true, false])
        #expect(abs(b.wait(now: 0) - 0.1) < 1e-9)
        let afterRefill = [b.take(now: 0.1), b.take(now: 0.15)]
        #expect(afterRefill == [true, false])
        // Refilled after a long pause, but only up to the burst.
        let later = [b.take(now: 10), b.take(now: 10), b.take(now: 10)]
        #expect(later == [true, true, false])
    }
}

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(maxAttempts: 3, maxEventAge: 3600, baseDelay: 1, maxDelay: 300)

    @Test func functionErrorsRetryWithBackoffUntilAttemptsRunOut() {
        #expect(policy.decide(.functionError, attemptsUsed: 1, retriesSoFar: 0, age: 0, random: 1) == .retry(after: 1, countsAsAttempt: true))
        #expect(policy.decide(.timeout, attemptsUsed: 2, retriesSoFar: 1, age: 1, random: 1) == .retry(after: 2, countsAsAttempt: true))
        #expect(policy.decide(.functionError, attemptsUsed: 3, retriesSoFar: 2, age: 3, random: 1) == .fail)
    }

    @Test func jitterStaysInTheUpperHalf() {
        #expect(policy.decide(.functionError, attemptsUsed: 1, retriesSoFar: 3, age: 0, random: 0) == .retry(after: 4, countsAsAttempt: true))
    }

    @Test func throttlesAndPlatformFaultsDoNotUseUpAttempts() {
        #expect(policy.decide(.throttled, attemptsUsed: 3, retriesSoFar: 5, age: 0, random: 1) == .retry(after: 32, countsAsAttempt: false))
        #expect(policy.decide(.platformFault, attemptsUsed: 3, retriesSoFar: 0, age: 0, random: 1) == .retry(after: 1, countsAsAttempt: false))
    }

    @Test func backoffIsCappedAndAgeExpires() {
        #expect(policy.decide(.functionError, attemptsUsed: 1, retriesSoFar: 20, age: 0, random: 1) == .retry(after: 300, countsAsAttempt: true))
        #expect(policy.decide(.functionError, attemptsUsed: 1, retriesSoFar: 0, age: 3599.5, random: 1) == .expire)
        #expect(policy.decide(.succeeded, attemptsUsed: 1, retriesSoFar: 0, age: 9999, random: 0) == .succeed)
    }
}

@Suite struct IdempotencyIndexTests {
    @Test func aKeyMapsToItsFirstTaskWithinTheWindow() {
        var index = IdempotencyIndex<String>(window: 100)
        index.insert("k", id: "t1", at: 0)
        #expect(index.lookup("k", now: 50) == "t1")
        #expect(index.lookup("k", now: 100) == nil)
        #expect(index.lookup("other", now: 50) == nil)
    }

    @Test func pruningDropsOnlyKeysOutsideTheWindow() {
        var index = IdempotencyIndex<String>(window: 100)
        for i in 0..<1000 { index.insert("k\(i)", id: "t\(i)", at: Double(i)) }
        index.prune(now: 600)
        #expect(index.count == 499)
        #expect(index.lookup("k500", now: 600) == nil)
        #expect(index.lookup("k501", now: 600) == "t501")
        index.prune(now: 2000)
        #expect(index.count == 0)
    }

    @Test func aKeyUsedAgainAfterItsWindowIsNotDroppedByTheOldEntry() {
        var index = IdempotencyIndex<String>(window: 100)
        index.insert("k", id: "old", at: 0)
        index.insert("k", id: "new", at: 150)
        index.prune(now: 160)
        #expect(index.lookup("k", now: 160) == "new")
        #expect(index.count == 1)
    }

    @Test func removeForgetsAKeyOnlyForItsTask() {
        var index = IdempotencyIndex<String>(window: 100)
        index.insert("k", id: "t1", at: 0)
        index.remove("k", id: "t2")
        #expect(index.lookup("k", now: 1) == "t1")
        index.remove("k", id: "t1")
        #expect(index.lookup("k", now: 1) == nil)
    }
}
