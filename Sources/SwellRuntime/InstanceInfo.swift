import SwellModel

/// What a log line or a metric needs to know about the instance it came from.
public struct InstanceInfo: Sendable, Hashable {
    public var function: FunctionKey
    /// `i-` and 12 hex digits, unique for the life of the server.
    public var name: String
    public var memoryMB: Int
    /// The GPU (CUDA index) holding the instance's share of GPU memory, and the share in MiB.
    public var gpuDevice: Int? = nil
    public var gpuMemoryMB: Int = 0
}
