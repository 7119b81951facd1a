/// Identifies one invocation a workflow asked for (a new one for every retry).
public struct TaskID: Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public var description: String { "task-\(rawValue)" }
}

/// Identifies one timer a workflow asked for.
public struct TimerID: Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public var description: String { "timer-\(rawValue)" }
}

/// Who an execution is, as the context object (`$$.Execution`, `$$.StateMachine`) shows it.
public struct ExecutionInfo: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var stateMachineID: String
    public var stateMachineName: String
    public var roleArn: String?

    public init(id: String, name: String, stateMachineID: String, stateMachineName: String, roleArn: String? = nil) {
        self.id = id
        self.name = name
        self.stateMachineID = stateMachineID
        self.stateMachineName = stateMachineName
        self.roleArn = roleArn
    }
}

/// What a finished invocation returned.
public struct TaskResult: Sendable, Hashable, Codable {
    /// The function's output (for a callback task: the output sent with the token).
    public var output: JSON
    /// The version that ran (`ExecutedVersion` of `arn:aws:states:::lambda:invoke`).
    public var executedVersion: String?

    public init(output: JSON, executedVersion: String? = nil) {
        self.output = output
        self.executedVersion = executedVersion
    }
}

/// What happens to an execution: the inputs of the step function.
public enum WorkflowEvent: Sendable, Hashable, Codable {
    /// The execution starts with this input.
    case started(input: JSON)
    /// An invocation asked for by `invokeTask` began to run (history: `TaskStarted`; optional).
    case taskStarted(TaskID)
    /// An invocation asked for by `invokeTask` returned. For a `.waitForTaskToken` task this only
    /// means the function was called (history: `TaskSubmitted`); the task waits for its callback.
    case taskSucceeded(TaskID, TaskResult)
    /// An invocation failed: a function error under its `errorType`, `States.Timeout` for a
    /// function that ran out of time, `States.TaskFailed` for a platform failure.
    case taskFailed(TaskID, StatesError)
    /// `send-task-success` with a task token.
    case callbackSucceeded(token: String, output: JSON)
    /// `send-task-failure` with a task token.
    case callbackFailed(token: String, StatesError)
    /// `send-task-heartbeat` with a task token.
    case callbackHeartbeat(token: String)
    /// A timer asked for by `startTimer` is due.
    case timerFired(TimerID)
    /// The execution is stopped (aborted) from outside.
    case stopped(StatesError?)
}

/// What the step function asks its owner to do, in order.
public enum WorkflowAction: Sendable, Hashable, Codable {
    /// Append an event to the execution's history.
    case record(HistoryEvent)
    /// Invoke a function; report the outcome as `taskSucceeded`/`taskFailed` with the same id.
    case invokeTask(TaskInvocation)
    /// An invocation is no longer wanted (timed out, or its execution or branch stopped).
    case cancelTask(TaskID)
    /// Report `timerFired(id)` at (or after) `at`; durable: it must survive a restart.
    case startTimer(TimerID, at: Timestamp)
    case cancelTimer(TimerID)
    case executionSucceeded(output: JSON)
    case executionFailed(StatesError)
    case executionTimedOut
    case executionAborted(StatesError?)
}

/// One invocation of a Swell function for a Task state.
public struct TaskInvocation: Sendable, Hashable, Codable {
    public var id: TaskID
    /// The state that asked for it (for logs and metrics).
    public var stateName: String
    public var function: FunctionReference
    /// The event the function receives.
    public var payload: JSON
    /// `TimeoutSeconds` of the state: the invocation should be stopped after it (the interpreter
    /// also keeps a timer and fails the task with `States.Timeout` when it fires first).
    public var timeoutSeconds: Int?
    public var heartbeatSeconds: Int?
    /// Set for `.waitForTaskToken`: the token the callback must send.
    public var taskToken: String?
}

/// One entry of an execution's history, in the Step Functions vocabulary.
public struct HistoryEvent: Sendable, Hashable, Codable {
    public var id: Int
    /// The event before this one on the same path of the execution (0 for the first).
    public var previousEventID: Int
    public var timestamp: Timestamp
    public var type: HistoryEventType
    public var details: HistoryDetails

    public init(id: Int, previousEventID: Int, timestamp: Timestamp, type: HistoryEventType, details: HistoryDetails) {
        self.id = id
        self.previousEventID = previousEventID
        self.timestamp = timestamp
        self.type = type
        self.details = details
    }
}

/// The fields of a history event (those its type uses are set).
public struct HistoryDetails: Sendable, Hashable, Codable {
    /// The state's name (state and task events).
    public var name: String?
    public var input: JSON?
    public var output: JSON?
    public var error: String?
    public var cause: String?
    /// The task's resource (`TaskScheduled`).
    public var resource: String?
    /// The invocation's payload (`TaskScheduled`).
    public var parameters: JSON?
    public var timeoutSeconds: Int?
    public var heartbeatSeconds: Int?
    /// The Map iteration (`MapIteration…`) or Parallel branch index.
    public var index: Int?
    /// The number of Map items (`MapStateStarted`).
    public var length: Int?

    public init(name: String? = nil, input: JSON? = nil, output: JSON? = nil, error: String? = nil, cause: String? = nil,
                resource: String? = nil, parameters: JSON? = nil, timeoutSeconds: Int? = nil, heartbeatSeconds: Int? = nil,
                index: Int? = nil, length: Int? = nil)
    {
        self.name = name
        self.input = input
        self.output = output
        self.error = error
        self.cause = cause
        self.resource = resource
        self.parameters = parameters
        self.timeoutSeconds = timeoutSeconds
        self.heartbeatSeconds = heartbeatSeconds
        self.index = index
        self.length = length
    }
}

public enum HistoryEventType: String, Sendable, Hashable, Codable, CaseIterable {
    case executionStarted = "ExecutionStarted"
    case executionSucceeded = "ExecutionSucceeded"
    case executionFailed = "ExecutionFailed"
    case executionAborted = "ExecutionAborted"
    case executionTimedOut = "ExecutionTimedOut"
    case passStateEntered = "PassStateEntered"
    case passStateExited = "PassStateExited"
    case taskStateEntered = "TaskStateEntered"
    case taskStateExited = "TaskStateExited"
    case choiceStateEntered = "ChoiceStateEntered"
    case choiceStateExited = "ChoiceStateExited"
    case waitStateEntered = "WaitStateEntered"
    case waitStateExited = "WaitStateExited"
    case succeedStateEntered = "SucceedStateEntered"
    case succeedStateExited = "SucceedStateExited"
    case failStateEntered = "FailStateEntered"
    case parallelStateEntered = "ParallelStateEntered"
    case parallelStateStarted = "ParallelStateStarted"
    case parallelStateSucceeded = "ParallelStateSucceeded"
    case parallelStateFailed = "ParallelStateFailed"
    case parallelStateExited = "ParallelStateExited"
    case mapStateEntered = "MapStateEntered"
    case mapStateStarted = "MapStateStarted"
    case mapStateSucceeded = "MapStateSucceeded"
    case mapStateFailed = "MapStateFailed"
    case mapStateExited = "MapStateExited"
    case mapIterationStarted = "MapIterationStarted"
    case mapIterationSucceeded = "MapIterationSucceeded"
    case mapIterationFailed = "MapIterationFailed"
    case mapIterationAborted = "MapIterationAborted"
    case taskScheduled = "TaskScheduled"
    case taskStarted = "TaskStarted"
    case taskSubmitted = "TaskSubmitted"
    case taskSucceeded = "TaskSucceeded"
    case taskFailed = "TaskFailed"
    case taskTimedOut = "TaskTimedOut"

    static func entered(_ state: State) -> HistoryEventType {
        HistoryEventType(rawValue: "\(state.typeName)StateEntered")!
    }

    static func exited(_ state: State) -> HistoryEventType? {
        HistoryEventType(rawValue: "\(state.typeName)StateExited")
    }
}
