import Foundation
import Hummingbird
import NIOPosix
import SwellInvoker
import SwellModel
import SwellRuntime
import SwellTriggers
import SwellTasks

/// `GET .../functions/{name}/instances` and the Prometheus `GET /v1/metrics`.
struct InstanceRoutes {
    let catalog: Catalog
    let runtime: RuntimeManager
    let triggers: TriggerManager
    let tasks: TaskService
    /// The swift-metrics/Prometheus registry: histograms of the invoke path and the scrape-time gauges.
    let node: NodeMetrics

    func register(on group: RouterGroup<SwellRequestContext>) {
        group.get("namespaces/:ns/functions/:name/instances") { _, ctx in
            let (ns, name) = try names(ctx)
            _ = try ctx.authorize(ns, .developer)
            guard catalog.function(ns, name) != nil else { throw SwellError.notFound("function \(name) does not exist in namespace \(ns)") }
            var instances: [InstanceSnapshot] = []
            for pool in runtime.pools(namespace: ns, name: name) { instances += pool.snapshot() }
            return try JSONBody.response(["instances": instances])
        }
        group.get("metrics") { _, ctx in
            _ = try ctx.authorize("default", .admin)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: try await metricsText() + tasks.metrics().prometheusText + triggers.prometheusText())))
        }
    }

    /// The Prometheus text exposition of the runtime's counters and gauges.
    func metricsText() async throws -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func labels(_ f: RuntimeMetrics.Function) -> String {
            "{namespace=\"\(f.namespace)\",function=\"\(f.name)\"}"
        }
        let counters = runtime.metrics.snapshot().sorted { $0.key < $1.key }
        let described: [(RuntimeMetrics.Counter, String, String)] = [
            (.invocations, "swell_invocations_total", "Invocations that got a slot (sync and async)."),
            (.errors, "swell_invocation_errors_total", "Invocations that ended in a function error."),
            (.throttles, "swell_throttles_total", "Requests turned away with 429 (queue full or wait timed out)."),
            (.coldStarts, "swell_cold_starts_total", "Invocations that waited for an instance to start."),
            (.startsDenied, "swell_instance_starts_denied_total", "Instance starts refused by the memory budget or namespace quota."),
            (.evictions, "swell_instance_evictions_total", "Idle instances stopped to free memory for another function."),
            (.outOfMemory, "swell_out_of_memory_total", "Instances killed for exceeding their memory limit."),
        ]
        for (counter, name, help) in described {
            family(name, "counter", help)
            for (function, c) in counters { out += "\(name)\(labels(function)) \(c.counts[counter, default: 0])\n" }
        }
        family("swell_init_seconds_total", "counter", "Sum of cold-start init durations.")
        for (function, c) in counters { out += "swell_init_seconds_total\(labels(function)) \(c.initSeconds)\n" }

        // Gauges and the invoke path's histograms: through the Prometheus registry (reading
        // the instances' memory from /proc is file work: off the cooperative pool).
        let node = self.node
        let runtime = self.runtime
        out += try await NIOThreadPool.singleton.runIfActive { node.scrape(runtime) }
        return out
    }
}
