import SwellModel

/// Which GPU each instance's share of GPU memory lives on: a pure value.
///
/// Shares are packed by best fit: a new share goes to the GPU with the least free memory
/// that still holds it (ties: the lowest index), so large free regions stay whole for large
/// shares. A share never spans GPUs; when no GPU has room, ``place(_:memoryMB:)`` refuses
/// and the caller queues the instance.
public struct GPUPacking<Holder: Hashable & Sendable>: Sendable {
    public struct Placement: Sendable, Hashable {
        public var device: Int
        public var memoryMB: Int
    }

    public let devices: [GPUDevice]
    private var usedMB: [Int: Int] = [:]
    private var placements: [Holder: Placement] = [:]

    public init(devices: [GPUDevice]) {
        self.devices = devices.sorted { $0.index < $1.index }
    }

    /// Free memory of GPU `index` (0 for an unknown one).
    public func freeMB(_ index: Int) -> Int {
        guard let d = devices.first(where: { $0.index == index }) else { return 0 }
        return d.memoryMB - usedMB[index, default: 0]
    }

    /// The most free memory any one GPU has.
    public var largestFreeMB: Int { devices.map { freeMB($0.index) }.max() ?? 0 }

    /// The GPU a share of `memoryMB` would go to now, or nil when none has room.
    public func bestFit(memoryMB: Int) -> Int? {
        guard memoryMB > 0 else { return nil }
        var best: (free: Int, index: Int)?
        for d in devices {
            let free = freeMB(d.index)
            guard free >= memoryMB else { continue }
            if best == nil || free < best!.free { best = (free, d.index) }
        }
        return best?.index
    }

    /// Places `holder`'s share; returns where, or nil when no GPU has room (nothing changes).
    /// A holder already placed keeps its placement.
    public mutating func place(_ holder: Holder, memoryMB: Int) -> Placement? {
        if let existing = placements[holder] { return existing }
        guard let device = bestFit(memoryMB: memoryMB) else { return nil }
        let placement = Placement(device: device, memoryMB: memoryMB)
        placements[holder] = placement
        usedMB[device, default: 0] += memoryMB
        return placement
    }

    /// Places `holder`'s share on GPU `device` when it has room there (an instance put back
    /// where it already runs); nil otherwise, and nothing changes.
    public mutating func place(_ holder: Holder, memoryMB: Int, on device: Int) -> Placement? {
        if let existing = placements[holder] { return existing.device == device ? existing : nil }
        guard memoryMB > 0, freeMB(device) >= memoryMB else { return nil }
        let placement = Placement(device: device, memoryMB: memoryMB)
        placements[holder] = placement
        usedMB[device, default: 0] += memoryMB
        return placement
    }

    public func placement(of holder: Holder) -> Placement? { placements[holder] }

    public var holders: Dictionary<Holder, Placement>.Keys { placements.keys }

    /// Frees `holder`'s share, if it has one.
    public mutating func release(_ holder: Holder) {
        guard let p = placements.removeValue(forKey: holder) else { return }
        usedMB[p.device, default: 0] -= p.memoryMB
        if usedMB[p.device] == 0 { usedMB[p.device] = nil }
    }
}
