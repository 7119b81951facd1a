import Foundation
import Logging
import NIOCore
import SwellModel
import SwellScheduler
import Synchronization

/// One invocation as the pool receives it.
public struct InvokeRequest: Sendable {
    public var requestID: String
    public var payload: ByteBuffer
    /// What the caller named (`$LATEST`, `3`, `live`), for the invoked-function ARN.
    public var qualifier: String
    public var traceID: String
    public var clientContext: String?
    /// Latency-sensitive (sync) or offline (async tasks, triggers): offline work yields when slots are short.
    public var workClass: WorkClass
    /// Seconds this invocation may run (nil: the function's timeout).
    public var timeout: Int?

    public init(
        requestID: String, payload: ByteBuffer, qualifier: String, traceID: String, clientContext: String? = nil,
        workClass: WorkClass = .latency, timeout: Int? = nil
    ) {
        self.timeout = timeout
        self.workClass = workClass
        self.requestID = requestID
        self.payload = payload
        self.qualifier = qualifier
        self.traceID = traceID
        self.clientContext = clientContext
    }
}

/// What happened to an invocation, with its timings.
public struct InvokeOutcome: Sendable {
    public enum Result: Sendable {
        case completed(InvocationResult)
        /// No slot could be had (429).
        case throttled(RejectReason)
    }

    public var result: Result
    public var coldStart: Bool
    public var initDuration: Duration
    public var runDuration: Duration
    public var instanceName: String?
}

/// The instances of one function version and the actor that executes its
/// `PoolStateMachine`'s decisions: spawn, route, time out, stop.
public actor InstancePool {
    public nonisolated let key: FunctionKey
    public nonisolated let config: FunctionConfig
    let codeDirectory: String
    let runtime: RuntimeConfiguration
    let sink: any LogSink
    let group: any EventLoopGroup
    let logger: Logger
    let warmPool: WarmPool?
    let sandbox: Sandbox
    let capacity: CapacityGate
    let metrics: RuntimeMetrics
    /// Names this pool in the node's capacity ledger.
    public nonisolated let number: Int
    private var machine: PoolStateMachine
    private var nextTicket: Ticket = 1
    private var waiters: [Ticket: CheckedContinuation<Grant, Never>] = [:]
    private var instances: [InstanceID: RuntimeInstance] = [:]
    private var lastStartError: (FunctionErrorKind, FunctionError)?
    private let origin = ContinuousClock.now
    private var instanceCounter: UInt64
    private var lastDenial: NodeCapacity.Denial?
    /// The instance each in-flight request runs on, to interrupt it.
    private var running: [String: RuntimeInstance] = [:]
    private let latencyWaiting = Mutex(0)
    /// Instances holding a boot permit until they are ready or gone.
    private var bootPermits: Set<InstanceID> = []
    let bootGate: BootGate

    /// Latency-sensitive requests waiting for a slot right now (read without awaiting the actor):
    /// the async dispatcher holds back offline work while this is above zero.
    public nonisolated var queuedLatencyRequests: Int { latencyWaiting.withLock { $0 } }

    enum Grant {
        case slot(RuntimeInstance, coldStart: Bool)
        case rejected(RejectReason)
    }

    public init(
        key: FunctionKey, config: FunctionConfig, codeDirectory: String, runtime: RuntimeConfiguration,
        scheduling: PoolConfiguration, sink: any LogSink, group: any EventLoopGroup, logger: Logger, warmPool: WarmPool? = nil,
        sandbox: Sandbox = .rlimitsOnly, capacity: CapacityGate = CapacityGate(memoryBudgetMB: .max, namespaceMaxInstances: .max),
        metrics: RuntimeMetrics = RuntimeMetrics(), number: Int = 0, bootGate: BootGate = BootGate(permits: 4)
    ) {
        self.bootGate = bootGate
        self.warmPool = warmPool
        self.sandbox = sandbox
        self.capacity = capacity
        self.metrics = metrics
        self.number = number
        self.key = key
        self.config = config
        self.codeDirectory = codeDirectory
        self.runtime = runtime
        self.sink = sink
        self.group = group
        self.logger = logger
        self.machine = PoolStateMachine(configuration: scheduling)
        self.instanceCounter = UInt64.random(in: 0..<(1 << 40))
    }

    private var now: Duration { ContinuousClock.now - origin }

    // MARK: Invoke

    /// Runs one invocation: waits for a slot (starting an instance if needed), hands the
    /// event over, and waits for the result, the timeout or the instance's death.
    public func invoke(_ request: InvokeRequest) async -> InvokeOutcome {
        let ticket = nextTicket
        nextTicket += 1
        let grant = await withCheckedContinuation { (continuation: CheckedContinuation<Grant, Never>) in
            waiters[ticket] = continuation
            run(machine.requestArrived(ticket, class: request.workClass, now: now))
        }
        let instance: RuntimeInstance
        let coldStart: Bool
        switch grant {
        case .rejected(let reason):
            if reason == .startFailed, let (kind, error) = lastStartError {
                metrics.invoked(key, failed: true, coldStartInit: nil)
                return InvokeOutcome(result: .completed(.failure(kind, error)), coldStart: true, initDuration: .zero, runDuration: .zero, instanceName: nil)
            }
            metrics.count(key, .throttles)
            return InvokeOutcome(result: .throttled(reason), coldStart: false, initDuration: .zero, runDuration: .zero, instanceName: nil)
        case .slot(let i, let cold):
            instance = i
            coldStart = cold
        }

        let timeout = request.timeout ?? config.timeout
        running[request.requestID] = instance
        defer { running.removeValue(forKey: request.requestID) }
        let deadline = Int64(Date().timeIntervalSince1970 * 1000) + Int64(timeout) * 1000
        let arn = "arn:aws:lambda:swell:\(key.namespace):function:\(key.name)" + (request.qualifier == "$LATEST" ? "" : ":\(request.qualifier)")
        let started = ContinuousClock.now
        let mailbox = instance.mailbox
        let loop = instance.endpoint?.channel.eventLoop ?? group.next()
        var timer: Scheduled<Void>?
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<InvocationResult, Never>) in
            let invocation = PendingInvocation(
                requestID: request.requestID, payload: request.payload, deadlineEpochMs: deadline, functionARN: arn,
                traceID: request.traceID, clientContext: request.clientContext
            ) { result in continuation.resume(returning: result) }
            timer = loop.scheduleTask(in: .seconds(Int64(timeout))) {
                let error = FunctionError(errorType: "Sandbox.Timedout", errorMessage: "Task timed out after \(timeout).00 seconds")
                mailbox.complete(request.requestID, with: .failure(.timeout, error)) {
                    instance.kill(.timeout(requestID: request.requestID, seconds: timeout))
                }
            }
            mailbox.deliver(invocation)
        }
        timer?.cancel()
        let runDuration = ContinuousClock.now - started
        if instance.killReason != nil {
            // Killed (its invocation timed out): no request may be routed to it while it dies.
            run(machine.instanceExited(instance.id, now: now))
        } else {
            run(machine.requestFinished(ticket, on: instance.id, now: now))
            if machine.instances[instance.id]?.inFlight == 0 { capacity.markIdle(holder(instance.id)) }
        }
        var failed = false
        if case .failure = result { failed = true }
        metrics.invoked(key, failed: failed, coldStartInit: coldStart ? (instance.initDuration ?? .zero) : nil)
        return InvokeOutcome(
            result: .completed(result), coldStart: coldStart,
            initDuration: coldStart ? (instance.initDuration ?? .zero) : .zero,
            runDuration: runDuration, instanceName: instance.info.name)
    }

    // MARK: Actions

    private func run(_ actions: [PoolAction]) {
        defer {
            let waiting = machine.queuedLatencyCount
            latencyWaiting.withLock { $0 = waiting }
        }
        for action in actions {
            switch action {
            case .route(let ticket, let id, let coldStart):
                guard let waiter = waiters.removeValue(forKey: ticket) else { continue }
                guard let instance = instances[id] else {
                    waiter.resume(returning: .rejected(.startFailed))
                    continue
                }
                if machine.instances[id]?.inFlight == 1 { capacity.markBusy(holder(id)) }
                waiter.resume(returning: .slot(instance, coldStart: coldStart))
            case .reject(let ticket, let reason):
                waiters.removeValue(forKey: ticket)?.resume(returning: .rejected(reason))
            case .startInstance(let id):
                switch capacity.reserve(holder(id), namespace: key.namespace, memoryMB: config.memory) {
                case .granted:
                    let instance = makeInstance(id)
                    instances[id] = instance
                    Task { await self.launch(instance) }
                case .denied(let denial):
                    machine.instanceStartDenied(id)
                    metrics.count(key, .startsDenied)
                    if lastDenial != denial {
                        logger.warning("no room for a new instance; requests wait", metadata: ["function": "\(key)", "reason": "\(denial)"])
                    }
                    lastDenial = denial
                }
            case .stopInstance(let id):
                instances[id]?.kill(.stop)
            }
        }
    }

    private func releaseBootPermit(_ id: InstanceID) {
        if bootPermits.remove(id) != nil { bootGate.release() }
    }

    private func holder(_ id: InstanceID) -> NodeCapacity.Holder {
        NodeCapacity.Holder(pool: number, instance: id)
    }

    private func makeInstance(_ id: InstanceID) -> RuntimeInstance {
        instanceCounter &+= 1
        let name = "i-" + String(instanceCounter & 0xFFFF_FFFF_FFFF, radix: 16).leftPadded(to: 12)
        let info = InstanceInfo(function: key, name: name, memoryMB: config.memory)
        let mailbox = InstanceMailbox(events: .init(
            ready: { [weak self] in
                guard let self else { return }
                Task { await self.instanceReady(id) }
            },
            initError: { [weak self] error in
                guard let self else { return }
                Task { await self.instanceInitError(id, error) }
            }))
        let temp = "\(runtime.instancesDirectory)/\(name)/tmp"
        return RuntimeInstance(id: id, info: info, mailbox: mailbox, tempDirectory: temp)
    }

    private func launch(_ instance: RuntimeInstance) async {
        do {
            let endpoint = try await RuntimeAPIEndpoint.bind(mailbox: instance.mailbox, group: group)
            instance.endpoint = endpoint
            let uid = try sandbox.uid(for: key)
            try sandbox.createTempDirectory(instance.tempDirectory, uid: uid)
            let cgroup = try sandbox.prepare(instance: instance.info.name, function: key, memoryMB: config.memory)
            instance.cgroup = cgroup
            let id = instance.id
            let onExit: @Sendable (Int32) -> Void = { [weak self] code in
                guard let self else { return }
                Task { await self.instanceExited(id, code: code) }
            }
            let child: SpawnedChild
            if let warmPool, let prebooted = await warmPool.take(config.runtime) {
                // Specialize a pre-booted runtime: the cold start costs the handler's import only.
                // Its output waits in the pipes until the pumps attach, right after.
                child = prebooted.child
                instance.pid = child.pid
                prebooted.onExit(onExit)
                try cgroup?.adopt(child.pid)
                let environment = InstanceLauncher.environment(
                    config: config, key: key, instance: instance.info, codeDirectory: codeDirectory,
                    runtimeAPI: endpoint.address, tempDirectory: instance.tempDirectory, runtime: runtime)
                try prebooted.specialize(environment: environment, workingDirectory: codeDirectory, uid: uid)
                instance.markSpecialized()
                try await startPumps(instance, child)
            } else {
                await bootGate.acquire()
                bootPermits.insert(instance.id)
                if instance.killReason != nil { throw CancellationError() }
                var spawn = try InstanceLauncher.spawnRequest(
                    config: config, key: key, instance: instance.info, codeDirectory: codeDirectory,
                    runtimeAPI: endpoint.address, tempDirectory: instance.tempDirectory, runtime: runtime)
                spawn.cgroupProcs = cgroup?.procsFiles ?? []
                spawn.openFileLimit = 4096
                if let uid {
                    spawn.uid = uid
                    spawn.gid = uid
                    // RLIMIT_NPROC counts per uid, so it is only meaningful once the function has its own.
                    spawn.processLimit = Int64(Sandbox.pidsLimit)
                }
                child = try await ChildProcesses.shared.spawn(spawn, onExit: onExit)
                instance.pid = child.pid
                try await startPumps(instance, child)
            }
            logger.debug("instance started", metadata: ["function": "\(key)", "instance.id": "\(instance.info.name)", "pid": "\(child.pid)"])
            let initTimeout = max(runtime.initTimeout, .seconds(config.timeout))
            Task {
                try? await Task.sleep(for: initTimeout)
                if instance.initDuration == nil { instance.kill(.initTimeout) }
            }
        } catch {
            releaseBootPermit(instance.id)
            logger.error("instance failed to start", metadata: ["function": "\(key)", "error": "\(error)"])
            platformLine(instance, "instance failed to start: \(error)")
            instance.kill(.stop)
            instances.removeValue(forKey: instance.id)
            instance.cleanUp()
            capacity.release(holder(instance.id))
            lastStartError = (.initError, FunctionError(errorType: "Runtime.StartFailed", errorMessage: "\(error)"))
            run(machine.instanceStartFailed(instance.id, now: now))
        }
    }

    private func startPumps(_ instance: RuntimeInstance, _ child: SpawnedChild) async throws {
        for (fd, stream) in [(child.stdoutFD, "stdout"), (child.stderrFD, "stderr")] {
            let pump = try await LogPumpHandler.start(
                fd: fd, stream: stream, instance: instance.info, mailbox: instance.mailbox, sink: sink, recent: instance.recent, group: group)
            instance.addPump(pump)
        }
    }

    // MARK: Instance events

    private func instanceReady(_ id: InstanceID) {
        releaseBootPermit(id)
        guard let instance = instances[id], !instance.hasExited else { return }
        let initDuration = instance.markReady()
        logger.debug("instance ready", metadata: [
            "instance.id": "\(instance.info.name)", "init.ms": "\(initDuration.milliseconds)",
            "specialized.ms": "\(instance.specializedAfter?.milliseconds ?? -1)",
        ])
        run(machine.instanceReady(id, now: now))
    }

    private func instanceInitError(_ id: InstanceID, _ error: FunctionError) {
        guard let instance = instances[id] else { return }
        instance.kill(.initError(error))
    }

    private func instanceExited(_ id: InstanceID, code: Int32) async {
        releaseBootPermit(id)
        guard let instance = instances[id], !instance.hasExited else { return }
        instance.markExited()
        let wasReady = instance.initDuration != nil
        // Stop routing to it at once; its last lines are still in the pipes.
        if wasReady { run(machine.instanceExited(id, now: now)) }
        await instance.drainPumps(within: .milliseconds(200))
        instances.removeValue(forKey: id)
        let status = code >= 0 ? "exit status \(code)" : "signal \(-code)"
        let tail = instance.recent.all.suffix(10)

        // What the invocations in flight are told; a start failure is kept for the waiters instead.
        let error: FunctionError
        var oom = false
        switch instance.killReason {
        case .stop?:
            platformLine(instance, "instance stopped (idle)")
            error = FunctionError(errorType: "Runtime.Stopped", errorMessage: "the instance was stopped")
        case .timeout(let requestID, let seconds)?:
            platformLine(instance, "instance killed: invocation \(requestID) timed out after \(seconds) s")
            error = FunctionError(
                errorType: "Runtime.InstanceKilled",
                errorMessage: "the instance was killed because invocation \(requestID) sharing it timed out")
        case .interrupted(let requestID)?:
            platformLine(instance, "instance killed: its invocation \(requestID) was stopped")
            error = FunctionError(
                errorType: "Runtime.InstanceKilled",
                errorMessage: "the instance was killed because invocation \(requestID) sharing it was stopped")
        case .initTimeout?:
            platformLine(instance, "instance killed: no Runtime API call within the init timeout")
            error = FunctionError(
                errorType: "Runtime.InitTimeout", errorMessage: "the runtime did not ask for an event within the init timeout",
                stackTrace: Array(tail))
        case .initError(let reported)?:
            platformLine(instance, "init error: \(reported.errorType): \(reported.errorMessage)")
            error = reported
        case nil where instance.cgroup?.oomKilled == true:
            let message = "Runtime exited with error: \(status): the instance ran out of memory (limit \(config.memory) MB)"
            platformLine(instance, message)
            metrics.count(key, .outOfMemory)
            oom = true
            error = FunctionError(errorType: "Runtime.OutOfMemory", errorMessage: message, stackTrace: Array(tail))
        case nil:
            let message = "Runtime exited with error: \(status)" + (wasReady ? "" : " before it was ready")
            platformLine(instance, message)
            error = FunctionError(errorType: "Runtime.ExitError", errorMessage: message, stackTrace: Array(tail))
        }
        if wasReady {
            instance.mailbox.close(oom ? .outOfMemory : .crashed, error)
        } else {
            lastStartError = (.initError, error)
            instance.mailbox.close(.initError, error)
        }
        instance.cleanUp()
        capacity.release(holder(id))
        if !wasReady { run(machine.instanceStartFailed(id, now: now)) }
    }

    private func platformLine(_ instance: RuntimeInstance, _ message: String) {
        sink.accept(CapturedLine(time: Date(), requestID: nil, stream: "platform", message: message), instance: instance.info)
    }

    // MARK: Housekeeping

    /// Applies the passage of time: keep-alive expiry and queue timeouts.
    public func tick() {
        run(machine.tick(now: now))
    }

    /// The node chose this idle instance to free memory for another pool; it is stopped
    /// unless it got busy meanwhile or the pool needs it for its minimum.
    public func evict(_ id: InstanceID) {
        let actions = machine.evict(id)
        if actions.isEmpty {
            if instances[id] != nil { capacity.restore(holder(id), namespace: key.namespace, memoryMB: config.memory) }
            return
        }
        if let instance = instances[id] { platformLine(instance, "instance evicted: the node's memory budget is needed elsewhere") }
        metrics.count(key, .evictions)
        run(actions)
    }

    /// Ends an in-flight invocation now (its task was stopped): it fails with `Task.Stopped`
    /// and its instance is killed, as for a timeout. Returns false when it is not running here.
    public func interrupt(_ requestID: String) -> Bool {
        guard let instance = running[requestID] else { return false }
        let error = FunctionError(errorType: "Task.Stopped", errorMessage: "the task was stopped while it ran")
        return instance.mailbox.complete(requestID, with: .failure(.unhandled, error)) {
            instance.kill(.interrupted(requestID: requestID))
        }
    }

    /// A scheduled scaling window asks for (at least) this many instances.
    public func setScheduledMinimum(_ minimum: Int) {
        guard minimum != machine.scheduledMinimum else { return }
        run(machine.setScheduledMinimum(minimum, now: now))
    }

    /// Load figures the async dispatcher reads to let latency-sensitive work go first.
    public func load() -> PoolLoad {
        PoolLoad(
            queuedLatency: machine.queuedLatencyCount, queued: machine.queuedCount, inFlight: machine.inFlightCount,
            instances: machine.liveInstanceCount, capacity: machine.configuration.maxInstances * machine.configuration.concurrency)
    }

    /// The pool's instances as `swell instances` shows them.
    public func snapshot() -> [InstanceSnapshot] {
        let t = ContinuousClock.now
        return machine.instances.sorted { $0.key < $1.key }.compactMap { id, state in
            guard let instance = instances[id] else { return nil }
            let phase: String
            switch state.phase {
            case .starting: phase = "starting"
            case .ready: phase = state.inFlight > 0 ? "busy" : "idle"
            case .stopping: phase = "stopping"
            }
            let pid = instance.pid
            return InstanceSnapshot(
                id: instance.info.name, version: key.version.description, state: phase, busy: state.inFlight,
                free: state.phase == .ready ? max(0, machine.configuration.concurrency - state.inFlight) : 0,
                pid: pid > 0 ? Int(pid) : nil,
                memoryBytes: pid > 0 ? ProcessMemory.residentBytes(pid) : nil,
                ageSeconds: (t - instance.spawnedAt).seconds, initMs: instance.initDuration?.milliseconds,
                provisioned: machine.effectiveMinimum > 0)
        }
    }

    /// Stops every instance; waiting requests are turned away. Returns when all are gone.
    public func drain() async {
        run(machine.drain())
        let deadline = ContinuousClock.now + .seconds(Int64(config.timeout) + 5)
        while !instances.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for instance in instances.values { instance.kill(.stop) }
    }

}

extension Duration {
    /// Whole and fractional milliseconds.
    public var milliseconds: Double {
        let (s, atto) = components
        return Double(s) * 1000 + Double(atto) / 1e15
    }

    public var seconds: Double { milliseconds / 1000 }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
