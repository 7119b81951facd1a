import Foundation
import Logging
import ServiceLifecycle
import SwellInvoker
import SwellModel
import SwellStore
import SwellTasks

/// Runs every function's triggers: each half second it compares the catalog's triggers
/// with the running ones, starts new ones, restarts changed ones and stops removed ones.
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

    public init(catalog: Catalog, invoker: Invoker, tasks: TaskService, store: any TriggerStorage, kafka: KafkaClients, logger: Logger) {
        self.catalog = catalog
        self.invoker = invoker
        self.tasks = tasks
        self.store = store
        self.kafka = kafka
        self.logger = logger
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
            let runner: any TriggerRunner
            switch config.source {
            case .kafka(let k):
                runner = KafkaTrigger(id: id, config: config, kafka: k, invoker: invoker, clients: kafka, paused: paused, logger: logger)
            case .timer(let t):
                runner = TimerTrigger(id: id, config: config, timer: t, tasks: tasks, store: store, paused: paused, logger: logger)
            case .objectStore(let o):
                let trigger = ObjectStoreTrigger(id: id, config: config, objectStore: o, tasks: tasks, paused: paused)
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

    /// The status of every trigger in `namespace` (of one function when given).
    public func list(namespace: String, function: String? = nil) async -> [TriggerStatus] {
        await reconcile()
        var result: [TriggerStatus] = []
        for (id, r) in running.sorted(by: { $0.key < $1.key }) where id.namespace == namespace && (function == nil || id.function == function) {
            result.append(await r.runner.status())
        }
        return result
    }

    public func get(namespace: String, function: String, name: String) async throws(SwellError) -> TriggerStatus {
        try await runner(namespace, function, name).status()
    }

    /// Pauses or resumes a trigger; the switch is stored and outlives restarts and redeploys.
    public func setPaused(namespace: String, function: String, name: String, paused: Bool) async throws(SwellError) -> TriggerStatus {
        let r = try await runner(namespace, function, name)
        let id = TriggerID(namespace: namespace, function: function, name: name)
        do {
            try await store.setPaused(id.description, paused)
        } catch {
            throw SwellError(.internal, "the trigger state could not be stored: \(error)")
        }
        await r.setPaused(paused)
        return await r.status()
    }

    private func runner(_ namespace: String, _ function: String, _ name: String) async throws(SwellError) -> any TriggerRunner {
        await reconcile()
        guard catalog.function(namespace, function) != nil else {
            throw SwellError.notFound("function \(function) does not exist in namespace \(namespace)")
        }
        guard let r = running[TriggerID(namespace: namespace, function: function, name: name)] else {
            let names = running.keys.filter { $0.namespace == namespace && $0.function == function }.map(\.name).sorted()
            throw SwellError.notFound("function \(function) has no trigger \(name) (it has: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
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
