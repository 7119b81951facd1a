import SwellModel

/// The node-wide limits every pool shares: a memory budget, a per-namespace instance
/// quota and the shares of the node's GPUs (``GPUPacking``, best fit). A pure value: pools ask it before starting an instance, report when an instance
/// turns busy or idle, and release it when it is gone.
///
/// When an instance does not fit in the memory budget, the least recently used idle
/// instances of any pool are chosen for eviction until it fits (best effort: a pool may
/// refuse, then it gives the reservation back with ``restore(_:namespace:memoryMB:now:)``).
public struct NodeCapacity: Sendable {
    /// Names one instance of one pool.
    public struct Holder: Sendable, Hashable {
        public var pool: Int
        public var instance: InstanceID
        public init(pool: Int, instance: InstanceID) {
            self.pool = pool
            self.instance = instance
        }
    }

    /// Why an instance may not start.
    public enum Denial: Sendable, Hashable {
        /// The namespace already runs its quota of instances.
        case namespaceQuota(limit: Int)
        /// The instance needs more memory than the budget has free, even after evicting every idle instance.
        case memory(neededMB: Int, freeMB: Int)
        /// The instance needs a GPU share no GPU has room for, even after evicting every idle
        /// instance holding one (`largestFreeMB` is the most any GPU has free).
        case gpu(neededMB: Int, largestFreeMB: Int)
    }

    public enum Decision: Sendable, Hashable {
        /// Start it; first stop these idle instances (least recently used first).
        case granted(evict: [Holder])
        case denied(Denial)
        /// Not now: stop these idle instances holding GPU shares, then ask again. GPU room is
        /// only handed over once an evicted holder is gone (``release(_:)``), so that a holder
        /// that turns busy meanwhile never shares its GPU memory with a newcomer.
        case wait(Denial, evict: [Holder])
    }

    struct Entry: Sendable, Hashable {
        var namespace: String
        var memoryMB: Int
        var busy: Bool
        var lastUsed: Duration
        /// It has served (or is serving) a request: a freshly started instance is on its
        /// way to one and is not a candidate for GPU eviction.
        var settled = false
    }

    /// Memory all instances together may reserve, in MB.
    public var memoryBudgetMB: Int
    /// Most instances one namespace may run at once.
    public var namespaceMaxInstances: Int
    /// Which GPU each instance's share is on.
    public private(set) var gpus: GPUPacking<Holder>
    private var entries: [Holder: Entry] = [:]
    /// Where holders evicted for memory had their GPU share, until they are gone or put back.
    private var evictedPlacements: [Holder: GPUPacking<Holder>.Placement] = [:]
    private var countByNamespace: [String: Int] = [:]
    public private(set) var reservedMB = 0

    public init(memoryBudgetMB: Int, namespaceMaxInstances: Int, gpus: [GPUDevice] = []) {
        self.memoryBudgetMB = memoryBudgetMB
        self.namespaceMaxInstances = namespaceMaxInstances
        self.gpus = GPUPacking(devices: gpus)
    }

    /// The GPU share `holder` was given, if any.
    public func gpuPlacement(of holder: Holder) -> GPUPacking<Holder>.Placement? { gpus.placement(of: holder) }

    /// Instances the namespace holds now.
    public func instances(in namespace: String) -> Int { countByNamespace[namespace, default: 0] }
    /// Instances held on the node.
    public var instanceCount: Int { entries.count }

    /// Asks room for a new instance (with a share of `gpuMemoryMB` on one GPU when positive).
    /// On `.granted` the room is reserved (and the evicted instances' room released); the
    /// caller must stop the evicted instances. ``gpuPlacement(of:)`` then says which GPU.
    public mutating func reserve(_ holder: Holder, namespace: String, memoryMB: Int, gpuMemoryMB: Int = 0, now: Duration) -> Decision {
        if countByNamespace[namespace, default: 0] >= namespaceMaxInstances {
            return .denied(.namespaceQuota(limit: namespaceMaxInstances))
        }
        let idle = entries.filter { !$0.value.busy }
            .sorted { ($0.value.lastUsed, $0.key.pool, $0.key.instance) < ($1.value.lastUsed, $1.key.pool, $1.key.instance) }
        if gpuMemoryMB > 0, gpus.bestFit(memoryMB: gpuMemoryMB) == nil {
            // Idle instances holding GPU shares are to go, least recently used first, until a
            // GPU would have room; the start waits for them to be gone.
            var trial = gpus
            var victims: [Holder] = []
            for (candidate, entry) in idle where entry.settled && trial.placement(of: candidate) != nil {
                victims.append(candidate)
                trial.release(candidate)
                if trial.bestFit(memoryMB: gpuMemoryMB) != nil { break }
            }
            let denial = Denial.gpu(neededMB: gpuMemoryMB, largestFreeMB: gpus.largestFreeMB)
            guard trial.bestFit(memoryMB: gpuMemoryMB) != nil else { return .denied(denial) }
            return .wait(denial, evict: victims)
        }
        var evict: [Holder] = []
        var free = memoryBudgetMB - reservedMB
        if free < memoryMB {
            for (candidate, entry) in idle where free < memoryMB {
                evict.append(candidate)
                free += entry.memoryMB
            }
            if free < memoryMB {
                return .denied(.memory(neededMB: memoryMB, freeMB: memoryBudgetMB - reservedMB))
            }
        }
        // The newcomer's GPU share is placed before the victims' shares are freed, so that a
        // victim put back (``restore``) finds its GPU room still there.
        insert(holder, Entry(namespace: namespace, memoryMB: memoryMB, busy: false, lastUsed: now))
        if gpuMemoryMB > 0 { _ = gpus.place(holder, memoryMB: gpuMemoryMB) }
        for candidate in evict {
            if let p = gpus.placement(of: candidate) { evictedPlacements[candidate] = p }
            release(candidate)
        }
        return .granted(evict: evict)
    }

    /// Puts back a reservation an eviction took but the pool did not give up, with its GPU
    /// share on the GPU it runs on. Returns false when that GPU has no room for it any more
    /// (the instance keeps running; its share is then not counted).
    @discardableResult
    public mutating func restore(_ holder: Holder, namespace: String, memoryMB: Int, gpuMemoryMB: Int = 0, now: Duration) -> Bool {
        guard entries[holder] == nil else { return true }
        insert(holder, Entry(namespace: namespace, memoryMB: memoryMB, busy: false, lastUsed: now))
        guard let previous = evictedPlacements.removeValue(forKey: holder) else { return gpuMemoryMB == 0 }
        return gpus.place(holder, memoryMB: previous.memoryMB, on: previous.device) != nil
    }

    /// The instance took its first request (busy instances are never evicted).
    public mutating func markBusy(_ holder: Holder, now: Duration) {
        entries[holder]?.busy = true
        entries[holder]?.settled = true
        entries[holder]?.lastUsed = now
    }

    /// The instance finished its last request and is idle.
    public mutating func markIdle(_ holder: Holder, now: Duration) {
        entries[holder]?.busy = false
        entries[holder]?.settled = true
        entries[holder]?.lastUsed = now
    }

    /// The instance is gone (or never started).
    public mutating func release(_ holder: Holder) {
        gpus.release(holder)
        guard let entry = entries.removeValue(forKey: holder) else {
            evictedPlacements[holder] = nil  // an evicted holder is gone for good
            return
        }
        reservedMB -= entry.memoryMB
        countByNamespace[entry.namespace, default: 1] -= 1
        if countByNamespace[entry.namespace] == 0 { countByNamespace.removeValue(forKey: entry.namespace) }
    }

    private mutating func insert(_ holder: Holder, _ entry: Entry) {
        entries[holder] = entry
        reservedMB += entry.memoryMB
        countByNamespace[entry.namespace, default: 0] += 1
    }
}
