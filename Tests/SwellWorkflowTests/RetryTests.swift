import Testing
@testable import SwellWorkflow

struct RetryTests {
    @Test func backoffGrowsByTheRateAndStopsAtTheMaxDelay() {
        var rng = SplitMix64(seed: 1)
        let r = Retrier(errorEquals: ["X"], intervalSeconds: 3, maxAttempts: 10, backoffRate: 2.0, maxDelaySeconds: 20)
        #expect((0..<6).map { r.delay(afterAttempt: $0, random: &rng) } == [3, 6, 12, 20, 20, 20])
        let plain = Retrier(errorEquals: ["X"])
        #expect((0..<3).map { plain.delay(afterAttempt: $0, random: &rng) } == [1, 2, 4])
        let flat = Retrier(errorEquals: ["X"], intervalSeconds: 5, backoffRate: 1.0)
        #expect((0..<3).map { flat.delay(afterAttempt: $0, random: &rng) } == [5, 5, 5])
        let fractional = Retrier(errorEquals: ["X"], intervalSeconds: 2, backoffRate: 1.5)
        #expect(fractional.delay(afterAttempt: 2, random: &rng) == 4.5)
    }

    @Test func fullJitterStaysWithinZeroAndTheDelay() {
        var rng = SplitMix64(seed: 9)
        let r = Retrier(errorEquals: ["X"], intervalSeconds: 4, maxAttempts: 10, backoffRate: 2.0, maxDelaySeconds: 10, jitter: .full)
        var seen: Set<Double> = []
        for attempt in 0..<4 {
            let cap = min(4 * Double(1 << attempt), 10)
            for _ in 0..<200 {
                let d = r.delay(afterAttempt: attempt, random: &rng)
                #expect(d >= 0 && d <= cap)
                seen.insert(d)
            }
        }
        #expect(seen.count > 700)  // actually random, not a constant
        // Deterministic for a given generator state.
        var a = SplitMix64(seed: 5), b = SplitMix64(seed: 5)
        #expect(r.delay(afterAttempt: 1, random: &a) == r.delay(afterAttempt: 1, random: &b))
    }

    @Test func errorMatching() {
        #expect(ErrorName.matches(["TypeError"], "TypeError"))
        #expect(!ErrorName.matches(["TypeError"], "RangeError"))
        #expect(ErrorName.matches(["States.ALL"], "Anything"))
        #expect(ErrorName.matches(["States.ALL"], ErrorName.timeout))
        #expect(ErrorName.matches(["States.TaskFailed"], "TypeError"))
        #expect(!ErrorName.matches(["States.TaskFailed"], ErrorName.timeout))
        #expect(ErrorName.matches(["States.TaskFailed", "States.Timeout"], ErrorName.timeout))
        // States.Runtime is terminal: nothing retries or catches it.
        #expect(!ErrorName.matches(["States.ALL"], ErrorName.runtime))
        #expect(!ErrorName.matches(["States.Runtime"], ErrorName.runtime))
    }
}
