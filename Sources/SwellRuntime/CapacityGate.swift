import SwellModel
import SwellScheduler
import Synchronization

/// The node's shared `NodeCapacity` (memory budget, namespace quotas) behind a lock, with
/// the hook that asks a pool to give up an idle instance chosen for eviction.
public final class CapacityGate: Sendable {
    private let state: Mutex<NodeCapacity>
    private let evictor = Mutex<(@Sendable (NodeCapacity.Holder) -> Void)?>(nil)
    private let origin = ContinuousClock.now

    public init(memoryBudgetMB: Int, namespaceMaxInstances: Int, gpus: [GPUDevice] = []) {
        state = Mutex(NodeCapacity(memoryBudgetMB: memoryBudgetMB, namespaceMaxInstances: namespaceMaxInstances, gpus: gpus))
    }

    private var now: Duration { ContinuousClock.now - origin }

    /// Installs who stops evicted instances (the runtime manager).
    func setEvictor(_ evict: @escaping @Sendable (NodeCapacity.Holder) -> Void) {
        evictor.withLock { $0 = evict }
    }

    /// Reserves room for an instance; evictions it needs are handed to the evictor.
    func reserve(_ holder: NodeCapacity.Holder, namespace: String, memoryMB: Int, gpuMemoryMB: Int = 0) -> NodeCapacity.Decision {
        let t = now
        let decision = state.withLock { $0.reserve(holder, namespace: namespace, memoryMB: memoryMB, gpuMemoryMB: gpuMemoryMB, now: t) }
        switch decision {
        case .granted(let evicted), .wait(_, let evicted):
            if !evicted.isEmpty, let evict = evictor.withLock({ $0 }) {
                for h in evicted { evict(h) }
            }
        case .denied:
            break
        }
        return decision
    }

    func restore(_ holder: NodeCapacity.Holder, namespace: String, memoryMB: Int, gpuMemoryMB: Int = 0) {
        let t = now
        state.withLock { _ = $0.restore(holder, namespace: namespace, memoryMB: memoryMB, gpuMemoryMB: gpuMemoryMB, now: t) }
    }

    /// The GPU share an instance holds, if any.
    func gpuPlacement(_ holder: NodeCapacity.Holder) -> GPUPacking<NodeCapacity.Holder>.Placement? {
        state.withLock { $0.gpuPlacement(of: holder) }
    }

    /// The node's declared GPUs.
    public var gpus: [GPUDevice] { state.withLock { $0.gpus.devices } }

    func markBusy(_ holder: NodeCapacity.Holder) {
        let t = now
        state.withLock { $0.markBusy(holder, now: t) }
    }

    func markIdle(_ holder: NodeCapacity.Holder) {
        let t = now
        state.withLock { $0.markIdle(holder, now: t) }
    }

    func release(_ holder: NodeCapacity.Holder) {
        state.withLock { $0.release(holder) }
    }

    /// Reserved memory (MB) and its budget, for metrics.
    public var usage: (reservedMB: Int, budgetMB: Int, instances: Int) {
        state.withLock { ($0.reservedMB, $0.memoryBudgetMB, $0.instanceCount) }
    }
}
