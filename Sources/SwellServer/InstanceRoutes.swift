import Foundation
import Hummingbird
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
    var workflows: WorkflowEngine? = nil

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
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: await metricsText() + tasks.metrics().prometheusText + triggers.prometheusText() + (await workflows?.currentMetrics().prometheusText ?? ""))))
        }
    }

    /// The Prometheus text exposition of the runtime's counters and gauges.
    func metricsText() async -> String {
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

        var gauges: [RuntimeMetrics.Function: (instances: Int, inFlight: Int, queued: Int)] = [:]
        for pool in runtime.allPools() {
            let load = pool.load()
            let name = RuntimeMetrics.Function(namespace: pool.key.namespace, name: pool.key.name)
            gauges[name, default: (0, 0, 0)].instances += load.instances
            gauges[name, default: (0, 0, 0)].inFlight += load.inFlight
            gauges[name, default: (0, 0, 0)].queued += load.queued
        }
        let sorted = gauges.sorted { $0.key < $1.key }
        family("swell_instances", "gauge", "Instances starting or running.")
        for (function, g) in sorted { out += "swell_instances\(labels(function)) \(g.instances)\n" }
        family("swell_concurrent_invocations", "gauge", "Invocations holding a slot now.")
        for (function, g) in sorted { out += "swell_concurrent_invocations\(labels(function)) \(g.inFlight)\n" }
        family("swell_queued_requests", "gauge", "Requests waiting for a slot now.")
        for (function, g) in sorted { out += "swell_queued_requests\(labels(function)) \(g.queued)\n" }
        let usage = runtime.capacity.usage
        family("swell_memory_reserved_bytes", "gauge", "Memory reserved by instances against the node's budget.")
        out += "swell_memory_reserved_bytes \(usage.reservedMB * 1024 * 1024)\n"
        family("swell_memory_budget_bytes", "gauge", "The node's memory budget for instances.")
        out += "swell_memory_budget_bytes \(usage.budgetMB * 1024 * 1024)\n"
        return out
    }
}
