import Crypto
import Foundation

/// The interpreter of the States Language as a pure step function: an execution's state and
/// one event in, the new state and the actions to carry out (history to record, invocations to
/// make, timers to set, the execution's end) out. No clock, no I/O, no randomness of its own:
/// `now` comes with each event and the random numbers from the execution's seeded generator.
///
/// ```swift
/// var execution = ExecutionState(info: info, seed: 42)
/// var actions = execution.apply(.started(input: ["x": 1]), machine: machine, now: clock())
/// // …run each .invokeTask, then:
/// actions = execution.apply(.taskSucceeded(id, TaskResult(output: result)), machine: machine, now: clock())
/// ```
public enum Interpreter {
    /// `step(definition, state, event) → (new state, actions)`. `ExecutionState.apply` does the
    /// same in place (without copying the state), which is what a busy owner should call.
    public static func step(_ machine: StateMachine, _ state: ExecutionState, _ event: WorkflowEvent, now: Timestamp) -> (ExecutionState, [WorkflowAction]) {
        var next = state
        let actions = next.apply(event, machine: machine, now: now)
        return (next, actions)
    }
}

/// What one step is doing: the definition, the time, the actions so far and the work left.
struct StepContext {
    let root: StateMachine
    let now: Timestamp
    var actions: [WorkflowAction] = []
    var queue: [Work] = []
    var head = 0

    enum Work {
        case enter(run: Int, state: String, input: JSON)
        case execute(run: Int)
        case finished(run: Int, Result<JSON, StatesError>)
    }
}

extension ExecutionState {
    /// Applies one event to the execution in place and returns the actions it asks for, in order.
    /// Events that no longer apply (a late result of a task that timed out, a timer of a branch
    /// that was stopped, anything after the end) change nothing and return no actions.
    public mutating func apply(_ event: WorkflowEvent, machine: StateMachine, now: Timestamp) -> [WorkflowAction] {
        var ctx = StepContext(root: machine, now: now)
        handle(event, &ctx)
        drain(&ctx)
        return ctx.actions
    }

    // MARK: Events

    mutating func handle(_ event: WorkflowEvent, _ ctx: inout StepContext) {
        if case .started(let input) = event {
            guard status == .notStarted else { return }
            status = .running
            self.input = input
            startTime = ctx.now
            let rootRun = newID()
            runs[rootRun] = Run(machine: [], parent: nil, stateName: ctx.root.startAt, stateInput: input, enteredTime: ctx.now, lastEventID: 0)
            record(rootRun, .executionStarted, HistoryDetails(input: input), &ctx)
            if let timeout = ctx.root.timeoutSeconds {
                let t = newID()
                timers[t] = .executionTimeout
                ctx.actions.append(.startTimer(TimerID(t), at: ctx.now.adding(seconds: Double(timeout))))
            }
            ctx.queue.append(.enter(run: rootRun, state: ctx.root.startAt, input: input))
            return
        }
        guard status == .running else { return }
        switch event {
        case .started:
            break
        case .taskStarted(let id):
            guard let task = tasks[id.rawValue] else { return }
            record(task.run, .taskStarted, HistoryDetails(name: runs[task.run]?.stateName, resource: task.resource), &ctx)
        case .taskSucceeded(let id, let result):
            guard let task = tasks[id.rawValue] else { return }
            if task.token != nil {
                // The function of a callback task was called; the task waits for its token.
                record(task.run, .taskSubmitted, HistoryDetails(name: runs[task.run]?.stateName, output: result.output, resource: task.resource), &ctx)
                return
            }
            completeTask(id.rawValue, .success(result), &ctx)
        case .taskFailed(let id, let error):
            guard tasks[id.rawValue] != nil else { return }
            completeTask(id.rawValue, .failure(error), &ctx)
        case .callbackSucceeded(let token, let output):
            guard let id = tokens[token] else { return }
            completeTask(id, .success(TaskResult(output: output)), &ctx)
        case .callbackFailed(let token, let error):
            guard let id = tokens[token] else { return }
            completeTask(id, .failure(error), &ctx)
        case .callbackHeartbeat(let token):
            guard let id = tokens[token], var task = tasks[id], let seconds = task.heartbeatSeconds else { return }
            if let old = task.heartbeatTimer {
                timers[old] = nil
                ctx.actions.append(.cancelTimer(TimerID(old)))
            }
            let t = newID()
            timers[t] = .heartbeat(task: id)
            task.heartbeatTimer = t
            tasks[id] = task
            ctx.actions.append(.startTimer(TimerID(t), at: ctx.now.adding(seconds: Double(seconds))))
        case .timerFired(let id):
            guard let purpose = timers.removeValue(forKey: id.rawValue) else { return }
            timerFired(purpose, &ctx)
        case .stopped(let error):
            record(nil, .executionAborted, HistoryDetails(error: error?.name, cause: error?.cause), &ctx)
            stopEverything(&ctx)
            status = .aborted
            self.error = error
            ctx.actions.append(.executionAborted(error))
        }
    }

    mutating func timerFired(_ purpose: TimerPurpose, _ ctx: inout StepContext) {
        switch purpose {
        case .wait(let runID):
            guard let run = runs[runID], let state = state(of: run, ctx) else { return }
            runs[runID]!.waiting = .nothing
            do {
                let effective = try applyInputPath(state, run.stateInput, runID, ctx)
                let output = try applyOutputPath(state, effective, runID, ctx)
                exit(runID, state, output: output, &ctx)
            } catch {
                raise(runID, error, &ctx)
            }
        case .retry(let runID):
            guard runs[runID] != nil else { return }
            runs[runID]!.waiting = .nothing
            ctx.queue.append(.execute(run: runID))
        case .taskTimeout(let taskID):
            guard let task = tasks[taskID] else { return }
            let error = StatesError(ErrorName.timeout, "The task did not finish within its TimeoutSeconds")
            record(task.run, .taskTimedOut, HistoryDetails(name: runs[task.run]?.stateName, error: error.name, cause: error.cause, resource: task.resource), &ctx)
            dropTask(taskID, cancel: true, &ctx)
            runs[task.run]?.waiting = .nothing
            raise(task.run, error, &ctx)
        case .heartbeat(let taskID):
            guard let task = tasks[taskID] else { return }
            let error = StatesError(ErrorName.heartbeatTimeout, "No heartbeat arrived within HeartbeatSeconds")
            record(task.run, .taskTimedOut, HistoryDetails(name: runs[task.run]?.stateName, error: error.name, cause: error.cause, resource: task.resource), &ctx)
            dropTask(taskID, cancel: true, &ctx)
            runs[task.run]?.waiting = .nothing
            raise(task.run, error, &ctx)
        case .executionTimeout:
            record(nil, .executionTimedOut, HistoryDetails(error: ErrorName.timeout, cause: "The execution ran longer than its TimeoutSeconds"), &ctx)
            stopEverything(&ctx)
            status = .timedOut
            error = StatesError(ErrorName.timeout, "The execution ran longer than its TimeoutSeconds")
            ctx.actions.append(.executionTimedOut)
        }
    }

    /// A task's invocation or callback ended.
    mutating func completeTask(_ id: Int, _ outcome: Result<TaskResult, StatesError>, _ ctx: inout StepContext) {
        guard let task = tasks[id] else { return }
        dropTask(id, cancel: false, &ctx)
        guard let run = runs[task.run], let state = state(of: run, ctx) else { return }
        runs[task.run]!.waiting = .nothing
        switch outcome {
        case .success(let result):
            var output = result.output
            if task.lambdaInvoke && task.token == nil {
                output = [
                    "ExecutedVersion": .string(result.executedVersion ?? "$LATEST"),
                    "Payload": result.output,
                    "SdkHttpMetadata": ["HttpStatusCode": 200],
                    "SdkResponseMetadata": ["RequestId": .string("\(info.id)/\(id)")],
                    "StatusCode": 200,
                ]
            }
            record(task.run, .taskSucceeded, HistoryDetails(name: state.name, output: output, resource: task.resource), &ctx)
            do {
                try finish(task.run, state, result: output, &ctx)
            } catch {
                raise(task.run, error, &ctx)
            }
        case .failure(let error):
            // The invocation's own deadline (TimeoutSeconds handed to the invoker) can end it a
            // moment before the engine's timer fires: either way the history says it timed out.
            let event: HistoryEventType = error.name == ErrorName.timeout ? .taskTimedOut : .taskFailed
            record(task.run, event, HistoryDetails(name: state.name, error: error.name, cause: error.cause, resource: task.resource), &ctx)
            raise(task.run, error, &ctx)
        }
    }

    /// Forgets a task and its timers; `cancel` also asks the owner to stop the invocation.
    mutating func dropTask(_ id: Int, cancel: Bool, _ ctx: inout StepContext) {
        guard let task = tasks.removeValue(forKey: id) else { return }
        if let token = task.token { tokens[token] = nil }
        for t in [task.timeoutTimer, task.heartbeatTimer].compactMap({ $0 }) where timers.removeValue(forKey: t) != nil {
            ctx.actions.append(.cancelTimer(TimerID(t)))
        }
        if cancel { ctx.actions.append(.cancelTask(TaskID(id))) }
    }

    /// Stops every run, task and timer (abort, execution timeout).
    mutating func stopEverything(_ ctx: inout StepContext) {
        for id in tasks.keys.sorted() { dropTask(id, cancel: true, &ctx) }
        for t in timers.keys.sorted() { ctx.actions.append(.cancelTimer(TimerID(t))) }
        timers.removeAll()
        runs.removeAll()
        ctx.queue.removeAll()
        ctx.head = 0
    }

    // MARK: The work queue

    mutating func drain(_ ctx: inout StepContext) {
        while ctx.head < ctx.queue.count {
            let work = ctx.queue[ctx.head]
            ctx.head += 1
            switch work {
            case .enter(let runID, let name, let input):
                enter(runID, name, input, &ctx)
            case .execute(let runID):
                execute(runID, &ctx)
            case .finished(let runID, let outcome):
                finished(runID, outcome, &ctx)
            }
            if ctx.head > 4096, ctx.head * 2 > ctx.queue.count {
                ctx.queue.removeFirst(ctx.head)
                ctx.head = 0
            }
        }
        ctx.queue.removeAll()
        ctx.head = 0
    }

    mutating func enter(_ runID: Int, _ name: String, _ input: JSON, _ ctx: inout StepContext) {
        guard var run = runs[runID] else { return }
        guard let machine = machine(of: run, ctx), let state = machine.states[name] else { return }
        run.stateName = name
        run.stateInput = input
        run.enteredTime = ctx.now
        run.retryCount = 0
        run.retrierAttempts = Array(repeating: 0, count: state.retry.count)
        run.waiting = .nothing
        runs[runID] = run
        transitions += 1
        record(runID, .entered(state), HistoryDetails(name: name, input: input), &ctx)
        execute(runID, &ctx)
    }

    /// Runs (or re-runs, for a retry) the current state of a run.
    mutating func execute(_ runID: Int, _ ctx: inout StepContext) {
        guard let run = runs[runID], let state = state(of: run, ctx) else { return }
        do throws(StatesError) {
            switch state.body {
            case .pass(let result):
                let effective = try applyParameters(state, run.stateInput, runID, ctx)
                try finish(runID, state, result: result ?? effective, &ctx)
            case .succeed:
                let effective = try applyInputPath(state, run.stateInput, runID, ctx)
                let output = try applyOutputPath(state, effective, runID, ctx)
                record(runID, .succeedStateExited, HistoryDetails(name: state.name, output: output), &ctx)
                ctx.queue.append(.finished(run: runID, .success(output)))
            case .fail(let errorSource, let causeSource):
                let name = try failField(errorSource, "ErrorPath", run.stateInput, runID, state, ctx)
                let cause = try failField(causeSource, "CausePath", run.stateInput, runID, state, ctx)
                ctx.queue.append(.finished(run: runID, .failure(StatesError(name ?? "", cause ?? ""))))
            case .choice(let choices, let defaultNext):
                let effective = try applyInputPath(state, run.stateInput, runID, ctx)
                let context = contextObject(runID, state, ctx)
                var next: String? = nil
                for rule in choices where try rule.condition.evaluate(effective, context: context) {
                    next = rule.next
                    break
                }
                guard let target = next ?? defaultNext else {
                    throw StatesError(ErrorName.noChoiceMatched, "No Choice Rule matched and there was no Default in the Choice state '\(state.name)'")
                }
                let output = try applyOutputPath(state, effective, runID, ctx)
                record(runID, .choiceStateExited, HistoryDetails(name: state.name, output: output), &ctx)
                ctx.queue.append(.enter(run: runID, state: target, input: output))
            case .wait(let spec):
                let effective = try applyInputPath(state, run.stateInput, runID, ctx)
                let until = try deadline(spec, effective, runID, state, ctx)
                if until <= ctx.now {
                    let output = try applyOutputPath(state, effective, runID, ctx)
                    exit(runID, state, output: output, &ctx)
                } else {
                    let t = newID()
                    timers[t] = .wait(run: runID)
                    runs[runID]!.waiting = .timer(t)
                    ctx.actions.append(.startTimer(TimerID(t), at: until))
                }
            case .task(let spec):
                try schedule(runID, state, spec, &ctx)
            case .parallel(let branches):
                let effective = try applyParameters(state, run.stateInput, runID, ctx)
                record(runID, .parallelStateStarted, HistoryDetails(name: state.name), &ctx)
                var children = Children(isMap: false, effectiveInput: effective, items: [], nextItem: 0,
                                        results: Array(repeating: nil, count: branches.count), running: [], done: 0, failures: 0,
                                        maxConcurrency: 0, toleratedCount: nil, toleratedPercentage: nil)
                for (index, branch) in branches.enumerated() {
                    let child = newID()
                    runs[child] = Run(machine: run.machine + [.branch(state: state.name, index: index)], parent: ParentLink(run: runID, slot: index),
                                      stateName: branch.startAt, stateInput: effective, enteredTime: ctx.now, lastEventID: runs[runID]!.lastEventID)
                    children.running.insert(child)
                    ctx.queue.append(.enter(run: child, state: branch.startAt, input: effective))
                }
                runs[runID]!.waiting = .children(children)
            case .map(let spec):
                try startMap(runID, state, spec, &ctx)
            }
        } catch {
            raise(runID, error, &ctx)
        }
    }

    /// A state's work is done with `result`: ResultSelector, ResultPath, OutputPath, then on.
    mutating func finish(_ runID: Int, _ state: State, result: JSON, _ ctx: inout StepContext) throws(StatesError) {
        guard let run = runs[runID] else { return }
        var result = result
        if let selector = state.resultSelector {
            let context = contextObject(runID, state, ctx)
            result = try selector.evaluate(input: result, context: context, random: &random)
        }
        let merged = try applyResultPath(state.resultPath, raw: run.stateInput, result: result, state: state)
        let output = try applyOutputPath(state, merged, runID, ctx)
        exit(runID, state, output: output, &ctx)
    }

    /// Records the state's exit and follows its transition.
    mutating func exit(_ runID: Int, _ state: State, output: JSON, _ ctx: inout StepContext) {
        if let type = HistoryEventType.exited(state) {
            record(runID, type, HistoryDetails(name: state.name, output: output), &ctx)
        }
        switch state.transition {
        case .next(let n)?: ctx.queue.append(.enter(run: runID, state: n, input: output))
        case .end?, nil: ctx.queue.append(.finished(run: runID, .success(output)))
        }
    }

    /// The state failed with `error`: retry it, catch it, or fail the run.
    mutating func raise(_ runID: Int, _ error: StatesError, _ ctx: inout StepContext) {
        guard var run = runs[runID], let state = state(of: run, ctx) else { return }
        if let index = state.retry.firstIndex(where: { ErrorName.matches($0.errorEquals, error.name) }) {
            let retrier = state.retry[index]
            if run.retrierAttempts.count < state.retry.count { run.retrierAttempts = Array(repeating: 0, count: state.retry.count) }
            let attempts = run.retrierAttempts[index]
            if attempts < retrier.maxAttempts {
                let delay = retrier.delay(afterAttempt: attempts, random: &random)
                run.retrierAttempts[index] = attempts + 1
                run.retryCount += 1
                let t = newID()
                timers[t] = .retry(run: runID)
                run.waiting = .timer(t)
                runs[runID] = run
                ctx.actions.append(.startTimer(TimerID(t), at: ctx.now.adding(seconds: delay)))
                return
            }
        }
        if let catcher = state.catchers.first(where: { ErrorName.matches($0.errorEquals, error.name) }) {
            do {
                let output = try applyResultPath(catcher.resultPath, raw: run.stateInput, result: error.output, state: state)
                if let type = HistoryEventType.exited(state) {
                    record(runID, type, HistoryDetails(name: state.name, output: output), &ctx)
                }
                ctx.queue.append(.enter(run: runID, state: catcher.next, input: output))
                return
            } catch {
                ctx.queue.append(.finished(run: runID, .failure(error)))
                return
            }
        }
        ctx.queue.append(.finished(run: runID, .failure(error)))
    }

    /// A run ended: the execution, or its Parallel/Map parent, learns of it.
    mutating func finished(_ runID: Int, _ outcome: Result<JSON, StatesError>, _ ctx: inout StepContext) {
        guard let run = runs.removeValue(forKey: runID) else { return }
        guard let parent = run.parent else {
            switch outcome {
            case .success(let output):
                record(nil, .executionSucceeded, HistoryDetails(output: output), &ctx)
                stopEverything(&ctx)
                status = .succeeded
                self.output = output
                ctx.actions.append(.executionSucceeded(output: output))
            case .failure(let error):
                record(nil, .executionFailed, HistoryDetails(error: error.name, cause: error.cause), &ctx)
                stopEverything(&ctx)
                status = .failed
                self.error = error
                ctx.actions.append(.executionFailed(error))
            }
            return
        }
        guard let state = runs[parent.run].flatMap({ state(of: $0, ctx) }), case .children(var children)? = runs[parent.run]?.waiting else { return }
        runs[parent.run]!.waiting = .nothing  // take the bookkeeping out, so that it is changed in place (no copy of its arrays)
        children.running.remove(runID)
        children.done += 1
        if children.isMap {
            switch outcome {
            case .success(let output): record(runID, .mapIterationSucceeded, HistoryDetails(name: state.name, output: output, index: parent.slot), &ctx)
            case .failure(let error): record(runID, .mapIterationFailed, HistoryDetails(name: state.name, error: error.name, cause: error.cause, index: parent.slot), &ctx)
            }
        }
        switch outcome {
        case .success(let output):
            children.results[parent.slot] = output
        case .failure(let error):
            let tolerant = children.isMap && (children.toleratedCount != nil || children.toleratedPercentage != nil)
            if tolerant {
                children.failures += 1
                children.results[parent.slot] = error.output
                let total = Double(children.results.count)
                let overCount = children.toleratedCount.map { children.failures > $0 } ?? false
                let overPercentage = children.toleratedPercentage.map { Double(children.failures) * 100 / total > $0 } ?? false
                if overCount || overPercentage {
                    abortChildren(parent.run, children, state, &ctx)
                    record(parent.run, .mapStateFailed, HistoryDetails(name: state.name), &ctx)
                    raise(parent.run, StatesError(ErrorName.exceedToleratedFailureThreshold, "The Map state '\(state.name)' had \(children.failures) failed items, more than it tolerates"), &ctx)
                    return
                }
            } else {
                abortChildren(parent.run, children, state, &ctx)
                record(parent.run, children.isMap ? .mapStateFailed : .parallelStateFailed, HistoryDetails(name: state.name), &ctx)
                raise(parent.run, error, &ctx)
                return
            }
        }
        if children.isMap, case .map(let spec) = state.body {
            do {
                try launchIterations(parent.run, state, spec, &children, &ctx)
            } catch {
                abortChildren(parent.run, children, state, &ctx)
                record(parent.run, .mapStateFailed, HistoryDetails(name: state.name), &ctx)
                raise(parent.run, error, &ctx)
                return
            }
        }
        if children.done == children.results.count {
            record(parent.run, children.isMap ? .mapStateSucceeded : .parallelStateSucceeded, HistoryDetails(name: state.name), &ctx)
            let results = JSON.array(children.results.map { $0 ?? .null })
            do {
                try finish(parent.run, state, result: results, &ctx)
            } catch {
                raise(parent.run, error, &ctx)
            }
        } else {
            runs[parent.run]!.waiting = .children(children)
        }
    }

    /// Stops the branches or iterations still running under a Parallel or Map state.
    mutating func abortChildren(_ parentID: Int, _ children: Children, _ state: State, _ ctx: inout StepContext) {
        for child in children.running.sorted() {
            if children.isMap, let run = runs[child], let slot = run.parent?.slot {
                record(child, .mapIterationAborted, HistoryDetails(name: state.name, index: slot), &ctx)
            }
            abortRun(child, &ctx)
        }
    }

    mutating func abortRun(_ runID: Int, _ ctx: inout StepContext) {
        guard let run = runs.removeValue(forKey: runID) else { return }
        switch run.waiting {
        case .nothing: break
        case .task(let id): dropTask(id, cancel: true, &ctx)
        case .timer(let t):
            if timers.removeValue(forKey: t) != nil { ctx.actions.append(.cancelTimer(TimerID(t))) }
        case .children(let children):
            for child in children.running.sorted() { abortRun(child, &ctx) }
        }
    }

    // MARK: Task

    mutating func schedule(_ runID: Int, _ state: State, _ spec: TaskSpec, _ ctx: inout StepContext) throws(StatesError) {
        let run = runs[runID]!
        let effective = try applyInputPath(state, run.stateInput, runID, ctx)
        var callback = false
        var lambdaInvoke = false
        let resourceText: String
        switch spec.resource {
        case .function(let ref): resourceText = "swell:function:\(ref)"
        case .lambdaInvoke(let wait):
            lambdaInvoke = true
            callback = wait
            resourceText = wait ? "arn:aws:states:::lambda:invoke.waitForTaskToken" : "arn:aws:states:::lambda:invoke"
        }
        let id = newID()
        let token = callback ? taskToken(for: id) : nil
        var payload = effective
        if let parameters = state.parameters {
            // The context object is built only for Parameters (most tasks have none): it costs a
            // handful of allocations per task.
            payload = try parameters.evaluate(input: effective, context: contextObject(runID, state, ctx, token: token), random: &random)
        }
        let timeout = try seconds(spec.timeout, "TimeoutSecondsPath", effective, runID, state, ctx)
        let heartbeat = try seconds(spec.heartbeat, "HeartbeatSecondsPath", effective, runID, state, ctx)
        let function: FunctionReference
        var event = payload
        switch spec.resource {
        case .function(let ref):
            function = ref
        case .lambdaInvoke:
            guard case .object(let p) = payload, let name = p["FunctionName"]?.stringValue, var ref = FunctionReference.parse(name) else {
                throw StatesError(ErrorName.taskFailed, "Parameters.FunctionName of '\(state.name)' must name a function (NAME[:QUALIFIER] or a Lambda function ARN)")
            }
            if let qualifier = p["Qualifier"]?.stringValue { ref.qualifier = qualifier }
            function = ref
            event = p["Payload"] ?? .object(JSONObject())
        }
        var task = PendingTask(run: runID, token: token, timeoutTimer: nil, heartbeatTimer: nil, heartbeatSeconds: heartbeat, lambdaInvoke: lambdaInvoke, resource: resourceText)
        record(runID, .taskScheduled, HistoryDetails(name: state.name, resource: resourceText, parameters: payload, timeoutSeconds: timeout, heartbeatSeconds: heartbeat), &ctx)
        ctx.actions.append(.invokeTask(TaskInvocation(id: TaskID(id), stateName: state.name, function: function, payload: event, timeoutSeconds: timeout, heartbeatSeconds: heartbeat, taskToken: token)))
        if let timeout {
            let t = newID()
            timers[t] = .taskTimeout(task: id)
            task.timeoutTimer = t
            ctx.actions.append(.startTimer(TimerID(t), at: ctx.now.adding(seconds: Double(timeout))))
        }
        if let heartbeat, callback {
            let t = newID()
            timers[t] = .heartbeat(task: id)
            task.heartbeatTimer = t
            ctx.actions.append(.startTimer(TimerID(t), at: ctx.now.adding(seconds: Double(heartbeat))))
        }
        if let token { tokens[token] = id }
        tasks[id] = task
        runs[runID]!.waiting = .task(id)
    }

    /// An unguessable token for a callback task: SHA-256 of the execution's token key and the task id.
    func taskToken(for id: Int) -> String {
        SHA256.hash(data: Array("\(tokenKey):\(id)".utf8)).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Map

    mutating func startMap(_ runID: Int, _ state: State, _ spec: MapSpec, _ ctx: inout StepContext) throws(StatesError) {
        let run = runs[runID]!
        let effective = try applyInputPath(state, run.stateInput, runID, ctx)
        guard let selected = spec.itemsPath.select(in: effective, context: contextObject(runID, state, ctx)) else {
            throw StatesError.runtime("ItemsPath '\(spec.itemsPath.text)' of the Map state '\(state.name)' is not in its input")
        }
        guard case .array(let items) = selected else {
            throw StatesError.runtime("ItemsPath '\(spec.itemsPath.text)' of the Map state '\(state.name)' selects \(selected.kind.rawValue), not an array")
        }
        let maxConcurrency = try integer(spec.maxConcurrency, "MaxConcurrencyPath", effective, state, minimum: 0) ?? 0
        let toleratedCount = try integer(spec.toleratedFailureCount, "ToleratedFailureCountPath", effective, state, minimum: 0)
        var toleratedPercentage: Double? = nil
        if let source = spec.toleratedFailurePercentage {
            let value = try resolve(source, "ToleratedFailurePercentagePath", effective, state)
            guard let d = value.numberValue?.doubleValue, d >= 0, d <= 100 else {
                throw StatesError.runtime("ToleratedFailurePercentage of '\(state.name)' must be a number between 0 and 100")
            }
            toleratedPercentage = d
        }
        record(runID, .mapStateStarted, HistoryDetails(name: state.name, length: items.count), &ctx)
        var children = Children(isMap: true, effectiveInput: effective, items: items, nextItem: 0, results: Array(repeating: nil, count: items.count),
                                running: [], done: 0, failures: 0, maxConcurrency: maxConcurrency,
                                toleratedCount: toleratedCount, toleratedPercentage: toleratedPercentage)
        if items.isEmpty {
            record(runID, .mapStateSucceeded, HistoryDetails(name: state.name), &ctx)
            try finish(runID, state, result: .array([]), &ctx)
            return
        }
        do {
            try launchIterations(runID, state, spec, &children, &ctx)
        } catch {
            abortChildren(runID, children, state, &ctx)
            record(runID, .mapStateFailed, HistoryDetails(name: state.name), &ctx)
            throw error
        }
        runs[runID]!.waiting = .children(children)
    }

    /// Starts iterations until MaxConcurrency are running or none are left.
    mutating func launchIterations(_ runID: Int, _ state: State, _ spec: MapSpec, _ children: inout Children, _ ctx: inout StepContext) throws(StatesError) {
        guard let run = runs[runID] else { return }
        while children.nextItem < children.items.count, children.maxConcurrency == 0 || children.running.count < children.maxConcurrency {
            let index = children.nextItem
            children.nextItem += 1
            let item = children.items[index]
            var input = item
            if let selector = spec.itemSelector {
                let context = contextObject(runID, state, ctx, mapItem: (index, item))
                input = try selector.evaluate(input: children.effectiveInput, context: context, random: &random)
            }
            let child = newID()
            runs[child] = Run(machine: run.machine + [.processor(state: state.name)], parent: ParentLink(run: runID, slot: index),
                              stateName: spec.processor.startAt, stateInput: input, enteredTime: ctx.now, lastEventID: runs[runID]!.lastEventID)
            children.running.insert(child)
            record(child, .mapIterationStarted, HistoryDetails(name: state.name, index: index), &ctx)
            ctx.queue.append(.enter(run: child, state: spec.processor.startAt, input: input))
        }
        // Items and the input are not needed once every iteration started: drop them, so that
        // the state (and its journal) does not carry them.
        if children.nextItem == children.items.count, !children.items.isEmpty {
            children.items = []
            children.nextItem = 0
            children.effectiveInput = .null
        }
    }

    // MARK: Input and output

    func applyInputPath(_ state: State, _ raw: JSON, _ runID: Int, _ ctx: StepContext) throws(StatesError) -> JSON {
        guard let path = state.inputPath else { return .object(JSONObject()) }
        if path.root == .input, path.isDefinite, path.text == "$" { return raw }
        guard let value = path.select(in: raw, context: path.root == .context ? contextObject(runID, state, ctx) : .null) else {
            throw StatesError.runtime("An error occurred while executing the state '\(state.name)'. Invalid path '\(path.text)' : No results for path: \(path.text)")
        }
        return value
    }

    /// InputPath, then Parameters (Pass, Parallel; Task does its own for the task token).
    mutating func applyParameters(_ state: State, _ raw: JSON, _ runID: Int, _ ctx: StepContext) throws(StatesError) -> JSON {
        let effective = try applyInputPath(state, raw, runID, ctx)
        guard let parameters = state.parameters else { return effective }
        return try parameters.evaluate(input: effective, context: contextObject(runID, state, ctx), random: &random)
    }

    func applyOutputPath(_ state: State, _ value: JSON, _ runID: Int, _ ctx: StepContext) throws(StatesError) -> JSON {
        guard let path = state.outputPath else { return .object(JSONObject()) }
        if path.text == "$" { return value }
        guard let out = path.select(in: value, context: path.root == .context ? contextObject(runID, state, ctx) : .null) else {
            throw StatesError.runtime("An error occurred while executing the state '\(state.name)'. Invalid path '\(path.text)' : No results for path: \(path.text)")
        }
        return out
    }

    func applyResultPath(_ path: JSONPath?, raw: JSON, result: JSON, state: State) throws(StatesError) -> JSON {
        guard let path else { return raw }
        if path.text == "$" { return result }
        do {
            return try path.setting(result, in: raw)
        } catch {
            throw StatesError.runtime("An error occurred while executing the state '\(state.name)'. Unable to apply ReferencePath \(path.text) to input: \(error.message)")
        }
    }

    func failField(_ source: ValueSource?, _ field: String, _ raw: JSON, _ runID: Int, _ state: State, _ ctx: StepContext) throws(StatesError) -> String? {
        guard let source else { return nil }
        switch source {
        case .literal(let v): return v.stringValue
        case .path(let p):
            guard let v = p.select(in: raw, context: contextObject(runID, state, ctx)) else {
                throw StatesError.runtime("\(field) '\(p.text)' of the Fail state '\(state.name)' is not in its input")
            }
            guard let s = v.stringValue else {
                throw StatesError.runtime("\(field) '\(p.text)' of the Fail state '\(state.name)' selects \(v.kind.rawValue), not a string")
            }
            return s
        }
    }

    func resolve(_ source: ValueSource, _ field: String, _ effective: JSON, _ state: State) throws(StatesError) -> JSON {
        switch source {
        case .literal(let v): return v
        case .path(let p):
            guard let v = p.select(in: effective) else {
                throw StatesError.runtime("\(field) '\(p.text)' of '\(state.name)' is not in its input")
            }
            return v
        }
    }

    func integer(_ source: ValueSource?, _ field: String, _ effective: JSON, _ state: State, minimum: Int) throws(StatesError) -> Int? {
        guard let source else { return nil }
        let v = try resolve(source, field, effective, state)
        guard let n = v.intValue, n >= minimum else {
            throw StatesError.runtime("\(field) of '\(state.name)' must be an integer of \(minimum) or more, got \(v)")
        }
        return n
    }

    func seconds(_ source: ValueSource?, _ field: String, _ effective: JSON, _ runID: Int, _ state: State, _ ctx: StepContext) throws(StatesError) -> Int? {
        try integer(source, field, effective, state, minimum: 1)
    }

    func deadline(_ spec: WaitSpec, _ effective: JSON, _ runID: Int, _ state: State, _ ctx: StepContext) throws(StatesError) -> Timestamp {
        switch spec {
        case .seconds(let s): return ctx.now.adding(seconds: Double(s))
        case .timestamp(let t): return t
        case .secondsPath(let p):
            guard let v = p.select(in: effective), let n = v.intValue, n >= 0 else {
                throw StatesError.runtime("SecondsPath '\(p.text)' of the Wait state '\(state.name)' must select a non-negative integer")
            }
            return ctx.now.adding(seconds: Double(n))
        case .timestampPath(let p):
            guard let v = p.select(in: effective), let s = v.stringValue, let t = Timestamp(parsing: s) else {
                throw StatesError.runtime("TimestampPath '\(p.text)' of the Wait state '\(state.name)' must select an RFC 3339 timestamp")
            }
            return t
        }
    }

    /// The context object (`$$`) of a state of a run.
    func contextObject(_ runID: Int, _ state: State, _ ctx: StepContext, token: String? = nil, mapItem: (Int, JSON)? = nil) -> JSON {
        guard let run = runs[runID] else { return .null }
        var execution: JSON = [
            "Id": .string(info.id), "Input": input, "Name": .string(info.name),
            "StartTime": .string((startTime ?? ctx.now).description), "RedriveCount": 0,
        ]
        if let role = info.roleArn, case .object(var o) = execution {
            o["RoleArn"] = .string(role)
            execution = .object(o)
        }
        var context = JSONObject()
        context["Execution"] = execution
        context["State"] = ["EnteredTime": .string(run.enteredTime.description), "Name": .string(state.name), "RetryCount": .int(run.retryCount)]
        context["StateMachine"] = ["Id": .string(info.stateMachineID), "Name": .string(info.stateMachineName)]
        if let token { context["Task"] = ["Token": .string(token)] }
        if let (index, value) = mapItem { context["Map"] = ["Item": ["Index": .int(index), "Value": value]] }
        return .object(context)
    }

    // MARK: Bookkeeping

    mutating func newID() -> Int {
        defer { nextID += 1 }
        return nextID
    }

    /// Appends a history event after the run's last one.
    mutating func record(_ runID: Int?, _ type: HistoryEventType, _ details: HistoryDetails, _ ctx: inout StepContext) {
        lastEventID += 1
        var previous = lastEventID - 1
        if let runID, runs[runID] != nil {
            previous = runs[runID]!.lastEventID
            runs[runID]!.lastEventID = lastEventID
        }
        ctx.actions.append(.record(HistoryEvent(id: lastEventID, previousEventID: previous, timestamp: ctx.now, type: type, details: details)))
    }

    func machine(of run: Run, _ ctx: StepContext) -> StateMachine? {
        var machine = ctx.root
        for step in run.machine {
            switch step {
            case .branch(let name, let index):
                guard case .parallel(let branches)? = machine.states[name]?.body, branches.indices.contains(index) else { return nil }
                machine = branches[index]
            case .processor(let name):
                guard case .map(let spec)? = machine.states[name]?.body else { return nil }
                machine = spec.processor
            }
        }
        return machine
    }

    func state(of run: Run, _ ctx: StepContext) -> State? {
        machine(of: run, ctx)?.states[run.stateName]
    }
}
