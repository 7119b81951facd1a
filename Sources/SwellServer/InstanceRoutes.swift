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
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: try await metricsText() + tasks.metrics().prometheusText + triggers.prometheusText() + (await workflows?.currentMetrics().prometheusText ?? ""))))
        }
    }

    /// The Prometheus text exposition of the runtime's counters and gauges and the invoke
    /// path's histograms, all kept in the Prometheus registry.
    func metricsText() async throws -> String {
        // Reading the instances' memory from /proc is file work: off the cooperative pool.
        let node = self.node
        let runtime = self.runtime
        return try await NIOThreadPool.singleton.runIfActive { node.scrape(runtime) }
    }
}
