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
    /// The trace its attempts continue (a W3C `traceparent`); nil: the span current at enqueue, if any.
    public var traceParent: String?

    public init(idempotencyKey: String? = nil, priority: Int = 0, runAt: Date? = nil, timeout: Int? = nil, traceParent: String? = nil) {
        self.traceParent = traceParent
        self.idempotencyKey = idempotencyKey
        self.priority = priority
        self.runAt = runAt
        self.timeout = timeout
    }
}

/// One task of an enqueue call: its event and options.
public struct TaskSubmission: Sendable, Hashable {
    /// The event, as JSON.
    public var payload: Data
    public var options: TaskOptions

    public init(payload: Data, options: TaskOptions = TaskOptions()) {
        self.payload = payload
        self.options = options
    }
}

/// The answer to an async invoke.
public struct EnqueueResult: Sendable, Hashable {
    public var taskID: String
    /// True when an earlier task with the same idempotency key was returned.
    public var duplicate: Bool

    public init(taskID: String, duplicate: Bool) {
        self.taskID = taskID
        self.duplicate = duplicate
    }
}
