import Foundation
import Logging
import ServiceLifecycle
import SwellInvoker
import SwellModel
import SwellStore
import SwellTasks

/// Runs every function's and every workflow's triggers: each half second it compares the
/// catalog's (and the workflows') triggers with the running ones, starts new ones, restarts
/// changed ones and stops removed ones. A workflow's triggers start executions of it.
/// Pausing is kept in `triggers.db`, so it survives restarts and redeploys.
public actor TriggerManager: Service {
    struct Running {
        var config: TriggerConfig
        var runner: any TriggerRunner
        var task: Task<Void, Never>
    }

    let catalog: Catalog
    let invoker: Invoker
    let tasks: TaskService
    let store: any TriggerStorage
    let kafka: KafkaClients
    let logger: Logger
    private var running: [TriggerID: Running] = [:]
    private var objectStores: [String: [TriggerID: ObjectStoreTrigger]] = [:]
    /// The triggers whose stored state was last kept (nil: not pruned yet since start).
    private var retained: Set<String>?
    /// Starts workflows and lists their triggers (set once by the server, before `run`).
    private var workflows: (any WorkflowTriggerHost)?

    public init(catalog: Catalog, invoker: Invoker, tasks: TaskService, store: any TriggerStorage, kafka: KafkaClients, logger: Logger) {
        self.catalog = catalog
        self.invoker = invoker
        self.tasks = tasks
        self.store = store
        self.kafka = kafka
        self.logger = logger
    }

    /// Lets workflows have triggers: `host` lists them and starts their executions.
    public func setWorkflowHost(_ host: any WorkflowTriggerHost) {
        workflows = host
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                await reconcile()
                try? await Task.sleep(for: .milliseconds(500))
            }
        } onGracefulShutdown: {}
        await stopAll()
    }

    /// One pass: start, restart and stop runners so that they match the catalog.
    public func reconcile() async {
        var wanted: [TriggerID: TriggerConfig] = [:]
        for binding in catalog.triggerBindings() {
            for t in binding.triggers { wanted[TriggerID(namespace: binding.namespace, function: binding.function, name: t.name)] = t }
        }
        if let workflows {
            do {
                for binding in try await workflows.workflowTriggers() {
                    for t in binding.triggers { wanted[TriggerID(namespace: binding.namespace, workflow: binding.workflow, name: t.name)] = t }
                }
            } catch {
                // Without the list, keep the workflows' triggers as they run (stopping them would lose nothing but time).
                logger.warning("workflow triggers could not be read", metadata: ["error": "\(error)"])
                for (id, r) in running where id.kind == .workflow { wanted[id] = r.config }
            }
        }
        // The stored pause switches of the triggers to start, read before deciding anything:
        // what follows runs without a suspension point, so two passes never start one trigger twice.
        var switches: [TriggerID: Bool] = [:]
        for id in wanted.keys where running[id]?.config != wanted[id] {
            if let paused = (try? await store.paused(id.description)) ?? nil { switches[id] = paused }
        }
        for (id, r) in running where wanted[id] != r.config {
            r.task.cancel()
            running.removeValue(forKey: id)
            objectStores[id.namespace]?.removeValue(forKey: id)
            logger.info("trigger stopped", metadata: ["trigger": "\(id)"])
        }
        for (id, config) in wanted.sorted(by: { $0.key < $1.key }) where running[id] == nil {
            let paused = switches[id] ?? !config.enabled
            let delivery: TriggerDelivery
            switch id.kind {
            case .function: delivery = .tasks(tasks)
            case .workflow:
                guard let workflows else { continue }
                delivery = .workflows(workflows)
            }
            let runner: any TriggerRunner
            switch config.source {
            case .kafka(let k):
                runner = KafkaTrigger(
                    id: id, config: config, kafka: k, invoker: invoker, clients: kafka, paused: paused, logger: logger, workflows: workflows)
            case .timer(let t):
                runner = TimerTrigger(id: id, config: config, timer: t, delivery: delivery, store: store, paused: paused, logger: logger)
            case .objectStore(let o):
                let trigger = ObjectStoreTrigger(id: id, config: config, objectStore: o, delivery: delivery, paused: paused)
                objectStores[id.namespace, default: [:]][id] = trigger
                runner = trigger
            }
            let task = Task { await runner.run() }
            running[id] = Running(config: config, runner: runner, task: task)
            logger.info("trigger started", metadata: ["trigger": "\(id)", "type": "\(config.type)", "paused": "\(paused)"])
        }
        // Forget the stored state (pause switch, last fire) of triggers that were removed.
        let ids = Set(wanted.keys.map(\.description))
        if ids != retained {
            retained = ids
            do {
                try await store.retain(ids)
            } catch {
                retained = []
                logger.warning("trigger state could not be pruned", metadata: ["error": "\(error)"])
            }
        }
    }

    var runningIDs: [TriggerID] { Array(running.keys) }

    private func stopAll() async {
        let all = running
        running.removeAll()
        objectStores.removeAll()
        for r in all.values { r.task.cancel() }
        for r in all.values { await r.task.value }
    }

    // MARK: API

    /// The status of every trigger in `namespace` (of one function, or one workflow, when given).
    public func list(namespace: String, function: String? = nil, workflow: String? = nil) async -> [TriggerStatus] {
        await reconcile()
        var result: [TriggerStatus] = []
        for (id, r) in running.sorted(by: { $0.key < $1.key }) where id.namespace == namespace {
            if let function, id.kind != .function || id.function != function { continue }
            if let workflow, id.kind != .workflow || id.function != workflow { continue }
            result.append(await r.runner.status())
        }
        return result
    }

    public func get(namespace: String, function: String, name: String) async throws(SwellError) -> TriggerStatus {
        try await runner(TriggerID(namespace: namespace, function: function, name: name)).status()
    }

    public func get(namespace: String, workflow: String, name: String) async throws(SwellError) -> TriggerStatus {
        try await runner(TriggerID(namespace: namespace, workflow: workflow, name: name)).status()
    }

    /// Pauses or resumes a trigger; the switch is stored and outlives restarts and redeploys.
    public func setPaused(namespace: String, function: String, name: String, paused: Bool) async throws(SwellError) -> TriggerStatus {
        try await setPaused(TriggerID(namespace: namespace, function: function, name: name), paused: paused)
    }

    /// Pauses or resumes a workflow's trigger, as ``setPaused(namespace:function:name:paused:)``.
    public func setPaused(namespace: String, workflow: String, name: String, paused: Bool) async throws(SwellError) -> TriggerStatus {
        try await setPaused(TriggerID(namespace: namespace, workflow: workflow, name: name), paused: paused)
    }

    private func setPaused(_ id: TriggerID, paused: Bool) async throws(SwellError) -> TriggerStatus {
        let r = try await runner(id)
        do {
            try await store.setPaused(id.description, paused)
        } catch {
            throw SwellError(.internal, "the trigger state could not be stored: \(error)")
        }
        await r.setPaused(paused)
        return await r.status()
    }

    private func runner(_ id: TriggerID) async throws(SwellError) -> any TriggerRunner {
        await reconcile()
        if id.kind == .function, catalog.function(id.namespace, id.function) == nil {
            throw SwellError.notFound("function \(id.function) does not exist in namespace \(id.namespace)")
        }
        guard let r = running[id] else {
            let names = running.keys.filter { $0.namespace == id.namespace && $0.kind == id.kind && $0.function == id.function }.map(\.name).sorted()
            throw SwellError.notFound("\(id.kind.rawValue) \(id.function) has no trigger \(id.name) (it has: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
        }
        return r.runner
    }

    /// Hands S3-style event notification records to the namespace's object-store triggers.
    public func objectEvents(namespace: String, records: [ObjectEventRecord]) async -> ObjectEventsOutcome {
        await reconcile()
        var outcome = ObjectEventsOutcome(received: records.count)
        for (_, trigger) in (objectStores[namespace] ?? [:]).sorted(by: { $0.key < $1.key }) {
            let delivered = await trigger.deliver(records)
            outcome.matched += delivered.matched
            outcome.tasks += delivered.tasks
            outcome.errors += delivered.errors
        }
        return outcome
    }
}
