import SwellModel
import Synchronization

/// This node's place among the live nodes sharing a store (scale-out), for what is counted
/// cluster-wide but run per node: a function's minimum and scheduled instances are split
/// across the live nodes, each running its part (`share(of:)`), and the survivors take a
/// dead node's part over once the registry sees it dead.
public final class ClusterShare: Sendable {
    /// Unknown (count 0) until the registry first answers: no share is taken before then, so a
    /// node starting does not provision everything for a moment.
    private let state = Mutex((rank: 0, count: 0))

    public init() {}

    /// This node is the `rank`-th (from 0) of `count` live nodes, in the registry's order.
    public func update(rank: Int, count: Int) {
        let count = max(1, count)
        state.withLock { $0 = (min(max(0, rank), count - 1), count) }
    }

    public var nodes: Int { state.withLock { $0.count } }

    /// This node's part of `total`: `total / count`, one more on the first `total % count` nodes
    /// (0 while the live nodes are not known yet).
    public func share(of total: Int) -> Int {
        let (rank, count) = state.withLock { $0 }
        guard count > 0 else { return 0 }
        return total / count + (rank < total % count ? 1 : 0)
    }

    /// The configuration a pool of this node gets: minimum instances are the provisioner's to
    /// set (this node's share), not the pool's own.
    public func poolConfig(_ config: FunctionConfig) -> FunctionConfig {
        var config = config
        config.scaling.minInstances = 0
        return config
    }
}
