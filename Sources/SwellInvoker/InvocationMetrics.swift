import CoreMetrics
import SwellModel
import SwellRuntime
import SwellScheduler
import Synchronization

/// Per-function metrics of the invoke path, through swift-metrics (the server hands in a
/// Prometheus factory; tests a `TestMetrics`): run-duration histograms split by cold and warm
/// start, init durations, queue waits, function errors by type and throttles by reason.
///
/// The handles of a function are made once and kept; an invocation costs one dictionary look-up
/// under a lock, then the histograms' own updates.
///
/// ```swift
/// let metrics = InvocationMetrics(factory: PrometheusMetricsFactory(registry: registry))
/// metrics.completed(namespace: "default", function: "grade", coldStart: false, run: .milliseconds(12), initDuration: .zero, queueWait: .zero, errorType: nil)
/// ```
public final class InvocationMetrics: Sendable {
    /// Metric labels (names) as they reach the backend.
    public enum Name {
        public static let duration = "swell_invocation_duration_seconds"
        public static let initDuration = "swell_init_duration_seconds"
        public static let queueWait = "swell_queue_wait_seconds"
        public static let errors = "swell_function_errors_total"
        public static let throttles = "swell_throttled_requests_total"
    }

    struct FunctionName: Hashable {
        var namespace: String
        var function: String
    }

    struct Handles: @unchecked Sendable {
        // CoreMetrics' Timer and Counter are final classes whose handlers are Sendable.
        var warm: Timer
        var cold: Timer
        var initDuration: Timer
        var queueWait: Timer
        var errors: [String: Counter] = [:]
        var throttles: [String: Counter] = [:]
    }

    let factory: any MetricsFactory
    private let handles = Mutex<[FunctionName: Handles]>([:])

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// A no-op instance (metrics off).
    public static let off = InvocationMetrics(factory: NOOPMetricsHandler.instance)

    private func withHandles<T>(_ namespace: String, _ function: String, _ body: (inout Handles) -> T) -> T {
        handles.withLock { all in
            let key = FunctionName(namespace: namespace, function: function)
            if all[key] == nil {
                let dims = [("namespace", namespace), ("function", function)]
                all[key] = Handles(
                    warm: Timer(label: Name.duration, dimensions: dims + [("start", "warm")], factory: factory),
                    cold: Timer(label: Name.duration, dimensions: dims + [("start", "cold")], factory: factory),
                    initDuration: Timer(label: Name.initDuration, dimensions: dims, factory: factory),
                    queueWait: Timer(label: Name.queueWait, dimensions: dims, factory: factory))
            }
            return body(&all[key]!)
        }
    }

    /// One invocation that ran: its run time (by cold or warm start), its init when cold, the
    /// time it waited for a slot, and its error type when it failed.
    public func completed(
        namespace: String, function: String, coldStart: Bool, run: Duration, initDuration: Duration, queueWait: Duration, errorType: String?
    ) {
        let (duration, initTimer, wait, errors) = withHandles(namespace, function) { h -> (Timer, Timer?, Timer, Counter?) in
            var counter: Counter?
            if let errorType {
                if h.errors[errorType] == nil {
                    h.errors[errorType] = Counter(
                        label: Name.errors, dimensions: [("namespace", namespace), ("function", function), ("type", errorType)], factory: factory)
                }
                counter = h.errors[errorType]
            }
            return (coldStart ? h.cold : h.warm, coldStart ? h.initDuration : nil, h.queueWait, counter)
        }
        duration.recordNanoseconds(run.nanoseconds)
        initTimer?.recordNanoseconds(initDuration.nanoseconds)
        wait.recordNanoseconds(queueWait.nanoseconds)
        errors?.increment()
    }

    /// A request turned away (429) for `reason`.
    public func throttled(namespace: String, function: String, reason: RejectReason) {
        let name = Self.name(reason)
        let counter = withHandles(namespace, function) { h -> Counter in
            if let c = h.throttles[name] { return c }
            let c = Counter(label: Name.throttles, dimensions: [("namespace", namespace), ("function", function), ("reason", name)], factory: factory)
            h.throttles[name] = c
            return c
        }
        counter.increment()
    }

    static func name(_ reason: RejectReason) -> String {
        switch reason {
        case .queueFull: "queue_full"
        case .queueTimeout: "queue_timeout"
        case .shuttingDown: "shutting_down"
        case .startFailed: "start_failed"
        case .cancelled: "cancelled"
        }
    }
}

extension Duration {
    /// Whole nanoseconds (negative durations count as zero).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return max(0, seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000)
    }
}
