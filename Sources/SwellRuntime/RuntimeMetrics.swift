import CoreMetrics
import SwellModel
import Synchronization

/// Counters of the runtime per function (namespace/name, all versions), through swift-metrics:
/// the server hands in its Prometheus factory with `use(_:)` before the first invocation, so
/// the counters reach `GET /v1/metrics` without exposition code of Swell's own.
///
/// A function's counters are made on its first event and kept; each event then costs one
/// look-up under a lock and atomic increments.
public final class RuntimeMetrics: Sendable {
    public enum Counter: String, Sendable, CaseIterable {
        case invocations, errors, throttles, coldStarts, startsDenied, evictions, outOfMemory

        /// Position in `allCases` (and in a function's handles).
        var index: Int {
            switch self {
            case .invocations: 0
            case .errors: 1
            case .throttles: 2
            case .coldStarts: 3
            case .startsDenied: 4
            case .evictions: 5
            case .outOfMemory: 6
            }
        }

        /// The metric's name, as exported.
        public var label: String {
            switch self {
            case .invocations: "swell_invocations_total"
            case .errors: "swell_invocation_errors_total"
            case .throttles: "swell_throttles_total"
            case .coldStarts: "swell_cold_starts_total"
            case .startsDenied: "swell_instance_starts_denied_total"
            case .evictions: "swell_instance_evictions_total"
            case .outOfMemory: "swell_out_of_memory_total"
            }
        }
    }

    /// Sum of cold-start init durations, in seconds.
    public static let initSecondsLabel = "swell_init_seconds_total"

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

    struct Handles: @unchecked Sendable {
        // CoreMetrics' counters are final classes over Sendable handlers.
        var counters: [CoreMetrics.Counter]
        var initSeconds: FloatingPointCounter
    }

    private let factory: Mutex<any MetricsFactory>
    private let state = Mutex<[Function: Handles]>([:])

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = Mutex(factory)
    }

    /// Sends the counters to `factory` from now on (call before the first invocation).
    public func use(_ factory: any MetricsFactory) {
        self.factory.withLock { $0 = factory }
        state.withLock { $0 = [:] }
    }

    private func handles(_ key: FunctionKey) -> Handles {
        let f = Function(namespace: key.namespace, name: key.name)
        if let h = state.withLock({ $0[f] }) { return h }
        let factory = self.factory.withLock { $0 }
        let dims = [("namespace", key.namespace), ("function", key.name)]
        let made = Handles(
            counters: Counter.allCases.map { CoreMetrics.Counter(label: $0.label, dimensions: dims, factory: factory) },
            initSeconds: FloatingPointCounter(label: Self.initSecondsLabel, dimensions: dims, factory: factory))
        return state.withLock { all in
            if let h = all[f] { return h }
            all[f] = made
            return made
        }
    }

    func count(_ key: FunctionKey, _ counter: Counter) {
        handles(key).counters[counter.index].increment()
    }

    /// One invocation that held a slot: counted, with its error and cold start.
    func invoked(_ key: FunctionKey, failed: Bool, coldStartInit: Duration?) {
        let h = handles(key)
        h.counters[Counter.invocations.index].increment()
        if failed { h.counters[Counter.errors.index].increment() }
        if let coldStartInit {
            h.counters[Counter.coldStarts.index].increment()
            h.initSeconds.increment(by: coldStartInit.seconds)
        }
    }
}
