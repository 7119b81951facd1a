import Foundation

/// What an async invoke may ask for besides its payload.
public struct TaskOptions: Sendable, Hashable {
    /// Duplicates with the same key (per function, within a day) return the first task.
    public var idempotencyKey: String?
    /// 0–9, higher first.
    public var priority: Int
    /// Not before this time.
    public var runAt: Date?
    /// Seconds the invocation may run (nil: the function's timeout).
    public var timeout: Int?

    public init(idempotencyKey: String? = nil, priority: Int = 0, runAt: Date? = nil, timeout: Int? = nil) {
        self.idempotencyKey = idempotencyKey
        self.priority = priority
        self.runAt = runAt
        self.timeout = timeout
    }
}

/// The answer to an async invoke.
public struct EnqueueResult: Sendable, Hashable {
    public var taskID: String
    /// True when an earlier task with the same idempotency key was returned.
    public var duplicate: Bool
}
