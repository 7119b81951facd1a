/// An error as States Language states raise, retry and catch it: a name and a cause.
///
/// Task failures carry the function's `errorType` as the name (a Node `TypeError` is caught by
/// `"ErrorEquals": ["TypeError"]`); the interpreter raises the predefined `States.…` names.
public struct StatesError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The error name (`Error` in the States Language).
    public var name: String
    /// A human-readable cause (`Cause`).
    public var cause: String

    public init(_ name: String, _ cause: String = "") {
        self.name = name
        self.cause = cause
    }

    public var description: String { cause.isEmpty ? name : "\(name): \(cause)" }

    /// The `{"Error": …, "Cause": …}` object that a Catch hands to its state (AWS leaves out an empty cause).
    public var output: JSON {
        var o = JSONObject()
        o["Error"] = .string(name)
        if !cause.isEmpty { o["Cause"] = .string(cause) }
        return .object(o)
    }

    public static func runtime(_ cause: String) -> StatesError { StatesError(ErrorName.runtime, cause) }
    public static func intrinsic(_ cause: String) -> StatesError { StatesError(ErrorName.intrinsicFailure, cause) }
}

/// The error names the specification predefines.
public enum ErrorName {
    /// Matches any error name except `States.Runtime` (which nothing can retry or catch).
    public static let all = "States.ALL"
    public static let heartbeatTimeout = "States.HeartbeatTimeout"
    public static let timeout = "States.Timeout"
    /// Matches any error name except `States.Timeout` (and `States.Runtime`).
    public static let taskFailed = "States.TaskFailed"
    public static let permissions = "States.Permissions"
    public static let resultPathMatchFailure = "States.ResultPathMatchFailure"
    public static let parameterPathFailure = "States.ParameterPathFailure"
    public static let branchFailed = "States.BranchFailed"
    public static let noChoiceMatched = "States.NoChoiceMatched"
    public static let intrinsicFailure = "States.IntrinsicFailure"
    public static let exceedToleratedFailureThreshold = "States.ExceedToleratedFailureThreshold"
    public static let itemReaderFailed = "States.ItemReaderFailed"
    public static let resultWriterFailed = "States.ResultWriterFailed"
    public static let runtime = "States.Runtime"
    public static let dataLimitExceeded = "States.DataLimitExceeded"
    public static let queryEvaluationError = "States.QueryEvaluationError"

    /// The names a definition may use in `ErrorEquals` beginning with `States.`.
    public static let predefined: Set<String> = [
        all, heartbeatTimeout, timeout, taskFailed, permissions, resultPathMatchFailure, parameterPathFailure,
        branchFailed, noChoiceMatched, intrinsicFailure, exceedToleratedFailureThreshold, itemReaderFailed,
        resultWriterFailed, runtime, dataLimitExceeded, queryEvaluationError,
    ]

    /// Whether an `ErrorEquals` list matches `error`: the name itself, `States.ALL` for anything
    /// but a terminal error, `States.TaskFailed` for anything but those and `States.Timeout`.
    public static func matches(_ errorEquals: [String], _ error: String) -> Bool {
        if error == runtime || error == dataLimitExceeded { return false }
        for name in errorEquals {
            if name == error || name == all { return true }
            if name == taskFailed, error != timeout { return true }
        }
        return false
    }
}
