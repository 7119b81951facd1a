import Foundation

/// Where an async task is in its life.
public enum TaskState: String, Sendable, Codable, Hashable, CaseIterable {
    /// Waiting to run (or to be retried).
    case queued
    case running
    case succeeded
    /// Attempts used up; the task is in the dead-letter list.
    case failed
    /// Stopped through the API.
    case stopped
    /// Older than the function's maximum event age before it could succeed.
    case expired

    /// Whether the task will not run again unless re-driven.
    public var isFinal: Bool { self != .queued && self != .running }
}

/// One asynchronous invocation and everything needed to run, retry and trace it.
public struct TaskRecord: Sendable, Codable, Hashable {
    public var id: String
    public var namespace: String
    public var function: String
    public var qualifier: String
    public var state: TaskState
    /// 0–9, higher first.
    public var priority: Int
    public var payload: Data
    public var idempotencyKey: String?
    /// Seconds; nil: the function's timeout.
    public var timeout: Int?
    public var createdAt: Date
    /// Not before this time.
    public var runAt: Date
    /// Attempts that counted (function errors and timeouts), and every start.
    public var attempts: Int
    public var starts: Int
    public var updatedAt: Date
    public var finishedAt: Date?
    /// The successful result (JSON), or the last error (JSON `{errorType, errorMessage, ...}`).
    public var result: Data?
    public var error: Data?
    /// The W3C `traceparent` of the span that enqueued it (tracing on), so its attempts continue that trace.
    public var traceParent: String?

    public init(
        id: String, namespace: String, function: String, qualifier: String = "$LATEST", state: TaskState = .queued,
        priority: Int = 0, payload: Data, idempotencyKey: String? = nil, timeout: Int? = nil, createdAt: Date,
        runAt: Date, attempts: Int = 0, starts: Int = 0, updatedAt: Date? = nil, finishedAt: Date? = nil,
        result: Data? = nil, error: Data? = nil, traceParent: String? = nil
    ) {
        self.traceParent = traceParent
        self.id = id
        self.namespace = namespace
        self.function = function
        self.qualifier = qualifier
        self.state = state
        self.priority = priority
        self.payload = payload
        self.idempotencyKey = idempotencyKey
        self.timeout = timeout
        self.createdAt = createdAt
        self.runAt = runAt
        self.attempts = attempts
        self.starts = starts
        self.updatedAt = updatedAt ?? createdAt
        self.finishedAt = finishedAt
        self.result = result
        self.error = error
    }
}

/// One run of a task.
public struct TaskAttempt: Sendable, Codable, Hashable {
    public var taskID: String
    /// 1, 2, ... in start order.
    public var number: Int
    /// The invocation's request id (its log lines carry it).
    public var requestID: String
    public var startedAt: Date
    public var finishedAt: Date?
    /// `succeeded`, `functionError`, `timeout`, `throttled`, `platformFault`, `stopped`,
    /// `interrupted` (the server died while it ran); nil while running.
    public var outcome: String?
    public var errorType: String?
    public var error: Data?
    /// Milliseconds from the time the task became runnable to this start.
    public var queueDelayMs: Double
    public var durationMs: Double?
    public var coldStart: Bool

    public init(
        taskID: String, number: Int, requestID: String, startedAt: Date, finishedAt: Date? = nil, outcome: String? = nil,
        errorType: String? = nil, error: Data? = nil, queueDelayMs: Double, durationMs: Double? = nil, coldStart: Bool = false
    ) {
        self.taskID = taskID
        self.number = number
        self.requestID = requestID
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.errorType = errorType
        self.error = error
        self.queueDelayMs = queueDelayMs
        self.durationMs = durationMs
        self.coldStart = coldStart
    }
}

/// Limits of the async queue.
public enum TaskLimits {
    /// Largest async event payload: 256 KB (413 beyond).
    public static let maxPayloadBytes = 256 * 1024
    /// Tasks one batch enqueue may carry, and its largest body: 6 MB (413 beyond).
    public static let maxBatchTasks = 500
    public static let maxBatchBytes = 6 * 1024 * 1024
    public static let priorityRange = 0...9
    /// Longest delay a task may ask for: a day.
    public static let maxDelaySeconds = 86_400
    /// How long an idempotency key maps to its first task.
    public static let idempotencyWindow: TimeInterval = 24 * 3600
    /// Finished tasks are kept this long.
    public static let retention: TimeInterval = 7 * 86_400
}
