/// Identifies one request waiting for, or holding, a slot in a pool.
public typealias Ticket = UInt64
/// Identifies one instance of a pool.
public typealias InstanceID = UInt64

/// Why a request was turned away.
public enum RejectReason: Sendable, Hashable {
    /// No slot became free within the pool's maximum queue wait.
    case queueTimeout
    /// The wait queue is full.
    case queueFull
    /// The instance that was started for the request could not start.
    case startFailed
    /// The pool is shutting down.
    case shuttingDown
    /// The caller went away while it waited for a slot.
    case cancelled
}

/// What the owner of a pool must do after an event.
public enum PoolAction: Sendable, Hashable {
    /// Hand the request to the instance; `coldStart` is true when the request waited for this instance to start.
    case route(Ticket, to: InstanceID, coldStart: Bool)
    /// Start a new instance with this id; report `instanceReady` or `instanceStartFailed` later.
    case startInstance(InstanceID)
    /// Stop the instance (it is idle past its keep-alive, evicted, or the pool is draining).
    case stopInstance(InstanceID)
    /// Answer the request with an error.
    case reject(Ticket, RejectReason)
}
