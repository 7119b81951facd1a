import Foundation

/// How a function invocation failed, as reported in `X-Swell-Function-Error`.
public enum FunctionErrorKind: String, Sendable, Codable, Hashable {
    /// The handler threw or returned an error.
    case unhandled = "Unhandled"
    /// The invocation ran past the function's timeout; the instance was killed.
    case timeout = "Timeout"
    /// The instance's process exited while the invocation was in flight.
    case crashed = "Crashed"
    /// The instance ran out of memory.
    case outOfMemory = "OutOfMemory"
    /// The runtime could not load the handler.
    case initError = "InitError"
    /// The function's response exceeded the 6 MB limit.
    case responseTooLarge = "ResponseTooLarge"
}

/// The structured error body of a failed invocation, as Lambda runtimes report it.
public struct FunctionError: Sendable, Codable, Hashable, Error {
    public var errorType: String
    public var errorMessage: String
    public var stackTrace: [String]

    public init(errorType: String, errorMessage: String, stackTrace: [String] = []) {
        self.errorType = errorType
        self.errorMessage = errorMessage
        self.stackTrace = stackTrace
    }
}

/// The record of one finished invocation, written behind the request.
public struct InvocationRecord: Sendable, Codable, Hashable {
    public var requestID: String
    public var namespace: String
    public var function: String
    public var version: String
    public var status: String
    public var errorType: String?
    public var coldStart: Bool
    public var initMs: Double
    public var durationMs: Double
    public var billedMs: Int
    public var memoryMB: Int
    public var startedAt: Date

    public init(
        requestID: String, namespace: String, function: String, version: String, status: String, errorType: String?,
        coldStart: Bool, initMs: Double, durationMs: Double, billedMs: Int, memoryMB: Int, startedAt: Date
    ) {
        self.requestID = requestID
        self.namespace = namespace
        self.function = function
        self.version = version
        self.status = status
        self.errorType = errorType
        self.coldStart = coldStart
        self.initMs = initMs
        self.durationMs = durationMs
        self.billedMs = billedMs
        self.memoryMB = memoryMB
        self.startedAt = startedAt
    }

    /// Billed duration: run time rounded up to the next millisecond, at least 1 ms.
    public static func billed(durationMs: Double) -> Int {
        max(1, Int(durationMs.rounded(.up)))
    }
}

/// One captured line of a function's output.
public struct LogLine: Sendable, Codable, Hashable {
    /// Store-assigned, increasing cursor (0 until stored).
    public var id: Int64
    public var time: Date
    public var namespace: String
    public var function: String
    public var version: String
    public var instance: String
    public var requestID: String?
    /// `stdout`, `stderr` or `platform`.
    public var stream: String
    public var message: String

    public init(
        id: Int64 = 0, time: Date, namespace: String, function: String, version: String, instance: String,
        requestID: String?, stream: String, message: String
    ) {
        self.id = id
        self.time = time
        self.namespace = namespace
        self.function = function
        self.version = version
        self.instance = instance
        self.requestID = requestID
        self.stream = stream
        self.message = message
    }
}
