import Foundation
import Logging
import NIOCore
import NIOPosix
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

/// The instances of one function version: the `PoolStateMachine` behind a lock, and a thin
/// shell that runs its decisions (spawn, route, stop).
///
/// A warm invoke takes a free slot synchronously, under the lock, without suspending; it
/// suspends once, for the runtime's answer, which the Runtime API's event loop delivers.
/// Only a request that must wait for a slot suspends a second time, and a caller that goes
/// away while it waits gives its place back.
public final class InstancePool: Sendable {
    public let key: FunctionKey
    public let config: FunctionConfig
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
    public let number: Int
    let bootGate: BootGate
    private let origin = ContinuousClock.now
    /// `arn:aws:lambda:swell:NS:function:NAME`, the invoked-function ARN without its qualifier.
    private let baseARN: String
    private let state: Mutex<State>
    /// Latency-sensitive requests waiting for a slot right now (read without the pool's lock):
    /// the async dispatcher holds back offline work while this is above zero.
    private let latencyWaiting = Atomic<Int>(0)

    public var queuedLatencyRequests: Int { latencyWaiting.load(ordering: .relaxed) }

    enum Grant: Sendable {
        case slot(RuntimeInstance, coldStart: Bool)
        case rejected(RejectReason)
    }

    /// A request's place in the queue while it waits for a slot.
    enum Waiter {
        /// Queued; its task has not suspended yet.
        case pending
        /// Suspended until its grant.
        case waiting(CheckedContinuation<Grant, Never>)
        /// Decided before its task suspended.
        case granted(Grant)
    }

    struct State {
        var machine: PoolStateMachine
        var nextTicket: Ticket = 1
        var waiters: [Ticket: Waiter] = [:]
        var instances: [InstanceID: RuntimeInstance] = [:]
        var lastStartError: (FunctionErrorKind, FunctionError)?
        var lastDenial: NodeCapacity.Denial?
        /// Instances holding a boot permit until they are ready or gone.
        var bootPermits: Set<InstanceID> = []
        var instanceCounter: UInt64
    }

    /// What the shell does after leaving the lock.
    enum Effect {
        case resume(CheckedContinuation<Grant, Never>, Grant)
        case launch(RuntimeInstance)
        case kill(RuntimeInstance)
        case startDenied(NodeCapacity.Denial, firstOfItsKind: Bool)
        /// Call `tick` at this instant (queue timeouts, keep-alive, start retries).
        case armTimer(Duration)
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
        self.baseARN = "arn:aws:lambda:swell:\(key.namespace):function:\(key.name)"
        self.state = Mutex(State(machine: PoolStateMachine(configuration: scheduling), instanceCounter: UInt64.random(in: 0..<(1 << 40))))
    }

    private var now: Duration { ContinuousClock.now - origin }

    // MARK: Invoke

    /// Runs one invocation: takes a slot (starting an instance if needed), hands the event
    /// over, and waits for the result, the timeout or the instance's death.
    public func invoke(_ request: InvokeRequest) async -> InvokeOutcome {
        let t = now
        let ((ticket, immediate), effects) = modify { s, effects -> (Ticket, Grant?) in
            let ticket = s.nextTicket
            s.nextTicket += 1
            s.waiters[ticket] = .pending
            apply(s.machine.requestArrived(ticket, class: request.workClass, now: t), to: &s, &effects)
            guard case .granted(let grant)? = s.waiters[ticket] else { return (ticket, nil) }
            s.waiters[ticket] = nil
            return (ticket, grant)
        }
        perform(effects)
        let grant: Grant
        if let immediate {
            grant = immediate
        } else {
            grant = await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Grant, Never>) in
                    let early: Grant? = state.withLock { s in
                        switch s.waiters[ticket] {
                        case .granted(let g)?:
                            s.waiters[ticket] = nil
                            return g
                        case .pending?:
                            s.waiters[ticket] = .waiting(continuation)
                            return nil
                        case .waiting?, nil:
                            return .rejected(.cancelled)
                        }
                    }
                    if let early { continuation.resume(returning: early) }
                }
            } onCancel: {
                self.cancelWaiting(ticket)
            }
        }

        let instance: RuntimeInstance
        let coldStart: Bool
        switch grant {
        case .rejected(let reason):
            if reason == .startFailed, let (kind, error) = state.withLock({ $0.lastStartError }) {
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
        let started = ContinuousClock.now
        let deadline = Int64(Date().timeIntervalSince1970 * 1000) + Int64(timeout) * 1000
        let arn = request.qualifier == "$LATEST" ? baseARN : baseARN + ":" + request.qualifier
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<InvocationResult, Never>) in
            instance.mailbox.deliver(PendingInvocation(
                requestID: request.requestID, payload: request.payload, deadlineEpochMs: deadline, functionARN: arn,
                traceID: request.traceID, clientContext: request.clientContext, timeout: .seconds(Int64(timeout))
            ) { result in continuation.resume(returning: result) })
        }
        let runDuration = ContinuousClock.now - started
        let finished = now
        let (idle, finishEffects) = modify { s, effects -> Bool in
            if instance.killReason != nil {
                // Killed (its invocation timed out): no request may be routed to it while it dies.
                apply(s.machine.instanceExited(instance.id, now: finished), to: &s, &effects)
                return false
            }
            apply(s.machine.requestFinished(ticket, on: instance.id, now: finished), to: &s, &effects)
            return s.machine.instances[instance.id]?.inFlight == 0
        }
        if idle { capacity.markIdle(holder(instance.id)) }
        perform(finishEffects)
        var failed = false
        if case .failure = result { failed = true }
        if coldStart { warmPool?.refill() }  // the replacement boots after the cold start, not during it
        let initDuration = coldStart ? (instance.initDuration ?? .zero) : .zero
        metrics.invoked(key, failed: failed, coldStartInit: coldStart ? initDuration : nil)
        return InvokeOutcome(
            result: .completed(result), coldStart: coldStart, initDuration: initDuration,
            runDuration: runDuration, instanceName: instance.info.name)
    }

    /// The caller of a waiting request went away: its place is given back.
    private func cancelWaiting(_ ticket: Ticket) {
        let continuation: CheckedContinuation<Grant, Never>? = state.withLock { s in
            switch s.waiters[ticket] {
            case .pending?:
                s.machine.requestCancelled(ticket)
                s.waiters[ticket] = .granted(.rejected(.cancelled))
                return nil
            case .waiting(let c)?:
                s.machine.requestCancelled(ticket)
                s.waiters[ticket] = nil
                return c
            case .granted?, nil:
                return nil
            }
        }
        continuation?.resume(returning: .rejected(.cancelled))
    }

    // MARK: The shell

    /// Runs `body` under the lock; the effects it collects are the caller's to perform after.
    private func modify<R>(_ body: (inout State, inout [Effect]) -> R) -> (R, [Effect]) {
        state.withLock { s in
            var effects: [Effect] = []
            let r = body(&s, &effects)
            if let deadline = s.machine.takeTimerRequest() { effects.append(.armTimer(deadline)) }
            latencyWaiting.store(s.machine.queuedLatencyCount, ordering: .relaxed)
            return (r, effects)
        }
    }

    /// Runs `body` under the lock, then the effects it collected.
    private func mutate(_ body: (inout State, inout [Effect]) -> Void) {
        perform(modify(body).1)
    }

    /// Turns the machine's actions into state changes (under the lock) and effects (after it).
    private func apply(_ actions: [PoolAction], to s: inout State, _ effects: inout [Effect]) {
        for action in actions {
            switch action {
            case .route(let ticket, let id, let coldStart):
                let grant: Grant
                if let instance = s.instances[id] {
                    if s.machine.instances[id]?.inFlight == 1 { capacity.markBusy(holder(id)) }
                    grant = .slot(instance, coldStart: coldStart)
                } else {
                    grant = .rejected(.startFailed)
                }
                resolve(ticket, grant, &s, &effects)
            case .reject(let ticket, let reason):
                resolve(ticket, .rejected(reason), &s, &effects)
            case .startInstance(let id):
                switch capacity.reserve(holder(id), namespace: key.namespace, memoryMB: config.memory, gpuMemoryMB: config.gpu?.memory ?? 0) {
                case .granted:
                    let instance = makeInstance(id, &s)
                    s.instances[id] = instance
                    effects.append(.launch(instance))
                case .denied(let denial), .wait(let denial, _):
                    s.machine.instanceStartDenied(id, now: now)
                    effects.append(.startDenied(denial, firstOfItsKind: s.lastDenial != denial))
                    s.lastDenial = denial
                }
            case .stopInstance(let id):
                if let instance = s.instances[id] { effects.append(.kill(instance)) }
            }
        }
    }

    private func resolve(_ ticket: Ticket, _ grant: Grant, _ s: inout State, _ effects: inout [Effect]) {
        switch s.waiters[ticket] {
        case .pending?:
            s.waiters[ticket] = .granted(grant)
        case .waiting(let continuation)?:
            s.waiters[ticket] = nil
            effects.append(.resume(continuation, grant))
        case .granted?, nil:
            // Its caller went away: a slot it was given goes back at once.
            if case .slot(let instance, _) = grant {
                let actions = s.machine.requestFinished(ticket, on: instance.id, now: now)
                apply(actions, to: &s, &effects)
            }
        }
    }

    private func perform(_ effects: [Effect]) {
        for effect in effects {
            switch effect {
            case .resume(let continuation, let grant):
                continuation.resume(returning: grant)
            case .launch(let instance):
                Task { await self.launch(instance) }
            case .kill(let instance):
                instance.kill(.stop)
            case .armTimer(let deadline):
                let delay = deadline - now
                let nanoseconds = max(0, delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
                group.next().scheduleTask(in: .nanoseconds(nanoseconds)) { [weak self] in self?.tick() }
            case .startDenied(let denial, let first):
                metrics.count(key, .startsDenied)
                if first {
                    logger.warning("no room for a new instance; requests wait", metadata: ["function": "\(key)", "reason": "\(denial)"])
                }
            }
        }
    }

    private func releaseBootPermit(_ id: InstanceID) {
        let held = state.withLock { $0.bootPermits.remove(id) != nil }
        if held { bootGate.release() }
    }

    private func holder(_ id: InstanceID) -> NodeCapacity.Holder {
        NodeCapacity.Holder(pool: number, instance: id)
    }

    private func makeInstance(_ id: InstanceID, _ s: inout State) -> RuntimeInstance {
        s.instanceCounter &+= 1
        let name = "i-" + String(s.instanceCounter & 0xFFFF_FFFF_FFFF, radix: 16).leftPadded(to: 12)
        var info = InstanceInfo(function: key, name: name, memoryMB: config.memory)
        if let share = capacity.gpuPlacement(holder(id)) {
            info.gpuDevice = share.device
            info.gpuMemoryMB = share.memoryMB
        }
        let mailbox = InstanceMailbox(group: group, events: .init(
            ready: { [weak self] in self?.instanceReady(id) },
            initError: { [weak self] error in self?.instanceInitError(id, error) },
            timedOut: { [weak self] requestID, seconds in
                self?.state.withLock { $0.instances[id] }?.kill(.timeout(requestID: requestID, seconds: seconds))
            }))
        let temp = "\(runtime.instancesDirectory)/\(name)/tmp"
        return RuntimeInstance(id: id, info: info, mailbox: mailbox, tempDirectory: temp)
    }

    private func launch(_ instance: RuntimeInstance) async {
        instance.step("launch")
        do {
            let uid = try sandbox.uid(for: key)
            // Only the instance's own processes may use its Runtime API: its uid, or Swell's when it has none of its own.
            // Bound on its event loop while this task makes the temp directory and the cgroups (1–2 ms each way).
            async let bound = RuntimeAPIEndpoint.bind(
                mailbox: instance.mailbox, peerUID: uid.map { uid_t($0) } ?? geteuid(), maxConnections: config.concurrency + 8)
            // Functions with layers start fresh: their /opt is a mount namespace set up at spawn.
            // (The take comes first: while it crosses to the pool's actor, the bind gets going.)
            let prebooted = config.layers.isEmpty ? await warmPool?.take(config.runtime) : nil
            instance.step("taken")
            let cgroup: InstanceCgroup?
            do {
                try sandbox.createTempDirectory(instance.tempDirectory, uid: uid)
                instance.step("tmp")
                cgroup = try sandbox.prepare(instance: instance.info.name, function: key, memoryMB: config.memory, prebooted: prebooted?.memoryGroup)
            } catch {
                prebooted?.discard()
                (try? await bound)?.close()
                throw error
            }
            instance.cgroup = cgroup
            instance.step("cgroups")
            let endpoint: RuntimeAPIEndpoint
            do {
                endpoint = try await bound
            } catch {
                prebooted?.discard()
                throw error
            }
            instance.endpoint = endpoint
            instance.step("bound")
            let id = instance.id
            let onExit: @Sendable (Int32) -> Void = { [weak self] code in
                guard let self else { return }
                Task { await self.instanceExited(id, code: code) }
            }
            let child: SpawnedChild
            if let prebooted {
                // Specialize a pre-booted runtime: the cold start costs the handler's import only.
                // Its output waits in the pipes until the pumps attach, right after.
                child = prebooted.child
                instance.pid = child.pid
                prebooted.onExit(onExit)
                // Born in its memory and pids groups (cgroup v1): the move to its function's cpu
                // group waits for the kernel (10–40 ms) after the hand-over, on the sandbox's own
                // thread. Without such groups (v2) the move comes first, limits before code.
                let bornInGroups = prebooted.memoryGroup != nil
                if let cgroup, !bornInGroups { try await Sandbox.moves.runIfActive { try cgroup.adopt(child.pid) } }
                let environment = InstanceLauncher.environment(
                    config: config, key: key, instance: instance.info, codeDirectory: codeDirectory,
                    runtimeAPI: endpoint.address, tempDirectory: instance.tempDirectory, runtime: runtime)
                try prebooted.specialize(environment: environment, workingDirectory: codeDirectory, uid: uid)
                instance.markSpecialized()
                instance.step("specialized")
                try await startPumps(instance, child)
                instance.step("pumps")
                if let cgroup, bornInGroups {
                    // The instance may be serving already: a failed move because it exited is not
                    // a failed start. Any other failure kills it: an instance left in Swell's own
                    // cpu group would compete with the server, outside its function's limits.
                    do {
                        try await Sandbox.moves.runIfActive { try cgroup.adopt(child.pid) }
                    } catch {
                        if !instance.hasExited {
                            logger.error("instance not moved to its function's cgroups: killed", metadata: ["instance.id": "\(instance.info.name)", "error": "\(error)"])
                            instance.kill(.unconfined)
                        }
                    }
                }
            } else {
                await bootGate.acquire()
                state.withLock { _ = $0.bootPermits.insert(instance.id) }
                if instance.killReason != nil { throw CancellationError() }
                var spawn = try InstanceLauncher.spawnRequest(
                    config: config, key: key, instance: instance.info, codeDirectory: codeDirectory,
                    runtimeAPI: endpoint.address, tempDirectory: instance.tempDirectory, runtime: runtime)
                spawn.cgroupProcs = cgroup?.joinFiles ?? []
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
            // The init timeout is a timer on the endpoint's event loop, cancelled when the instance is ready.
            let initTimeout = max(runtime.initTimeout, .seconds(config.timeout))
            endpoint.channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(initTimeout.milliseconds * 1_000_000))) {
                if instance.initDuration == nil { instance.kill(.initTimeout) }
            }
        } catch {
            releaseBootPermit(instance.id)
            logger.error("instance failed to start", metadata: ["function": "\(key)", "error": "\(error)"])
            platformLine(instance, "instance failed to start: \(error)")
            instance.kill(.stop)
            instance.cleanUp()
            capacity.release(holder(instance.id))
            let t = now
            mutate { s, effects in
                s.instances.removeValue(forKey: instance.id)
                s.lastStartError = (.initError, FunctionError(errorType: "Runtime.StartFailed", errorMessage: "\(error)"))
                apply(s.machine.instanceStartFailed(instance.id, now: t), to: &s, &effects)
            }
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
        let t = now
        let (instance, effects) = modify { s, effects -> RuntimeInstance? in
            guard let instance = s.instances[id], !instance.hasExited else { return nil }
            _ = instance.markReady()
            instance.step("ready")
            apply(s.machine.instanceReady(id, now: t), to: &s, &effects)
            return instance
        }
        perform(effects)
        if let instance {
            logger.debug("instance ready", metadata: [
                "instance.id": "\(instance.info.name)", "init.ms": "\(instance.initDuration?.milliseconds ?? -1)",
                "specialized.ms": "\(instance.specializedAfter?.milliseconds ?? -1)", "steps": "\(instance.steps)",
            ])
        }
    }

    private func instanceInitError(_ id: InstanceID, _ error: FunctionError) {
        state.withLock { $0.instances[id] }?.kill(.initError(error))
    }

    private func instanceExited(_ id: InstanceID, code: Int32) async {
        releaseBootPermit(id)
        guard let instance = state.withLock({ $0.instances[id] }), !instance.hasExited else { return }
        instance.markExited()
        let wasReady = instance.initDuration != nil
        // Stop routing to it at once; its last lines are still in the pipes.
        if wasReady {
            let t = now
            mutate { s, effects in apply(s.machine.instanceExited(id, now: t), to: &s, &effects) }
        }
        await instance.drainPumps(within: .milliseconds(200))
        state.withLock { _ = $0.instances.removeValue(forKey: id) }
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
        case .unconfined?:
            platformLine(instance, "instance killed: it could not be moved into its function's cgroups")
            error = FunctionError(
                errorType: "Runtime.InstanceKilled", errorMessage: "the instance was killed because it could not be confined to its function's cgroups")
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
            state.withLock { $0.lastStartError = (.initError, error) }
            instance.mailbox.close(.initError, error)
        }
        instance.cleanUp()
        capacity.release(holder(id))
        if !wasReady {
            let t = now
            mutate { s, effects in apply(s.machine.instanceStartFailed(id, now: t), to: &s, &effects) }
        }
    }

    private func platformLine(_ instance: RuntimeInstance, _ message: String) {
        sink.accept(CapturedLine(time: Date(), requestID: nil, stream: "platform", message: message), instance: instance.info)
    }

    // MARK: Housekeeping

    /// Applies the passage of time: keep-alive expiry and queue timeouts.
    public func tick() {
        let t = now
        mutate { s, effects in apply(s.machine.tick(now: t), to: &s, &effects) }
    }

    /// The node chose this idle instance to free memory for another pool; it is stopped
    /// unless it got busy meanwhile or the pool needs it for its minimum.
    public func evict(_ id: InstanceID) {
        let (instance, effects) = modify { s, effects -> RuntimeInstance? in
            let actions = s.machine.evict(id)
            if actions.isEmpty {
                if s.instances[id] != nil { capacity.restore(holder(id), namespace: key.namespace, memoryMB: config.memory, gpuMemoryMB: config.gpu?.memory ?? 0) }
                return nil
            }
            apply(actions, to: &s, &effects)
            return s.instances[id]
        }
        if let instance {
            platformLine(instance, "instance evicted: the node's memory budget is needed elsewhere")
            metrics.count(key, .evictions)
        }
        perform(effects)
    }

    /// Ends an in-flight invocation now (its task was stopped): it fails with `Task.Stopped`
    /// and its instance is killed, as for a timeout. Returns false when it is not running here.
    public func interrupt(_ requestID: String) -> Bool {
        let instances = state.withLock { Array($0.instances.values) }
        guard let instance = instances.first(where: { $0.mailbox.isInFlight(requestID) }) else { return false }
        let error = FunctionError(errorType: "Task.Stopped", errorMessage: "the task was stopped while it ran")
        return instance.mailbox.complete(requestID, with: .failure(.unhandled, error)) {
            instance.kill(.interrupted(requestID: requestID))
        }
    }

    /// A scheduled scaling window asks for (at least) this many instances.
    public func setScheduledMinimum(_ minimum: Int) {
        let t = now
        mutate { s, effects in
            guard minimum != s.machine.scheduledMinimum else { return }
            apply(s.machine.setScheduledMinimum(minimum, now: t), to: &s, &effects)
        }
    }

    /// Load figures the async dispatcher reads to let latency-sensitive work go first.
    public func load() -> PoolLoad {
        state.withLock { s in
            let m = s.machine
            return PoolLoad(
                queuedLatency: m.queuedLatencyCount, queued: m.queuedCount, inFlight: m.inFlightCount,
                instances: m.liveInstanceCount, capacity: m.configuration.maxInstances * m.configuration.concurrency)
        }
    }

    /// The pool's instances as `swell instances` shows them.
    public func snapshot() -> [InstanceSnapshot] {
        let t = ContinuousClock.now
        let (machine, instances) = state.withLock { ($0.machine, $0.instances) }
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
        mutate { s, effects in apply(s.machine.drain(), to: &s, &effects) }
        let deadline = ContinuousClock.now + .seconds(Int64(config.timeout) + 5)
        while !state.withLock({ $0.instances.isEmpty }) && ContinuousClock.now < deadline && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for instance in state.withLock({ Array($0.instances.values) }) { instance.kill(.stop) }
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
