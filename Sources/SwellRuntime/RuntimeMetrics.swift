import SwellModel
import Synchronization

/// Counters of the runtime per function (namespace/name), ready for the metrics endpoint.
public final class RuntimeMetrics: Sendable {
    public enum Counter: String, Sendable, CaseIterable {
        case invocations, errors, throttles, coldStarts, startsDenied, evictions, outOfMemory
    }

    public struct FunctionCounters: Sendable {
        public var counts: [Counter: Int] = [:]
        /// Sum of init durations of cold starts, in seconds.
        public var initSeconds: Double = 0
    }

    private let state = Mutex<[String: FunctionCounters]>([:])

    public init() {}

    func count(_ key: FunctionKey, _ counter: Counter, by n: Int = 1) {
        let name = "\(key.namespace)/\(key.name)"
        state.withLock { $0[name, default: FunctionCounters()].counts[counter, default: 0] += n }
    }

    func coldStart(_ key: FunctionKey, init duration: Duration) {
        let name = "\(key.namespace)/\(key.name)"
        state.withLock {
            $0[name, default: FunctionCounters()].counts[.coldStarts, default: 0] += 1
            $0[name, default: FunctionCounters()].initSeconds += duration.seconds
        }
    }

    /// Every function's counters, keyed `namespace/name`.
    public func snapshot() -> [String: FunctionCounters] {
        state.withLock { $0 }
    }
}
