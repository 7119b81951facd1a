import SwellModel

/// Decides, line by line, whether a function's output is stored: each function has a small
/// reserved rate of its own, and beyond it spends its namespace's shared budget. A function
/// that floods therefore exhausts its namespace's budget (and only that), while every other
/// function keeps at least its reserved rate.
///
/// ```swift
/// var limiter = LogRateLimiter(LogLimits())
/// if limiter.admit(namespace: "a", function: "f", bytes: 120, now: 12.5) { store(line) }
/// ```
public struct LogRateLimiter: Sendable {
    /// Lines and bytes refilled continuously up to a burst.
    struct Bucket: Sendable, Equatable {
        var lines: Double
        var bytes: Double
        var last: Double
        let linesPerSecond: Double
        let bytesPerSecond: Double
        let burstSeconds: Double

        init(linesPerSecond: Int, bytesPerSecond: Int, burstSeconds: Double, now: Double) {
            self.linesPerSecond = Double(linesPerSecond)
            self.bytesPerSecond = Double(bytesPerSecond)
            self.burstSeconds = burstSeconds
            lines = Double(linesPerSecond) * burstSeconds
            bytes = Double(bytesPerSecond) * burstSeconds
            last = now
        }

        mutating func refill(now: Double) {
            guard now > last else { return }
            lines = min(linesPerSecond * burstSeconds, lines + (now - last) * linesPerSecond)
            bytes = min(bytesPerSecond * burstSeconds, bytes + (now - last) * bytesPerSecond)
            last = now
        }

        /// Takes one line of `size` bytes if both budgets allow it.
        mutating func take(size: Int, now: Double) -> Bool {
            refill(now: now)
            guard lines >= 1, bytes >= Double(size) else { return false }
            lines -= 1
            bytes -= Double(size)
            return true
        }

        /// Full again: nothing to remember.
        func isFull(now: Double) -> Bool {
            var copy = self
            copy.refill(now: now)
            return copy.lines >= linesPerSecond * burstSeconds && copy.bytes >= bytesPerSecond * burstSeconds
        }
    }

    let limits: LogLimits
    private var namespaces: [String: Bucket] = [:]
    private var functions: [FunctionRef: Bucket] = [:]

    struct FunctionRef: Hashable, Sendable {
        var namespace: String
        var function: String
    }

    public init(_ limits: LogLimits) {
        self.limits = limits
    }

    /// Whether a line of `bytes` from `namespace/function` may be stored at `now` (seconds).
    public mutating func admit(namespace: String, function: String, bytes: Int, now: Double) -> Bool {
        let ref = FunctionRef(namespace: namespace, function: function)
        if functions[ref, default: Bucket(
            linesPerSecond: limits.functionReservedLinesPerSecond, bytesPerSecond: limits.functionReservedBytesPerSecond,
            burstSeconds: limits.burstSeconds, now: now)].take(size: bytes, now: now)
        {
            return true
        }
        return namespaces[namespace, default: Bucket(
            linesPerSecond: limits.namespaceLinesPerSecond, bytesPerSecond: limits.namespaceBytesPerSecond,
            burstSeconds: limits.burstSeconds, now: now)].take(size: bytes, now: now)
    }

    /// Forgets buckets that have refilled completely, so memory follows the active functions only.
    public mutating func forgetIdle(now: Double) {
        functions = functions.filter { !$0.value.isFull(now: now) }
        namespaces = namespaces.filter { !$0.value.isFull(now: now) }
    }

    /// Buckets remembered (for tests and metrics).
    public var trackedCount: Int { functions.count + namespaces.count }
}
