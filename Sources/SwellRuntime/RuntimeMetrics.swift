import SwellModel
import Synchronization

/// Counters of the runtime per function (namespace/name), ready for the metrics endpoint.
public final class RuntimeMetrics: Sendable {
    public enum Counter: String, Sendable, CaseIterable {
        case invocations, errors, throttles, coldStarts, startsDenied, evictions, outOfMemory
    }

    /// A function across its versions.
    public struct Function: Sendable, Hashable, Comparable {
        public var namespace: String
        public var name: String

        public init(namespace: String, name: String) {
            self.namespace = namespace
            self.name = name
        }

        public static func < (a: Function, b: Function) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
    }

    public struct FunctionCounters: Sendable {
        public var counts: [Counter: Int] = [:]
        /// Sum of init durations of cold starts, in seconds.
        public var initSeconds: Double = 0
    }

    private let state = Mutex<[Function: FunctionCounters]>([:])

    public init() {}

    func count(_ key: FunctionKey, _ counter: Counter) {
        state.withLock { $0[Function(namespace: key.namespace, name: key.name), default: FunctionCounters()].counts[counter, default: 0] += 1 }
    }

    /// One invocation that held a slot: counted, with its error and cold start, under one lock.
    func invoked(_ key: FunctionKey, failed: Bool, coldStartInit: Duration?) {
        state.withLock { all in
            let f = Function(namespace: key.namespace, name: key.name)
            var c = all[f] ?? FunctionCounters()
            c.counts[.invocations, default: 0] += 1
            if failed { c.counts[.errors, default: 0] += 1 }
            if let coldStartInit {
                c.counts[.coldStarts, default: 0] += 1
                c.initSeconds += coldStartInit.seconds
            }
            all[f] = c
        }
    }

    /// Every function's counters.
    public func snapshot() -> [Function: FunctionCounters] {
        state.withLock { $0 }
    }
}
