/// What ended an attempt of an async task, as the retry policy classifies it.
public enum AttemptOutcome: Sendable, Hashable {
    case succeeded
    /// The handler failed (threw, crashed, ran out of memory, failed to init): counts as an attempt.
    case functionError
    /// The invocation ran past its timeout: counts as an attempt.
    case timeout
    /// No slot could be had (queue full or wait timed out): does not count as an attempt.
    case throttled
    /// The platform could not run it (shutting down, no instance could start): does not count.
    case platformFault
}

/// What happens to a task after an attempt.
public enum RetryDecision: Sendable, Hashable {
    case succeed
    /// Run again after this many seconds; `countsAsAttempt` says whether the attempt used one up.
    case retry(after: Double, countsAsAttempt: Bool)
    /// Attempts used up: the task failed (kept in the dead-letter list).
    case fail
    /// Older than the maximum event age: given up.
    case expire
}

/// The retry rules of async invocation, as a pure function.
///
/// Function errors and timeouts use up an attempt and are retried with exponential backoff
/// (`baseDelay × 2^(n-1)`, capped at `maxDelay`) with full jitter in its upper half; throttles
/// and platform faults are retried on the same backoff without using up an attempt. Nothing
/// is retried once the task is older than `maxEventAge`.
public struct RetryPolicy: Sendable, Hashable {
    public var maxAttempts: Int
    public var maxEventAge: Double
    public var baseDelay: Double
    public var maxDelay: Double

    public init(maxAttempts: Int, maxEventAge: Double, baseDelay: Double, maxDelay: Double) {
        self.maxAttempts = maxAttempts
        self.maxEventAge = maxEventAge
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// - Parameters:
    ///   - attemptsUsed: attempts counted so far, including this one when it counts.
    ///   - retriesSoFar: every re-run so far (counted or not), which drives the backoff.
    ///   - age: seconds since the task was enqueued.
    ///   - random: a number in 0..<1 for the jitter.
    public func decide(_ outcome: AttemptOutcome, attemptsUsed: Int, retriesSoFar: Int, age: Double, random: Double) -> RetryDecision {
        let counts: Bool
        switch outcome {
        case .succeeded: return .succeed
        case .functionError, .timeout: counts = true
        case .throttled, .platformFault: counts = false
        }
        if counts && attemptsUsed >= maxAttempts { return .fail }
        let exponent = Double(min(retriesSoFar, 30))
        let ceiling = min(maxDelay, baseDelay * pow2(exponent))
        let delay = ceiling / 2 + ceiling / 2 * random
        if age + delay >= maxEventAge { return .expire }
        return .retry(after: delay, countsAsAttempt: counts)
    }

    private func pow2(_ x: Double) -> Double {
        var r = 1.0
        for _ in 0..<Int(x) { r *= 2 }
        return r
    }
}
