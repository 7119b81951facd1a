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
    private var queue: Deque<Waiting> = []
    private var nextInstanceID: InstanceID = 1
    private var draining = false

    public init(configuration: PoolConfiguration) {
        self.configuration = configuration
    }

    /// Requests waiting for a slot.
    public var queuedCount: Int { queue.count }
    /// Requests holding a slot.
    public var inFlightCount: Int { instances.values.reduce(0) { $0 + $1.inFlight } }
    /// Instances that are starting or ready.
    public var liveInstanceCount: Int { instances.values.count { $0.phase != .stopping } }

    private var startingCount: Int { instances.values.count { $0.phase == .starting } }

    // MARK: Events

    /// A request wants a slot.
    public mutating func requestArrived(_ ticket: Ticket, now: Duration) -> [PoolAction] {
        if draining { return [.reject(ticket, .shuttingDown)] }
        if let id = bestReadyInstance() {
            instances[id]!.inFlight += 1
            return [.route(ticket, to: id, coldStart: false)]
        }
        guard queue.count < configuration.maxQueueLength else { return [.reject(ticket, .queueFull)] }
        queue.append(Waiting(ticket: ticket, since: now))
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
        return fill(id, coldStart: false)
    }

    /// A waiting request gave up (its client went away).
    public mutating func requestCancelled(_ ticket: Ticket) {
        queue.removeAll { $0.ticket == ticket }
    }

    /// The instance finished starting and can take requests.
    public mutating func instanceReady(_ id: InstanceID, now: Duration) -> [PoolAction] {
        guard var instance = instances[id], instance.phase == .starting else { return [] }
        instance.phase = .ready
        instance.idleSince = now
        instances[id] = instance
        if draining { return stop(id) }
        return fill(id, coldStart: true)
    }

    /// The instance could not start. Requests that were waiting for it are rejected
    /// (the owner reports the start error to them), unless other capacity is on its way.
    public mutating func instanceStartFailed(_ id: InstanceID, now: Duration) -> [PoolAction] {
        guard instances.removeValue(forKey: id) != nil else { return [] }
        let capacityComing = instances.values.contains { $0.phase != .stopping }
        if capacityComing { return scaleOut(now: now) }
        let rejected = queue.map { PoolAction.reject($0.ticket, .startFailed) }
        queue.removeAll()
        return rejected
    }

    /// The instance is gone (exited, crashed, killed or stopped). Its in-flight requests
    /// are the owner's to fail; waiting requests get a replacement if they need one.
    public mutating func instanceExited(_ id: InstanceID, now: Duration) -> [PoolAction] {
        guard instances.removeValue(forKey: id) != nil else { return [] }
        if draining { return [] }
        return scaleOut(now: now)
    }

    /// Time passed: stop instances idle past the keep-alive; reject requests that waited too long.
    public mutating func tick(now: Duration) -> [PoolAction] {
        var actions: [PoolAction] = []
        while let first = queue.first, now - first.since >= configuration.maxQueueWait {
            queue.removeFirst()
            actions.append(.reject(first.ticket, .queueTimeout))
        }
        for (id, instance) in instances.sorted(by: { $0.key < $1.key })
        where instance.phase == .ready && instance.inFlight == 0 && now - instance.idleSince >= configuration.keepAlive {
            actions += stop(id)
        }
        return actions
    }

    /// Stop every instance and turn away every waiting and future request.
    public mutating func drain() -> [PoolAction] {
        draining = true
        var actions = queue.map { PoolAction.reject($0.ticket, .shuttingDown) }
        queue.removeAll()
        for (id, instance) in instances.sorted(by: { $0.key < $1.key }) where instance.phase != .stopping {
            if instance.phase == .ready && instance.inFlight > 0 { continue }
            actions += stop(id)
        }
        return actions
    }

    /// New settings (a redeploy of the same version changes nothing, but limits may change).
    public mutating func reconfigure(_ configuration: PoolConfiguration) {
        self.configuration = configuration
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
        while queue.count > coming && liveInstanceCount < configuration.maxInstances {
            let id = nextInstanceID
            nextInstanceID += 1
            instances[id] = Instance(phase: .starting, inFlight: 0, idleSince: now)
            actions.append(.startInstance(id))
            coming += configuration.concurrency
        }
        return actions
    }

    /// Route waiting requests to the free slots of `id`.
    private mutating func fill(_ id: InstanceID, coldStart: Bool) -> [PoolAction] {
        var actions: [PoolAction] = []
        while let waiting = queue.first, instances[id]!.inFlight < configuration.concurrency {
            queue.removeFirst()
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
