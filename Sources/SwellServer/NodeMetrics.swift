import Foundation
import Prometheus
import SwellInvoker
import SwellRuntime
import Synchronization

/// The Prometheus side of `GET /v1/metrics`: one `PrometheusCollectorRegistry` that the
/// invoke path's swift-metrics handles (`InvocationMetrics`) write to, and the gauges read
/// off the runtime at each scrape (instances by state and their memory, load, the node's
/// memory budget), set on the same registry and emitted by it.
final class NodeMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    /// The scrape-time gauges set by the last scrape, to unregister those that vanished.
    private let scraped = Mutex<[GaugeKey: Prometheus.Gauge]>([:])
    private let scraping = Mutex<Void>(())

    struct GaugeKey: Hashable {
        var name: String
        var labels: [String]
    }

    /// Bucket bounds of the duration histograms.
    static let runBuckets: [Duration] = [
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(300), .seconds(900),
    ]
    static let initBuckets: [Duration] = [
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]
    static let waitBuckets: [Duration] = [
        .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50),
        .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(10), .seconds(30),
    ]

    static let help: [String: String] = [
        "swell_instances": "Instances starting or running.",
        "swell_concurrent_invocations": "Invocations holding a slot now.",
        "swell_queued_requests": "Requests waiting for a slot now.",
        "swell_memory_reserved_bytes": "Memory reserved by instances against the node's budget.",
        "swell_memory_budget_bytes": "The node's memory budget for instances.",
        "swell_instances_by_state": "Instances per state: starting, idle, busy or stopping.",
        "swell_instance_resident_bytes": "Resident memory of the instances' processes per state (from /proc).",
        "swell_instance_memory_limit_bytes": "Memory the instances may use per state (their functions' memory setting).",
    ]

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            InvocationMetrics.Name.duration: Self.runBuckets,
            InvocationMetrics.Name.initDuration: Self.initBuckets,
            InvocationMetrics.Name.queueWait: Self.waitBuckets,
        ]
        self.factory = factory
    }

    /// The swift-metrics handles of the invoke path, writing to this registry.
    func invocationMetrics() -> InvocationMetrics {
        InvocationMetrics(factory: factory)
    }

    /// Reads the runtime's gauges into the registry and returns the whole exposition.
    func scrape(_ runtime: RuntimeManager) -> String {
        var values: [GaugeKey: Double] = [:]
        func add(_ name: String, _ labels: [String], _ value: Double) {
            values[GaugeKey(name: name, labels: labels), default: 0] += value
        }
        for pool in runtime.allPools() {
            let fn = [pool.key.namespace, pool.key.name]
            let load = pool.load()
            add("swell_instances", fn, Double(load.instances))
            add("swell_concurrent_invocations", fn, Double(load.inFlight))
            add("swell_queued_requests", fn, Double(load.queued))
            for instance in pool.snapshot() {
                add("swell_instances_by_state", fn + [instance.state], 1)
                add("swell_instance_resident_bytes", fn + [instance.state], Double(instance.memoryBytes ?? 0))
                add("swell_instance_memory_limit_bytes", fn + [instance.state], Double(pool.config.memory) * 1024 * 1024)
            }
        }
        let usage = runtime.capacity.usage
        add("swell_memory_reserved_bytes", [], Double(usage.reservedMB) * 1024 * 1024)
        add("swell_memory_budget_bytes", [], Double(usage.budgetMB) * 1024 * 1024)

        return scraping.withLock { _ in
            let gone: [Prometheus.Gauge] = scraped.withLock { gauges in
                var gone: [Prometheus.Gauge] = []
                for (key, gauge) in gauges where values[key] == nil {
                    gone.append(gauge)
                    gauges[key] = nil
                }
                for (key, value) in values {
                    let gauge = gauges[key] ?? registry.makeGauge(name: key.name, labels: Self.labels(key), help: Self.help[key.name] ?? "")
                    gauge.set(to: value)
                    gauges[key] = gauge
                }
                return gone
            }
            for gauge in gone { registry.unregisterGauge(gauge) }
            return registry.emitToString()
        }
    }

    static func labels(_ key: GaugeKey) -> [(String, String)] {
        zip(["namespace", "function", "state"], key.labels).map { ($0, $1) }
    }
}
