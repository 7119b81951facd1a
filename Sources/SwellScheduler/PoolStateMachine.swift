import DequeModule

/// The scaling decisions of one instance pool, as a pure state machine.
///
/// Events go in (a request arrived or finished, an instance became ready or died, time
/// passed); actions come out (route a request to a slot, start or stop an instance, reject a
/// request). There is no I/O and no clock inside: the owner passes `now` (any monotonic
/// instant, as a `Duration` since an origin it chooses) and executes the returned actions.
///
/// Placement packs requests onto the busiest instance that still has a free slot, so that
/// the rest go idle and can be stopped after the keep-alive (scale to zero).
public struct PoolStateMachine: Sendable {
    /// One instance as the scheduler sees it.
    public struct Instance: Sendable, Hashable {
        public enum Phase: Sendable, Hashable { case starting, ready, stopping }
        public var phase: Phase
        public var inFlight: Int
        /// When the instance last became idle (or was started).
        public var idleSince: Duration
    }

    struct Waiting: Sendable, Hashable {
        var ticket: Ticket
        var since: Duration
    }

    public private(set) var configuration: PoolConfiguration
    public private(set) var instances: [InstanceID: Instance] = [:]
    /// Latency-sensitive requests waiting for a slot; served before `offlineQueue`.
    private var latencyQueue: Deque<Waiting> = []
    private var offlineQueue: Deque<Waiting> = []
    private var nextInstanceID: InstanceID = 1
    private var draining = false
    /// Minimum instances a scheduled scaling window asks for (on top of `minInstances`).
    public private(set) var scheduledMinimum = 0
    /// The earliest timer the owner was asked to set that has not fired yet.
    private var armedDeadline: Duration?
    /// A timer the owner must set and has not taken yet (see `takeTimerRequest`).
    private var timerRequest: Duration?
    /// A start was denied by the node since the last tick: waiting requests need a retry.
    private var startDenied = false
    /// How soon a start the node denied is tried again when requests still wait.
    public static let deniedStartRetry: Duration = .seconds(1)

    public init(configuration: PoolConfiguration) {
        self.configuration = configuration
    }

    /// Requests waiting for a slot.
    public var queuedCount: Int { latencyQueue.count + offlineQueue.count }
    /// Latency-sensitive requests waiting for a slot: when above zero, offline work should hold back.
    public var queuedLatencyCount: Int { latencyQueue.count }
    /// Requests holding a slot.
    public var inFlightCount: Int { instances.values.reduce(0) { $0 + $1.inFlight } }
    /// Instances that are starting or ready.
    public var liveInstanceCount: Int { instances.values.count { $0.phase != .stopping } }
    /// The instances the pool keeps even when idle: the larger of the configured and scheduled minimum.
    public var effectiveMinimum: Int { min(max(configuration.minInstances, scheduledMinimum), configuration.maxInstances) }

    private var startingCount: Int { instances.values.count { $0.phase == .starting } }

    // MARK: Events

    /// A request wants a slot.
    public mutating func requestArrived(_ ticket: Ticket, class work: WorkClass = .latency, now: Duration) -> [PoolAction] {
        if draining { return [.reject(ticket, .shuttingDown)] }
        if let id = bestReadyInstance() {
            instances[id]!.inFlight += 1
            return [.route(ticket, to: id, coldStart: false)]
        }
        guard queuedCount < configuration.maxQueueLength else { return [.reject(ticket, .queueFull)] }
        switch work {
        case .latency: latencyQueue.append(Waiting(ticket: ticket, since: now))
        case .offline: offlineQueue.append(Waiting(ticket: ticket, since: now))
        }
        propose(now + configuration.maxQueueWait)
        return scaleOut(now: now)
    }

    /// A request that held a slot on `instance` is done.
    public mutating func requestFinished(_ ticket: Ticket, on id: InstanceID, now: Duration) -> [PoolAction] {
        guard var instance = instances[id] else { return [] }
        instance.inFlight = max(0, instance.inFlight - 1)
        if instance.inFlight == 0 { instance.idleSince = now }
        instances[id] = instance
        guard instance.phase == .ready else { return [] }
        if draining { return instance.inFlight == 0 ? stop(id) : [] }
        let actions = fill(id, coldStart: false)
        if actions.isEmpty && instance.inFlight == 0 { proposeKeepAlive(from: now) }
        return actions
    }

    /// A waiting request gave up (its client went away).
    public mutating func requestCancelled(_ ticket: Ticket) {
        latencyQueue.removeAll { $0.ticket == ticket }
        offlineQueue.removeAll { $0.ticket == ticket }
    }

    /// The instance finished starting and can take requests.
    public mutating func instanceReady(_ id: InstanceID, now: Duration) -> [PoolAction] {
        guard var instance = instances[id], instance.phase == .starting else { return [] }
        instance.phase = .ready
        instance.idleSince = now
        instances[id] = instance
        if draining { return stop(id) }
        let actions = fill(id, coldStart: true)
        if actions.isEmpty { proposeKeepAlive(from: now) }
        return actions
    }

    /// The instance could not start. Requests that were waiting for it are rejected
    /// (the owner reports the start error to them), unless other capacity is on its way.
    public mutating func instanceStartFailed(_ id: InstanceID, now: Duration) -> [PoolAction] {
        guard instances.removeValue(forKey: id) != nil else { return [] }
        let capacityComing = instances.values.contains { $0.phase != .stopping }
        if capacityComing { return scaleOut(now: now) }
        let rejected = (latencyQueue + offlineQueue).map { PoolAction.reject($0.ticket, .startFailed) }
        latencyQueue.removeAll()
        offlineQueue.removeAll()
        return rejected
    }

    /// The node had no room for the instance (namespace quota or memory budget). Nothing
    /// started; waiting requests keep waiting, and a tick `deniedStartRetry` later (or a freed
    /// slot) tries again.
    public mutating func instanceStartDenied(_ id: InstanceID, now: Duration? = nil) {
        instances.removeValue(forKey: id)
        startDenied = true
        if let now { propose(now + Self.deniedStartRetry) }
    }

    /// The instance is gone (exited, crashed, killed or stopped). Its in-flight requests
    /// are the owner's to fail; waiting requests get a replacement if they need one.
    public mutating func instanceExited(_ id: InstanceID, now: Duration) -> [PoolAction] {
        guard instances.removeValue(forKey: id) != nil else { return [] }
        if draining { return [] }
        return scaleOut(now: now) + provision(now: now)
    }

    /// The node wants this instance's memory back for another pool. Only an idle
    /// instance above the pool's minimum is given up.
    public mutating func evict(_ id: InstanceID) -> [PoolAction] {
        guard let instance = instances[id], instance.phase == .ready, instance.inFlight == 0,
              liveInstanceCount > effectiveMinimum else { return [] }
        return stop(id)
    }

    /// A scheduled scaling window opened or closed: keep at least `minimum` instances.
    public mutating func setScheduledMinimum(_ minimum: Int, now: Duration) -> [PoolAction] {
        scheduledMinimum = max(0, minimum)
        if draining { return [] }
        defer { proposeNextDeadline(now: now) }
        return provision(now: now)
    }

    /// Time passed: reject requests that waited too long, retry starts the node denied,
    /// keep the minimum running, stop instances idle past the keep-alive.
    public mutating func tick(now: Duration) -> [PoolAction] {
        if let armed = armedDeadline, armed <= now { armedDeadline = nil }
        startDenied = false
        defer { proposeNextDeadline(now: now) }
        var actions: [PoolAction] = []
        for kind in [WorkClass.latency, .offline] {
            while let first = kind == .latency ? latencyQueue.first : offlineQueue.first, now - first.since >= configuration.maxQueueWait {
                if kind == .latency { latencyQueue.removeFirst() } else { offlineQueue.removeFirst() }
                actions.append(.reject(first.ticket, .queueTimeout))
            }
        }
        if draining { return actions }
        actions += scaleOut(now: now)
        actions += provision(now: now)
        // Idle past the keep-alive, longest idle first, but never below the minimum.
        var spare = liveInstanceCount - effectiveMinimum
        let expired = instances
            .filter { $0.value.phase == .ready && $0.value.inFlight == 0 && now - $0.value.idleSince >= configuration.keepAlive }
            .sorted { ($0.value.idleSince, $0.key) < ($1.value.idleSince, $1.key) }
        for (id, _) in expired where spare > 0 {
            actions += stop(id)
            spare -= 1
        }
        return actions
    }

    /// Stop every instance and turn away every waiting and future request.
    public mutating func drain() -> [PoolAction] {
        draining = true
        var actions = (latencyQueue + offlineQueue).map { PoolAction.reject($0.ticket, .shuttingDown) }
        latencyQueue.removeAll()
        offlineQueue.removeAll()
        for (id, instance) in instances.sorted(by: { $0.key < $1.key }) where instance.phase != .stopping {
            if instance.phase == .ready && instance.inFlight > 0 { continue }
            actions += stop(id)
        }
        return actions
    }

    /// New limits for the same version (scaling settings changed): applied from the next event.
    public mutating func reconfigure(_ configuration: PoolConfiguration, now: Duration) -> [PoolAction] {
        self.configuration = configuration
        if draining { return [] }
        defer { proposeNextDeadline(now: now) }
        return provision(now: now)
    }

    // MARK: Timers

    /// The instant at which the owner must call `tick`, asked once: the owner sets a timer for
    /// it and calls `tick(now:)` when it fires. A timer that fires early (it was superseded by
    /// an earlier one) is harmless: `tick` applies what is due and asks for the next.
    ///
    /// Timers are asked for only when something will be due: a request waits (its queue
    /// timeout), an instance went idle above the minimum (its keep-alive), or the node denied a
    /// start while requests wait (a retry). A busy pool with nothing due asks for none.
    public mutating func takeTimerRequest() -> Duration? {
        defer { timerRequest = nil }
        return timerRequest
    }

    /// The earliest timer armed and not yet fired, for tests and listings.
    public var nextTimer: Duration? { armedDeadline }

    private mutating func propose(_ deadline: Duration) {
        if let armed = armedDeadline, armed <= deadline { return }
        armedDeadline = deadline
        timerRequest = deadline
    }

    private mutating func proposeKeepAlive(from now: Duration) {
        if liveInstanceCount > effectiveMinimum { propose(now + configuration.keepAlive) }
    }

    /// Asks for a timer at the next instant something is due, found by a scan (after a tick or
    /// a change of limits; the per-request events propose their own deadline instead).
    private mutating func proposeNextDeadline(now: Duration) {
        var next: Duration?
        func consider(_ d: Duration) { next = next.map { min($0, d) } ?? d }
        if let first = latencyQueue.first { consider(first.since + configuration.maxQueueWait) }
        if let first = offlineQueue.first { consider(first.since + configuration.maxQueueWait) }
        if liveInstanceCount > effectiveMinimum {
            for instance in instances.values where instance.phase == .ready && instance.inFlight == 0 {
                consider(instance.idleSince + configuration.keepAlive)
            }
        }
        if startDenied && queuedCount > 0 { consider(now + Self.deniedStartRetry) }
        if let next { propose(Swift.max(next, now + .milliseconds(1))) }
    }

    // MARK: Decisions

    /// The ready instance with a free slot that is busiest (bin packing), ties to the oldest id.
    private func bestReadyInstance() -> InstanceID? {
        var best: (id: InstanceID, inFlight: Int)?
        for (id, instance) in instances where instance.phase == .ready && instance.inFlight < configuration.concurrency {
            if let b = best, b.inFlight > instance.inFlight || (b.inFlight == instance.inFlight && b.id < id) { continue }
            best = (id, instance.inFlight)
        }
        return best?.id
    }

    /// Start as many instances as the waiting requests need beyond the capacity already starting.
    private mutating func scaleOut(now: Duration) -> [PoolAction] {
        var actions: [PoolAction] = []
        var coming = startingCount * configuration.concurrency
        while queuedCount > coming && liveInstanceCount < configuration.maxInstances {
            actions.append(startInstance(now: now))
            coming += configuration.concurrency
        }
        return actions
    }

    /// Start instances until the pool holds its effective minimum.
    private mutating func provision(now: Duration) -> [PoolAction] {
        var actions: [PoolAction] = []
        while liveInstanceCount < effectiveMinimum {
            actions.append(startInstance(now: now))
        }
        return actions
    }

    private mutating func startInstance(now: Duration) -> PoolAction {
        let id = nextInstanceID
        nextInstanceID += 1
        instances[id] = Instance(phase: .starting, inFlight: 0, idleSince: now)
        return .startInstance(id)
    }

    /// Route waiting requests to the free slots of `id`, latency-sensitive ones first.
    private mutating func fill(_ id: InstanceID, coldStart: Bool) -> [PoolAction] {
        var actions: [PoolAction] = []
        while instances[id]!.inFlight < configuration.concurrency {
            let waiting: Waiting
            if let w = latencyQueue.popFirst() {
                waiting = w
            } else if let w = offlineQueue.popFirst() {
                waiting = w
            } else {
                break
            }
            instances[id]!.inFlight += 1
            actions.append(.route(waiting.ticket, to: id, coldStart: coldStart))
        }
        return actions
    }

    private mutating func stop(_ id: InstanceID) -> [PoolAction] {
        guard instances[id] != nil else { return [] }
        instances[id]!.phase = .stopping
        return [.stopInstance(id)]
    }
}
