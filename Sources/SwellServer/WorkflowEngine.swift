import Foundation
import Crypto
import Tracing
import Logging
import NIOCore
import ServiceLifecycle
import SwellInvoker
import SwellModel
import SwellStore
import SwellTasks
import SwellWorkflow

/// The time the engine stamps events with (a mock in tests).
public protocol WorkflowClock: Sendable {
    func now() -> Timestamp
}

public struct SystemWorkflowClock: WorkflowClock {
    public init() {}
    public func now() -> Timestamp { Timestamp(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))) }
}

/// Runs one Task state's invocation; the outcome goes back into the execution.
public protocol WorkflowTaskRunner: Sendable {
    /// - Parameter requestID: the invocation's request id (what `cancel` names).
    func run(namespace: String, invocation: TaskInvocation, requestID: String) async -> Result<TaskResult, StatesError>
    /// Interrupts an invocation under way (its execution was stopped, or its task timed out).
    func cancel(namespace: String, invocation: TaskInvocation, requestID: String)
    /// Whether Task states record spans (tracing on).
    var traces: Bool { get }
}

extension WorkflowTaskRunner {
    public func cancel(namespace: String, invocation: TaskInvocation, requestID: String) {}
    public var traces: Bool { false }
}

/// One event as the journal keeps it: the event and the time it was applied at (replay applies
/// the same events at the same times, and the deterministic interpreter gives the same state).
struct JournaledEvent: Codable {
    var event: WorkflowEvent
    var now: Timestamp
}

/// What the engine has to track beside the interpreter's state to carry out its actions and to
/// pick them up again after a replay: timers with their deadlines, invocations it owes, callback
/// tasks whose function already ran, and task tokens. A value, updated from events and actions
/// only (the same code runs live and in replay).
struct ExecutionObligations: Sendable {
    var timers: [Int: Timestamp] = [:]
    var tasks: [Int: TaskInvocation] = [:]
    /// Callback tasks whose function returned (a restart must not call it again).
    var submitted: Set<Int> = []
    var tokens: [String: Int] = [:]
    /// Tokens forgotten since the owner last took them (`takeDroppedTokens`), for its token index.
    var droppedTokens: [String] = []

    /// Before an event is applied: what it settles.
    mutating func before(_ event: WorkflowEvent) {
        switch event {
        case .timerFired(let t):
            timers[t.rawValue] = nil
        case .taskSucceeded(let id, _):
            if tasks[id.rawValue]?.taskToken != nil { submitted.insert(id.rawValue) } else { forget(id.rawValue) }
        case .taskFailed(let id, _):
            forget(id.rawValue)
        case .callbackSucceeded(let token, _), .callbackFailed(let token, _):
            if let id = tokens[token] { forget(id) }
        default:
            break
        }
    }

    /// After an event was applied: the actions it asked for. Returns the invocations to start.
    mutating func after(_ actions: [WorkflowAction]) -> [TaskInvocation] {
        var start: [TaskInvocation] = []
        for action in actions {
            switch action {
            case .invokeTask(let inv):
                tasks[inv.id.rawValue] = inv
                if let token = inv.taskToken { tokens[token] = inv.id.rawValue }
                start.append(inv)
            case .cancelTask(let id):
                forget(id.rawValue)
                start.removeAll { $0.id == id }
            case .startTimer(let id, let at):
                timers[id.rawValue] = at
            case .cancelTimer(let id):
                timers[id.rawValue] = nil
            case .executionSucceeded, .executionFailed, .executionTimedOut, .executionAborted:
                timers.removeAll()
                tasks.removeAll()
                droppedTokens += tokens.keys
                tokens.removeAll()
                submitted.removeAll()
            case .record:
                break
            }
        }
        return start
    }

    mutating func forget(_ id: Int) {
        if let token = tasks.removeValue(forKey: id)?.taskToken {
            tokens[token] = nil
            droppedTokens.append(token)
        }
        submitted.remove(id)
    }

    mutating func takeDroppedTokens() -> [String] {
        defer { droppedTokens.removeAll() }
        return droppedTokens
    }

    /// Invocations owed after a replay: every pending task whose function has not returned.
    var owed: [TaskInvocation] { tasks.keys.sorted().filter { !submitted.contains($0) }.compactMap { tasks[$0] } }
}

/// Runs workflow executions durably: drives the pure interpreter (`ExecutionState.apply`),
/// journals every applied event with the history it recorded (group commit), runs Task states'
/// invocations through the runner, keeps timers (Wait, Retry, timeouts) and, after a restart,
/// replays every open execution's journal and continues from its last journaled event (an
/// invocation that was in flight runs again: at least once).
public actor WorkflowEngine: Service {
    struct Live {
        var record: ExecutionRecord
        var state: ExecutionState
        let machine: StateMachine
        var sequence: Int
        var owed = ExecutionObligations()
        /// Request ids of the invocations under way, by task id.
        var requests: [Int: (TaskInvocation, String)] = [:]
        var waiters: [UUID: CheckedContinuation<ExecutionRecord?, Never>] = [:]
    }

    /// Counters for the metrics.
    public struct Metrics: Sendable {
        public var started = 0
        public var succeeded = 0
        public var failed = 0
        public var timedOut = 0
        public var aborted = 0
        public var transitions = 0
        public var open = 0
        public var journal = WorkflowJournal.Stats()
    }

    public nonisolated let store: any WorkflowStore
    public nonisolated let journal: WorkflowJournal
    let runner: any WorkflowTaskRunner
    let clock: any WorkflowClock
    let logger: Logger
    /// Timers are checked this often.
    let tick: Duration
    /// Finished executions are kept this long (seconds), like finished tasks.
    let retention: TimeInterval

    private var live: [String: Live] = [:]
    private var tokens: [String: String] = [:]
    private var starting: Set<String> = []
    /// Parsed definitions by their JSON text (a start does not parse the same definition again).
    private var machines: [String: StateMachine] = [:]
    private var metrics = Metrics()
    /// No timer of any execution is due before this (nil: none is pending), so that a tick with
    /// nothing due does not look at every execution.
    private var earliestTimer: Timestamp?
    /// Set once the open executions of the store were loaded (`run` does that first).
    public private(set) var recoveredOnce = false
    private var jobs: AsyncStream<@Sendable () async -> Void>.Continuation
    private let jobStream: AsyncStream<@Sendable () async -> Void>
    private let encoder = JSONEncoder()
    private let decoder = JSONDecoder()

    public init(store: any WorkflowStore, runner: any WorkflowTaskRunner, clock: any WorkflowClock = SystemWorkflowClock(), logger: Logger,
                tick: Duration = .milliseconds(20), retention: TimeInterval = TaskLimits.retention)
    {
        self.retention = retention
        self.store = store
        self.journal = WorkflowJournal(store: store, logger: logger)
        self.runner = runner
        self.clock = clock
        self.logger = logger
        self.tick = tick
        (jobStream, jobs) = AsyncStream.makeStream()
    }

    // MARK: Service

    public func run() async throws {
        try await recover()
        let stream = jobStream
        await withDiscardingTaskGroup { group in
            group.addTask { [self] in
                while !Task.isCancelled {
                    await self.fireDueTimers()
                    try? await Task.sleep(for: self.tick)
                }
            }
            // Scale-out: this node renews its executions' leases and takes over those whose lease lapsed.
            if let leasing = store as? any WorkflowExecutionLeasing {
                group.addTask { [self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        await self.holdLeases(leasing)
                    }
                }
            }
            // Retention: finished executions go with their history after `retention`, like tasks.
            // By the engine's clock, which also stamps when executions stopped.
            group.addTask { [journal, retention, clock] in
                while !Task.isCancelled {
                    journal.append([.purge(stoppedBefore: clock.now().date.addingTimeInterval(-retention))])
                    try? await Task.sleep(for: .seconds(3600))
                }
            }
            group.addTask {
                await withDiscardingTaskGroup { runs in
                    for await job in stream.cancelOnGracefulShutdown() { runs.addTask { await job() } }
                    runs.cancelAll()
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        jobs.finish()
        journal.close()
    }

    /// Loads every open execution and picks up its work (at start).
    func recover() async throws {
        let open = try await store.openExecutions()
        for record in open {
            do {
                let events = try await store.events(executionID: record.id)
                let l = try replay(record, events: events)
                resume(l)
            } catch {
                logger.error("cannot recover a workflow execution", metadata: ["execution": "\(record.id)", "error": "\(error)"])
            }
        }
        if !open.isEmpty { logger.notice("workflow executions recovered", metadata: ["count": "\(open.count)"]) }
        recoveredOnce = true
    }

    /// Scale-out: renews the leases of the executions this node runs, drops those another node
    /// took over (this node's lease lapsed: it stalled), and picks up those whose owner's lease
    /// lapsed (a dead node's), continuing them from their journal.
    func holdLeases(_ leasing: any WorkflowExecutionLeasing) async {
        do {
            let lost = try await leasing.renewExecutionLeases(ids: Array(live.keys))
            for id in lost {
                guard let l = live.removeValue(forKey: id) else { continue }
                for token in l.owed.tokens.keys { tokens[token] = nil }
                for (_, waiter) in l.waiters { waiter.resume(returning: nil) }
                logger.warning("a workflow execution was taken over by another node (this node's lease lapsed)", metadata: ["execution": "\(id)"])
            }
            metrics.open = live.count
            let orphans = try await leasing.openExecutions()
            var adopted = 0
            for record in orphans where live[record.id] == nil && !starting.contains(record.id) {
                do {
                    let events = try await store.events(executionID: record.id)
                    guard live[record.id] == nil else { continue }
                    resume(try replay(record, events: events))
                    adopted += 1
                } catch {
                    logger.error("cannot take over a workflow execution", metadata: ["execution": "\(record.id)", "error": "\(error)"])
                }
            }
            if adopted > 0 { logger.notice("workflow executions taken over from a node whose lease lapsed", metadata: ["count": "\(adopted)"]) }
        } catch where !Task.isCancelled {
            logger.warning("cannot renew the workflow execution leases", metadata: ["error": "\(error)"])
        } catch {}
    }

    /// Rebuilds an execution from its journaled events.
    func replay(_ record: ExecutionRecord, events: [Data]) throws -> Live {
        let machine = try StateMachine(parsing: record.definition)
        var l = Live(record: record, state: ExecutionState(info: Self.info(record), seed: record.seed), machine: machine, sequence: events.count)
        for data in events {
            let j = try decoder.decode(JournaledEvent.self, from: data)
            l.owed.before(j.event)
            let actions = l.state.apply(j.event, machine: machine, now: j.now)
            _ = l.owed.after(actions)
        }
        _ = l.owed.takeDroppedTokens()
        return l
    }

    /// Puts a replayed execution to work: its owed invocations run again, its timers wait.
    func resume(_ l: Live) {
        var l = l
        noteTimers(l.owed.timers.values)
        if l.state.isFinished {
            // The end was journaled, the record's status not (a crash between the two).
            let status = Self.end(of: l.state)
            l.record.status = status
            l.record.output = l.state.output?.serialized()
            l.record.error = l.state.error?.name
            l.record.cause = l.state.error?.cause
            journal.append([.finish(executionID: l.record.id, status: status, output: l.record.output, error: l.record.error, cause: l.record.cause, at: Date())])
            return
        }
        let id = l.record.id
        for token in l.owed.tokens.keys { tokens[token] = id }
        live[id] = l
        metrics.open = live.count
        if l.state.status == .notStarted {
            deliver(id, .started(input: (try? JSON(parsing: l.record.input)) ?? .null))
            return
        }
        for inv in l.owed.owed { launch(id, namespace: l.record.namespace, inv) }
    }

    static func info(_ record: ExecutionRecord) -> ExecutionInfo {
        ExecutionInfo(
            id: "arn:aws:states:swell:\(record.namespace):execution:\(record.workflow):\(record.name)", name: record.name,
            stateMachineID: "arn:aws:states:swell:\(record.namespace):stateMachine:\(record.workflow)", stateMachineName: record.workflow)
    }

    static func end(of state: ExecutionState) -> ExecutionStatus {
        switch state.status {
        case .succeeded: .succeeded
        case .timedOut: .timedOut
        case .aborted: .aborted
        case .failed: .failed
        case .running, .notStarted: .running
        }
    }

    // MARK: Events

    /// Applies one event to a live execution, journals it, carries out its actions.
    @discardableResult
    func deliver(_ id: String, _ event: WorkflowEvent) -> Bool {
        // Taken out of the dictionary while it changes, so that the state is not copied (a Map's
        // bookkeeping would be, on every event).
        guard var l = live.removeValue(forKey: id) else { return false }
        let now = clock.now()
        l.owed.before(event)
        let transitionsBefore = l.state.transitions
        let actions = l.state.apply(event, machine: l.machine, now: now)
        guard !actions.isEmpty else {
            live[id] = l
            return false
        }
        metrics.transitions += l.state.transitions - transitionsBefore
        switch event {
        case .taskSucceeded(let t, _), .taskFailed(let t, _): l.requests[t.rawValue] = nil
        default: break
        }
        let start = l.owed.after(actions)
        for case .startTimer(_, let at) in actions { noteTimers(CollectionOfOne(at)) }
        var history: [(id: Int, event: Data)] = []
        history.reserveCapacity(actions.count)
        let stamp = now.description
        var ended = false
        for action in actions {
            switch action {
            case .record(let h):
                history.append((h.id, Data(Self.historyText(h, timestamp: h.timestamp == now ? stamp : nil).utf8)))
            case .executionSucceeded, .executionFailed, .executionTimedOut, .executionAborted:
                ended = true
            case .cancelTask(let t):
                if let (inv, request) = l.requests.removeValue(forKey: t.rawValue) {
                    runner.cancel(namespace: l.record.namespace, invocation: inv, requestID: request)
                }
            default:
                break
            }
        }
        let eventData = (try? encoder.encode(JournaledEvent(event: event, now: now))) ?? Data()
        var writes: [WorkflowWrite] = [.step(executionID: id, sequence: l.sequence, event: eventData, history: history)]
        l.sequence += 1
        if ended {
            let status = Self.end(of: l.state)
            l.record.status = status
            l.record.output = l.state.output?.serialized()
            l.record.error = l.state.error?.name
            l.record.cause = l.state.error?.cause
            l.record.stoppedAt = now.date
            writes.append(.finish(executionID: id, status: status, output: l.record.output, error: l.record.error, cause: l.record.cause, at: now.date))
            switch status {
            case .succeeded: metrics.succeeded += 1
            case .failed: metrics.failed += 1
            case .timedOut: metrics.timedOut += 1
            case .aborted: metrics.aborted += 1
            case .running: break
            }
        }
        journal.append(writes)
        for token in l.owed.takeDroppedTokens() { tokens[token] = nil }
        if ended {
            metrics.open = live.count
            for (_, waiter) in l.waiters { waiter.resume(returning: l.record) }
            return true
        }
        for inv in start {
            if let token = inv.taskToken { tokens[token] = id }
        }
        live[id] = l
        for inv in start { launch(id, namespace: l.record.namespace, inv) }
        return true
    }

    /// Keeps `earliestTimer` at or before every pending deadline.
    private func noteTimers(_ deadlines: some Sequence<Timestamp>) {
        for at in deadlines where earliestTimer == nil || at < earliestTimer! { earliestTimer = at }
    }

    /// Runs an invocation in the engine's task group; its outcome comes back as an event.
    func launch(_ id: String, namespace: String, _ inv: TaskInvocation) {
        let runner = self.runner
        let request = RandomID.uuid()
        live[id]?.requests[inv.id.rawValue] = (inv, request)
        let traced = runner.traces
        jobs.yield { [self] in
            let outcome: Result<TaskResult, StatesError>
            if traced {
                // One trace per execution (its id derived from the execution's, so a restart or
                // a redrive continues it); a span per Task state, the function's invocation below.
                outcome = await withSpan("workflow state \(inv.stateName)", context: WorkflowTracing.context(execution: id), ofKind: .internal) { span in
                    span.attributes["swell.execution"] = id
                    span.attributes["swell.workflow.state"] = inv.stateName
                    span.attributes["faas.invoked_name"] = inv.function.name
                    let result = await runner.run(namespace: namespace, invocation: inv, requestID: request)
                    if case .failure(let error) = result {
                        span.attributes["error.type"] = error.name
                        span.setStatus(SpanStatus(code: .error, message: error.name))
                    }
                    return result
                }
            } else {
                outcome = await runner.run(namespace: namespace, invocation: inv, requestID: request)
            }
            // Shutting down: the outcome of a cancelled invocation says nothing about the function;
            // it is dropped, and the invocation runs again after the restart (at least once).
            if Task.isCancelled { return }
            switch outcome {
            case .success(let result): await self.deliver(id, .taskSucceeded(inv.id, result))
            case .failure(let error): await self.deliver(id, .taskFailed(inv.id, error))
            }
        }
    }

    /// Fires every timer that is due (the service's loop calls it every tick; tests with a mock clock call it).
    public func fireDueTimers() {
        let now = clock.now()
        guard let earliest = earliestTimer, earliest <= now else { return }
        var due: [(String, Int)] = []
        var next: Timestamp?
        for (id, l) in live {
            for (t, at) in l.owed.timers {
                if at <= now {
                    due.append((id, t))
                } else if next == nil || at < next! {
                    next = at
                }
            }
        }
        earliestTimer = next
        due.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        for (id, t) in due { deliver(id, .timerFired(TimerID(t))) }
    }

    // MARK: API

    /// Starts an execution (or returns the one of the same name when its input is the same).
    /// - Returns: the execution and whether this call created it.
    /// - Throws: 404 for an unknown workflow, 409 for a name used with another input, 400 for a bad name.
    public func start(namespace: String, workflow: String, qualifier: String? = nil, name: String?, input: JSON) async throws(SwellError) -> (ExecutionRecord, created: Bool) {
        let generated = name == nil
        let name = name ?? UUID().uuidString.lowercased()
        guard Names.isFunctionName(name) else {
            throw SwellError.invalid("name", "must be 1-64 characters of A-Z, a-z, 0-9, - and _ (got \"\(name)\")")
        }
        let id = "\(namespace)/\(workflow)/\(name)"
        if !generated, let existing = try await existing(id, input: input) { return (existing, false) }
        let definition: ResolvedWorkflow?
        do {
            definition = try await store.resolveWorkflow(namespace: namespace, name: workflow, qualifier: qualifier)
        } catch {
            throw SwellError(.internal, "cannot read workflow \(workflow): \(error)")
        }
        guard let definition else {
            if let qualifier, qualifier != "$LATEST" {
                throw SwellError.notFound("workflow \(workflow) has no version or alias \(qualifier) in namespace \(namespace)")
            }
            throw SwellError.notFound("workflow \(workflow) does not exist in namespace \(namespace)")
        }
        // Another start of the same name may have begun while this one read the store.
        guard !starting.contains(id) else { throw SwellError(.conflict, "an execution named \(name) of \(workflow) is starting; try again") }
        if !generated, let existing = try await existing(id, input: input) { return (existing, false) }
        guard !starting.contains(id) else { throw SwellError(.conflict, "an execution named \(name) of \(workflow) is starting; try again") }
        starting.insert(id)
        defer { starting.remove(id) }
        let machine: StateMachine
        if let cached = machines[definition.definition] {
            machine = cached
        } else {
            do {
                machine = try StateMachine(parsing: definition.definition)
            } catch {
                throw SwellError(.internal, "the stored definition of \(workflow) does not parse: \(error)")
            }
            if machines.count >= 256 { machines.removeAll() }
            machines[definition.definition] = machine
        }
        let record = ExecutionRecord(
            id: id, namespace: namespace, workflow: workflow, name: name, status: .running, input: input.serialized(),
            seed: UInt64.random(in: 0...UInt64.max), definition: definition.definition, revision: definition.revision, version: definition.version,
            startedAt: Date())
        // The record and the first step go out in one commit; the start is answered once it is
        // on disk. (Its first invocations may begin before: a crash before the commit loses an
        // execution that was never acknowledged, whose invocations ran at least once.)
        journal.append([.create(record)])
        live[id] = Live(record: record, state: ExecutionState(info: Self.info(record), seed: record.seed), machine: machine, sequence: 0)
        metrics.started += 1
        metrics.open = live.count
        deliver(id, .started(input: input))
        do {
            try await journal.flush()
        } catch {
            throw SwellError(.internal, "the execution could not be stored: \(error)")
        }
        if let current = live[id]?.record { return (current, true) }
        return ((try? await store.execution(id: id)) ?? record, true)
    }

    /// The execution of this id when it exists: itself when its input equals `input`, a 409 otherwise.
    private func existing(_ id: String, input: JSON) async throws(SwellError) -> ExecutionRecord? {
        var record = live[id]?.record
        if record == nil {
            do { record = try await store.execution(id: id) } catch { throw SwellError(.internal, "cannot read execution: \(error)") }
        }
        guard let record else { return nil }
        guard (try? JSON(parsing: record.input)) == input else {
            throw SwellError(.conflict, "an execution named \(record.name) of \(record.workflow) already exists with another input")
        }
        return live[id]?.record ?? record
    }

    /// The execution as it stands (live, or as stored).
    public func execution(id: String) async throws -> ExecutionRecord? {
        if let l = live[id] { return l.record }
        return try await store.execution(id: id)
    }

    /// Waits until the execution ends (its end durable) or `seconds` pass; nil when it is still running then.
    public func awaitEnd(id: String, seconds: Double) async -> ExecutionRecord? {
        guard live[id] != nil else {
            try? await journal.flush()
            return try? await store.execution(id: id)
        }
        let key = UUID()
        let record = await withTaskGroup(of: ExecutionRecord?.self) { group in
            group.addTask { await self.register(id, key) }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                await self.dropWaiter(id, key)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        try? await journal.flush()
        if let record { return record }
        // It ended before the waiter was registered: as stored.
        guard live[id] == nil else { return nil }
        return try? await store.execution(id: id)
    }

    private func register(_ id: String, _ key: UUID) async -> ExecutionRecord? {
        await withCheckedContinuation { (c: CheckedContinuation<ExecutionRecord?, Never>) in
            guard live[id] != nil else {
                c.resume(returning: nil)
                return
            }
            live[id]!.waiters[key] = c
        }
    }

    private func dropWaiter(_ id: String, _ key: UUID) {
        live[id]?.waiters.removeValue(forKey: key)?.resume(returning: nil)
    }

    /// Stops (aborts) a running execution: its invocations under way are interrupted (their instances killed, as for a timeout).
    public func stop(id: String, error: String?, cause: String?) async throws(SwellError) -> ExecutionRecord {
        try requireRecovered()
        guard live[id] != nil else {
            let stored = try? await store.execution(id: id)
            guard let stored else { throw SwellError.notFound("execution \(id) does not exist") }
            if stored.status == .running, let leasing = store as? any WorkflowExecutionLeasing {
                // Scale-out: another node runs it.
                let owner = (try? await leasing.owner(executionID: id)) ?? nil
                throw SwellError(
                    .conflict, "execution \(stored.name) runs on node \(owner ?? "(none yet)"): send the stop to that node (see swell nodes)",
                    retryAfter: 1)
            }
            throw SwellError(.conflict, "execution \(stored.name) is already \(stored.status.rawValue)")
        }
        let statesError = error.map { StatesError($0, cause ?? "") } ?? cause.map { StatesError("", $0) }
        let record = live[id]!.record
        deliver(id, .stopped(statesError))
        do { try await journal.flush() } catch { throw SwellError(.internal, "the stop could not be stored: \(error)") }
        return (try? await store.execution(id: id)) ?? record
    }

    /// Runs a failed, timed-out or aborted execution again from where it ended: the event that
    /// ended it is dropped (with the history after it) and the work that was pending then runs again.
    public func redrive(id: String) async throws(SwellError) -> ExecutionRecord {
        try requireRecovered()
        guard live[id] == nil, !starting.contains(id) else { throw SwellError(.conflict, "execution \(id) is running") }
        let stored: ExecutionRecord?
        let events: [Data]
        do {
            stored = try await store.execution(id: id)
            events = try await store.events(executionID: id)
        } catch {
            throw SwellError(.internal, "cannot read the execution: \(error)")
        }
        guard var record = stored else { throw SwellError.notFound("execution \(id) does not exist") }
        guard record.status == .failed || record.status == .aborted else {
            throw SwellError(.conflict, "execution \(record.name) is \(record.status.rawValue); only FAILED and ABORTED executions can be redriven")
        }
        guard live[id] == nil, !starting.contains(id), !events.isEmpty else { throw SwellError(.conflict, "execution \(id) cannot be redriven now") }
        starting.insert(id)
        defer { starting.remove(id) }
        record.redriveCount += 1
        record.status = .running
        record.output = nil
        record.error = nil
        record.cause = nil
        record.stoppedAt = nil
        var l: Live
        do {
            l = try replay(record, events: Array(events.dropLast()))
        } catch {
            throw SwellError(.internal, "cannot replay the execution: \(error)")
        }
        do {
            try await journal.commit([.redrive(executionID: id, fromSequence: events.count - 1, lastHistoryID: l.state.lastEventID, redriveCount: record.redriveCount)])
        } catch {
            throw SwellError(.internal, "the redrive could not be stored: \(error)")
        }
        l.record = record
        resume(l)
        return live[id]?.record ?? record
    }

    /// Completes a `.waitForTaskToken` task.
    public func sendTaskResult(namespace: String, token: String, outcome: Result<JSON, StatesError>) async throws(SwellError) {
        try requireRecovered()
        guard let id = tokens[token], let l = live[id], l.record.namespace == namespace, l.state.task(forToken: token) != nil else {
            throw SwellError.notFound("no task waits for this token (TaskDoesNotExist or TaskTimedOut)")
        }
        switch outcome {
        case .success(let output): deliver(id, .callbackSucceeded(token: token, output: output))
        case .failure(let error): deliver(id, .callbackFailed(token: token, error))
        }
        do { try await journal.flush() } catch { throw SwellError(.internal, "the callback could not be stored: \(error)") }
    }

    public func sendTaskHeartbeat(namespace: String, token: String) async throws(SwellError) {
        try requireRecovered()
        guard let id = tokens[token], let l = live[id], l.record.namespace == namespace, l.state.task(forToken: token) != nil else {
            throw SwellError.notFound("no task waits for this token (TaskDoesNotExist or TaskTimedOut)")
        }
        deliver(id, .callbackHeartbeat(token: token))
        do { try await journal.flush() } catch { throw SwellError(.internal, "the heartbeat could not be stored: \(error)") }
    }

    /// Stop, redrive and callbacks need the open executions loaded: until then, a 429 to retry.
    private func requireRecovered() throws(SwellError) {
        guard recoveredOnce else { throw SwellError(.throttled, "workflow executions are being recovered after a restart; try again", retryAfter: 1) }
    }

    /// Whether a workflow has executions under way (it cannot be deleted then).
    public func hasOpenExecutions(namespace: String, workflow: String) -> Bool {
        live.values.contains { $0.record.namespace == namespace && $0.record.workflow == workflow }
    }

    public func currentMetrics() -> Metrics {
        var m = metrics
        m.open = live.count
        m.journal = journal.stats
        return m
    }

    /// The history of an execution after `after`, at most `limit` events, each as the JSON text
    /// the API shows (`historyJSON`).
    public func history(id: String, after: Int, limit: Int) async throws -> [Data] {
        try await store.history(executionID: id, after: after, limit: limit)
    }

    /// A history event as the API shows it and the store keeps it: `historyJSON` written out
    /// directly (the same text, without building the object first).
    /// - Parameter timestamp: `e.timestamp.description`, when the caller has it (the events of
    ///   one step share their time: it is formatted once).
    static func historyText(_ e: HistoryEvent, timestamp: String? = nil) -> String {
        var out = "{\"id\":"
        out.reserveCapacity(160)
        out += String(e.id)
        out += ",\"previousEventId\":"
        out += String(e.previousEventID)
        out += ",\"timestamp\":\""
        out += timestamp ?? e.timestamp.description
        out += "\",\"type\":\""
        out += e.type.rawValue
        out += "\""
        // Values are written straight into `out` (no string per value).
        func field(_ key: StaticString, _ value: JSON?) {
            guard let value else { return }
            out += ",\""
            out += key.description
            out += "\":"
            value.write(to: &out)
        }
        func field(_ key: StaticString, _ value: String?) {
            guard let value else { return }
            field(key, JSON.string(value))
        }
        func field(_ key: StaticString, _ value: Int?) {
            guard let value else { return }
            out += ",\""
            out += key.description
            out += "\":"
            out += String(value)
        }
        let d = e.details
        field("name", d.name)
        field("input", d.input)
        field("output", d.output)
        field("error", d.error)
        field("cause", d.cause)
        field("resource", d.resource)
        field("parameters", d.parameters)
        field("timeoutSeconds", d.timeoutSeconds)
        field("heartbeatSeconds", d.heartbeatSeconds)
        field("index", d.index)
        field("length", d.length)
        out += "}"
        return out
    }

    /// A history event as the API shows it and the store keeps it.
    static func historyJSON(_ e: HistoryEvent) -> JSON {
        var o = JSONObject()
        o["id"] = .int(e.id)
        o["previousEventId"] = .int(e.previousEventID)
        o["timestamp"] = .string(e.timestamp.description)
        o["type"] = .string(e.type.rawValue)
        let d = e.details
        if let v = d.name { o["name"] = .string(v) }
        if let v = d.input { o["input"] = v }
        if let v = d.output { o["output"] = v }
        if let v = d.error { o["error"] = .string(v) }
        if let v = d.cause { o["cause"] = .string(v) }
        if let v = d.resource { o["resource"] = .string(v) }
        if let v = d.parameters { o["parameters"] = v }
        if let v = d.timeoutSeconds { o["timeoutSeconds"] = .int(v) }
        if let v = d.heartbeatSeconds { o["heartbeatSeconds"] = .int(v) }
        if let v = d.index { o["index"] = .int(v) }
        if let v = d.length { o["length"] = .int(v) }
        return .object(o)
    }
}

extension Timestamp {
    var date: Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
}

/// Runs Task states' invocations through the async task machinery (`TaskService`): they wait
/// in its queue (fair share across namespaces, priority, the namespace's async rate limit, the
/// function's async concurrency cap, latency-sensitive work first) and run in the offline work
/// class. Without a task service (tests), straight through the invoker.
public struct InvokerTaskRunner: WorkflowTaskRunner {
    let invoker: Invoker
    let tasks: TaskService?

    public init(invoker: Invoker, tasks: TaskService? = nil) {
        self.invoker = invoker
        self.tasks = tasks
    }

    public var traces: Bool { invoker.tracing }

    public func cancel(namespace: String, invocation: TaskInvocation, requestID: String) {
        if let tasks {
            tasks.cancelWorkflowTask(namespace: namespace, function: invocation.function.name, requestID: requestID)
            return
        }
        for pool in invoker.runtime.pools(namespace: namespace, name: invocation.function.name) {
            if pool.interrupt(requestID) { return }
        }
    }

    public func run(namespace: String, invocation: TaskInvocation, requestID: String) async -> Result<TaskResult, StatesError> {
        let qualifier: Qualifier
        do {
            qualifier = try Qualifier(parsing: invocation.function.qualifier ?? "$LATEST")
        } catch {
            return .failure(StatesError("Lambda.InvalidParameterValueException", "\(error.message)"))
        }
        let payload = ByteBuffer(string: invocation.payload.serialized())
        let answer: Result<Invoker.Response, SwellError>
        if let tasks {
            switch await tasks.runWorkflowTask(
                namespace: namespace, function: invocation.function.name, qualifier: qualifier, payload: payload, requestID: requestID,
                timeout: invocation.timeoutSeconds)
            {
            case .invoked(let result): answer = result
            // Its execution no longer waits for it (timed out, stopped) or the server stops: the
            // outcome is not applied.
            case .cancelled: return .failure(StatesError(ErrorName.taskFailed, "the task was cancelled before it ran"))
            }
        } else {
            do {
                answer = .success(try await invoker.invoke(
                    namespace: namespace, name: invocation.function.name, qualifier: qualifier, payload: payload, workClass: .offline,
                    requestID: requestID, timeout: invocation.timeoutSeconds))
            } catch {
                answer = .failure(error)
            }
        }
        return Self.outcome(answer)
    }

    /// A Task state's outcome from the invoker's answer, as AWS gives a Lambda task's.
    static func outcome(_ answer: Result<Invoker.Response, SwellError>) -> Result<TaskResult, StatesError> {
        switch answer {
        case .success(let response):
            switch response.result {
            case .success(let bytes):
                let data = Array(bytes.readableBytesView)
                let output: JSON
                if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
                    output = .null
                } else if let parsed = try? JSON(parsing: data) {
                    output = parsed
                } else {
                    output = .string(String(decoding: data, as: UTF8.self))
                }
                return .success(TaskResult(output: output, executedVersion: response.executedVersion))
            case .failure(let kind, let error):
                if kind == .timeout { return .failure(StatesError(ErrorName.timeout, error.errorMessage)) }
                var cause = JSONObject()
                cause["errorMessage"] = .string(error.errorMessage)
                cause["errorType"] = .string(error.errorType)
                cause["trace"] = .array(error.stackTrace.map { .string($0) })
                let name = error.errorType.isEmpty ? kind.rawValue : error.errorType
                return .failure(StatesError(name, JSON.object(cause).serialized()))
            }
        case .failure(let error):
            switch error.code {
            case .notFound: return .failure(StatesError("Lambda.ResourceNotFoundException", error.message))
            case .throttled: return .failure(StatesError("Lambda.TooManyRequestsException", error.message))
            default: return .failure(StatesError("Lambda.ServiceException", error.message))
            }
        }
    }
}

/// The trace of a workflow execution: its id and a virtual root span id derived from the
/// execution's id (SHA-256), so every Task state's span of one execution, before and after a
/// restart or a redrive, lands in one trace without storing anything.
enum WorkflowTracing {
    static func context(execution: String) -> ServiceContext {
        let digest = Array(SHA256.hash(data: Data(execution.utf8)))
        let hex = digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let traceID = String(hex.prefix(32))
        let spanID = String(hex.dropFirst(32).prefix(16))
        guard let parent = TraceParent(header: "00-\(traceID)-\(spanID)-01") else { return .topLevel }
        return SwellTracing.context(continuing: parent)
    }
}
