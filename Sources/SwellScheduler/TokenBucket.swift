/// A token bucket: `rate` tokens per second up to `burst`; one token per task started.
public struct TokenBucket: Sendable, Hashable {
    public var rate: Double
    public var burst: Double
    public private(set) var tokens: Double
    private var last: Double

    public init(rate: Double, burst: Double, now: Double) {
        self.rate = rate
        self.burst = max(1, burst)
        self.tokens = max(1, burst)
        self.last = now
    }

    /// Refills for the time passed, then takes a token if there is one.
    public mutating func take(now: Double) -> Bool {
        refill(now: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Whether a token is available now (without taking it).
    public mutating func available(now: Double) -> Bool {
        refill(now: now)
        return tokens >= 1
    }

    /// Seconds until the next token.
    public func wait(now: Double) -> Double {
        let current = min(burst, tokens + (now - last) * rate)
        return current >= 1 ? 0 : (1 - current) / rate
    }

    private mutating func refill(now: Double) {
        if now > last {
            tokens = min(burst, tokens + (now - last) * rate)
            last = now
        }
    }
}
