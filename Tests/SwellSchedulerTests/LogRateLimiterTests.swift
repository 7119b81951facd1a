import SwellModel
import Testing

@testable import SwellScheduler

/// The log rate limit, as a value with a hand-driven clock.
@Suite struct LogRateLimiterTests {
    let limits = LogLimits(
        namespaceBytesPerSecond: 10_000, namespaceLinesPerSecond: 100, functionReservedBytesPerSecond: 1_000,
        functionReservedLinesPerSecond: 10, burstSeconds: 1)

    @Test func aFloodSpendsItsNamespaceBudgetThenIsDropped() {
        var l = LogRateLimiter(limits)
        var admitted = 0
        for _ in 0..<1000 where l.admit(namespace: "a", function: "flood", bytes: 100, now: 0) { admitted += 1 }
        // The function's reserved 10 lines, then the namespace's 100.
        #expect(admitted == 110)
        // A second later the budgets have refilled by a second's worth.
        admitted = 0
        for _ in 0..<1000 where l.admit(namespace: "a", function: "flood", bytes: 100, now: 1) { admitted += 1 }
        #expect(admitted == 110)
    }

    @Test func anotherFunctionOfTheFloodedNamespaceKeepsItsReservedRate() {
        var l = LogRateLimiter(limits)
        for _ in 0..<10_000 { _ = l.admit(namespace: "a", function: "flood", bytes: 100, now: 0) }
        let reserved = (0..<10).allSatisfy { _ in l.admit(namespace: "a", function: "quiet", bytes: 50, now: 0) }
        #expect(reserved)
        let ok1 = l.admit(namespace: "a", function: "quiet", bytes: 50, now: 0)

        #expect(!ok1)
    }

    @Test func otherNamespacesAreUntouched() {
        var l = LogRateLimiter(limits)
        for _ in 0..<10_000 { _ = l.admit(namespace: "a", function: "flood", bytes: 100, now: 0) }
        let untouched = (0..<110).allSatisfy { _ in l.admit(namespace: "b", function: "victim", bytes: 90, now: 0) }
        #expect(untouched)
    }

    @Test func bytesAreLimitedAsWellAsLines() {
        var l = LogRateLimiter(limits)
        // 16 KB lines: larger than the reserved byte budget and the namespace's (10 KB) alike.
        let ok2 = l.admit(namespace: "a", function: "f", bytes: 16_384, now: 0)

        #expect(!ok2)
        let ok3 = l.admit(namespace: "a", function: "f", bytes: 9_000, now: 0)

        #expect(ok3)
        let ok4 = l.admit(namespace: "a", function: "f", bytes: 2_000, now: 0)

        #expect(!ok4)
    }

    @Test func idleBucketsAreForgotten() {
        var l = LogRateLimiter(limits)
        for f in 0..<100 { _ = l.admit(namespace: "a", function: "f\(f)", bytes: 10, now: 0) }
        #expect(l.trackedCount == 100)
        l.forgetIdle(now: 0)
        #expect(l.trackedCount == 100)
        l.forgetIdle(now: 5)
        #expect(l.trackedCount == 0)
    }
}
