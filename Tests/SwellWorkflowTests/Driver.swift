@testable import SwellWorkflow

/// Drives one execution through the step function the way a durable owner would, with a fake
/// task executor and a fake clock that jumps to the next timer when nothing else can happen.
struct Driver {
    enum Outcome {
        case succeed(JSON, version: String? = nil)
        case fail(StatesError)
        /// The invocation never answers (a callback task, or one that will time out).
        case hang
    }

    let machine: StateMachine
    var state: ExecutionState
    var now: Timestamp
    var history: [HistoryEvent] = []
    var timers: [TimerID: Timestamp] = [:]
    var queued: [TaskInvocation] = []
    var invocations: [TaskInvocation] = []
    var hanging: [TaskInvocation] = []
    var cancelledTasks: [TaskID] = []
    var cancelledTimers: [TimerID] = []
    var timerRequests: [(TimerID, Timestamp)] = []
    var end: WorkflowAction?
    var steps = 0

    init(_ definition: String, seed: UInt64 = 1, now: Timestamp = Timestamp(seconds: 1_700_000_000)) throws {
        machine = try StateMachine(parsing: definition)
        state = ExecutionState(info: ExecutionInfo(id: "exec-1", name: "run-1", stateMachineID: "sm-1", stateMachineName: "grade-set"), seed: seed)
        self.now = now
    }

    mutating func apply(_ event: WorkflowEvent) {
        steps += 1
        for action in state.apply(event, machine: machine, now: now) {
            switch action {
            case .record(let e): history.append(e)
            case .invokeTask(let t):
                queued.append(t)
                invocations.append(t)
            case .cancelTask(let id):
                cancelledTasks.append(id)
                queued.removeAll { $0.id == id }
                hanging.removeAll { $0.id == id }
            case .startTimer(let id, let at):
                timers[id] = at
                timerRequests.append((id, at))
            case .cancelTimer(let id):
                timers[id] = nil
                cancelledTimers.append(id)
            case .executionSucceeded, .executionFailed, .executionTimedOut, .executionAborted:
                precondition(end == nil, "two ends")
                end = action
            }
        }
    }

    /// Starts the execution and runs it until it ends or nothing more can happen.
    mutating func run(_ input: JSON = [:], executor: (TaskInvocation) -> Outcome = { .succeed($0.payload) }) {
        apply(.started(input: input))
        settle(executor: executor)
    }

    /// Runs queued tasks and due timers until the execution ends or waits on something external.
    mutating func settle(executor: (TaskInvocation) -> Outcome = { .succeed($0.payload) }) {
        while end == nil {
            if !queued.isEmpty {
                let task = queued.removeFirst()
                switch executor(task) {
                case .succeed(let output, let version): apply(.taskSucceeded(task.id, TaskResult(output: output, executedVersion: version)))
                case .fail(let error): apply(.taskFailed(task.id, error))
                case .hang: hanging.append(task)
                }
            } else if let (id, at) = timers.min(by: { ($0.value, $0.key.rawValue) < ($1.value, $1.key.rawValue) }) {
                if at > now { now = at }
                timers[id] = nil
                apply(.timerFired(id))
            } else {
                return
            }
        }
    }

    var output: JSON? {
        if case .executionSucceeded(let o)? = end { return o }
        return nil
    }

    var failure: StatesError? {
        if case .executionFailed(let e)? = end { return e }
        return nil
    }

    var types: [String] { history.map(\.type.rawValue) }
}
