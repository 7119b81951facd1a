import Foundation

/// One instance as `swell instances` and the API list it.
public struct InstanceSnapshot: Sendable, Codable, Hashable {
    public var id: String
    public var version: String
    /// `starting`, `idle`, `busy` or `stopping`.
    public var state: String
    public var busy: Int
    public var free: Int
    public var pid: Int?
    /// The resident memory of the instance's main process (from /proc), in bytes.
    public var memoryBytes: Int?
    public var ageSeconds: Double
    public var initMs: Double?
    /// Whether the pool keeps a minimum of instances (provisioned or scheduled).
    public var provisioned: Bool
}

/// A pool's load, as the async dispatcher sees it.
public struct PoolLoad: Sendable, Hashable {
    /// Latency-sensitive requests waiting for a slot (offline work should hold back while above 0).
    public var queuedLatency: Int
    public var queued: Int
    public var inFlight: Int
    public var instances: Int
    /// Slots the pool can reach at its maximum scale.
    public var capacity: Int
}

/// Reads a process's memory from /proc.
enum ProcessMemory {
    /// Resident set size in bytes (from /proc/PID/statm), or nil.
    static func residentBytes(_ pid: pid_t) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
