import Foundation
import Logging
import Synchronization
import Testing
import SwellModel
import SwellStore
import SwellWorkflow
@testable import SwellServer

/// A clock the test moves.
final class MockClock: WorkflowClock, Sendable {
    let current = Mutex(Timestamp(seconds: 1_700_000_000))
    func now() -> Timestamp { current.withLock { $0 } }
    func advance(_ seconds: Double) { current.withLock { $0 = $0.adding(seconds: seconds) } }
}

/// A runner whose behaviour the test sets per function name; records what it was asked.
final class MockRunner: WorkflowTaskRunner, Sendable {
    typealias Behaviour = @Sendable (TaskInvocation, Int) async -> Result<TaskResult, StatesError>
    let behaviours: Mutex<[String: Behaviour]>
    let calls = Mutex<[String: Int]>([:])
    let invocations = Mutex<[TaskInvocation]>([])

    init(_ behaviours: [String: Behaviour] = [:]) { self.behaviours = Mutex(behaviours) }

    let cancelled = Mutex<[String]>([])

    func cancel(namespace: String, invocation: TaskInvocation, requestID: String) {
        cancelled.withLock { $0.append(invocation.function.name) }
    }

    func run(namespace: String, invocation: TaskInvocation, requestID: String) async -> Result<TaskResult, StatesError> {
        let n = calls.withLock { c in
            c[invocation.function.name, default: 0] += 1
            return c[invocation.function.name]!
        }
        invocations.withLock { $0.append(invocation) }
        guard let b = behaviours.withLock({ $0[invocation.function.name] }) else {
            return .success(TaskResult(output: invocation.payload))
        }
        return await b(invocation, n)
    }

    func count(_ name: String) -> Int { calls.withLock { $0[name] ?? 0 } }
}

/// A running engine over a store; `stop()` cancels it (what is journaled stays, as after a crash).
struct Harness {
    let engine: WorkflowEngine
    let task: Task<Void, Never>

    init(store: any WorkflowStore, runner: MockRunner, clock: MockClock) async throws {
        let engine = WorkflowEngine(store: store, runner: runner, clock: clock, logger: Logger(label: "test"), tick: .milliseconds(5))
        self.engine = engine
        task = Task { try? await engine.run() }
        // Recovery runs first in `run`: wait until it is done (up to 20 s: the whole suite runs
        // its tests in parallel on 2 cores, and a timer fired before recovery is not loaded yet).
        for _ in 0..<4000 {
            if await engine.recoveredOnce { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(await engine.recoveredOnce, "the engine did not finish recovery")
    }

    func stop() async {
        task.cancel()
        await task.value
    }
}

func temporaryStore() throws -> (SQLiteWorkflowStore, String) {
    let dir = NSTemporaryDirectory() + "swell-wf-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return (try SQLiteWorkflowStore(path: "\(dir)/workflows.db"), dir)
}

func waitFor(_ engine: WorkflowEngine, _ id: String, seconds: Double = 10) async throws -> ExecutionRecord {
    let r = await engine.awaitEnd(id: id, seconds: seconds)
    return try #require(r)
}

/// A stored history event, as the API shows it.
struct Event {
    var id: Int
    var previousEventID: Int
    var type: HistoryEventType
    var json: JSON
}

func historyOf(_ engine: WorkflowEngine, _ id: String) async throws -> [Event] {
    try await engine.journal.flush()
    return try await engine.history(id: id, after: 0, limit: 100_000).map { data in
        let json = try JSON(parsing: Array(data))
        return Event(id: json["id"]?.intValue ?? -1, previousEventID: json["previousEventId"]?.intValue ?? -1,
                     type: HistoryEventType(rawValue: json["type"]?.stringValue ?? "") ?? .executionStarted, json: json)
    }
}

/// Ids 1…n with no gap, every previous id earlier.
func checkHistory(_ events: [Event]) {
    #expect(events.map(\.id) == Array(1...max(1, events.count)))
    #expect(events.allSatisfy { $0.previousEventID < $0.id })
}

@Suite(.serialized) struct WorkflowEngineTests {
    @Test func aTaskChainRunsJournalsItsHistoryAndCountsMetrics() async throws {
        let (store, _) = try temporaryStore()
        _ = try await store.putWorkflow(namespace: "default", name: "wf", definition: """
            {"StartAt":"A","States":{"A":{"Type":"Task","Resource":"swell:function:double","ResultPath":"$.r","Next":"B"},
             "B":{"Type":"Pass","Parameters":{"v.$":"$.r.x"},"End":true}}}
            """)
        let runner = MockRunner(["double": { inv, _ in .success(TaskResult(output: ["x": .int((inv.payload["x"]?.intValue ?? 0) * 2)])) }])
        let h = try await Harness(store: store, runner: runner, clock: MockClock())
        let (record, created) = try await h.engine.start(namespace: "default", workflow: "wf", name: "one", input: ["x": 21])
        #expect(created)
        let ended = try await waitFor(h.engine, record.id)
        #expect(ended.status == .succeeded)
        #expect(try JSON(parsing: ended.output ?? "") == ["v": 42])
        let events = try await historyOf(h.engine, record.id)
        checkHistory(events)
        #expect(events.map(\.type.rawValue) == [
            "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskSucceeded", "TaskStateExited",
            "PassStateEntered", "PassStateExited", "ExecutionSucceeded",
        ])
        let m = await h.engine.currentMetrics()
        #expect(m.started == 1 && m.succeeded == 1 && m.transitions == 2 && m.open == 0 && m.journal.commits > 0)
        let stored = try #require(try await store.execution(id: record.id))
        #expect(stored.status == .succeeded)
        await h.stop()
    }

    @Test func aNameIsUniqueSameInputReturnsTheFirstOtherInputIsAConflict() async throws {
        let (store, _) = try temporaryStore()
        _ = try await store.putWorkflow(namespace: "default", name: "wf", definition: #"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":100,"End":true}}}"#)
        let h = try await Harness(store: store, runner: MockRunner(), clock: MockClock())
        let (first, created) = try await h.engine.start(namespace: "default", workflow: "wf", name: "n", input: ["a": 1, "b": true])
        #expect(created)
        let (again, createdAgain) = try await h.engine.start(namespace: "default", workflow: "wf", name: "n", input: ["b": true, "a": 1.0])
        #expect(!createdAgain && again.id == first.id)
        await #expect(throws: SwellError.self) {
            _ = try await h.engine.start(namespace: "default", workflow: "wf", name: "n", input: ["a": 2])
        }
        do {
            _ = try await h.engine.start(namespace: "default", workflow: "wf", name: "n", input: ["a": 2])
        } catch {
            #expect(error.code == .conflict)
        }
        do {
            _ = try await h.engine.start(namespace: "default", workflow: "nope", name: "n", input: [:])
        } catch {
            #expect(error.code == .notFound)
        }
        await h.stop()
    }

    @Test func aMapInterruptedByACrashCompletesAfterRecoveryWithACompleteHistory() async throws {
        let (store, dir) = try temporaryStore()
        _ = try await store.putWorkflow(namespace: "default", name: "map", definition: """
            {"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":5,
              "ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"swell:function:sq","End":true}}},"End":true}}}
            """)
        // First life: every 7th call never answers (in flight at the crash).
        let hang = MockRunner(["sq": { inv, n in
            if n >= 20 { try? await Task.sleep(for: .seconds(3600)) }
            return .success(TaskResult(output: .int((inv.payload.intValue ?? 0) * (inv.payload.intValue ?? 0))))
        }])
        let clock = MockClock()
        let h1 = try await Harness(store: store, runner: hang, clock: clock)
        let items = (0..<60).map { JSON.int($0) }
        let (record, _) = try await h1.engine.start(namespace: "default", workflow: "map", name: "m", input: ["items": .array(items)])
        for _ in 0..<400 where hang.count("sq") < 24 { try await Task.sleep(for: .milliseconds(5)) }
        await h1.stop()
        #expect(try await store.execution(id: record.id)?.status == .running)

        // Second life over the same database file.
        let store2 = try SQLiteWorkflowStore(path: "\(dir)/workflows.db")
        let runner = MockRunner(["sq": { inv, _ in .success(TaskResult(output: .int((inv.payload.intValue ?? 0) * (inv.payload.intValue ?? 0)))) }])
        let h2 = try await Harness(store: store2, runner: runner, clock: clock)
        let ended = try await waitFor(h2.engine, record.id)
        #expect(ended.status == .succeeded)
        #expect(try JSON(parsing: ended.output ?? "") == .array((0..<60).map { JSON.int($0 * $0) }))
        // Only what had not finished ran again (at most MaxConcurrency in flight were lost).
        #expect(runner.count("sq") <= 60 - 19 && runner.count("sq") >= 60 - 24)
        let events = try await historyOf(h2.engine, record.id)
        checkHistory(events)
        #expect(events.filter { $0.type == .mapIterationSucceeded }.count == 60)
        #expect(events.filter { $0.type == .taskSucceeded }.count == 60)
        #expect(events.last?.type == .executionSucceeded)
        await h2.stop()
    }

    @Test func aWaitIsAStoredTimerThatSurvivesARestart() async throws {
        let (store, dir) = try temporaryStore()
        _ = try await store.putWorkflow(namespace: "default", name: "wait", definition: """
            {"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"Next":"P"},"P":{"Type":"Pass","Result":"done","End":true}}}
            """)
        let clock = MockClock()
        let h1 = try await Harness(store: store, runner: MockRunner(), clock: clock)
        let (record, _) = try await h1.engine.start(namespace: "default", workflow: "wait", name: "w", input: [:])
        clock.advance(1800)
        await h1.engine.fireDueTimers()
        #expect(try await h1.engine.execution(id: record.id)?.status == .running)
        await h1.stop()
        let h2 = try await Harness(store: try SQLiteWorkflowStore(path: "\(dir)/workflows.db"), runner: MockRunner(), clock: clock)
        await h2.engine.fireDueTimers()
        #expect(try await h2.engine.execution(id: record.id)?.status == .running)
        clock.advance(1801)
        await h2.engine.fireDueTimers()
        let ended = try await waitFor(h2.engine, record.id)
        #expect(ended.status == .succeeded && ended.output == #""done""#)
        checkHistory(try await historyOf(h2.engine, record.id))
        await h2.stop()
    }

    @Test func aCallbackTaskWaitsForItsTokenAndAFunctionErrorIsCaughtByItsType() async throws {
        let (store, _) = try temporaryStore()
        _ = try await store.putWorkflow(namespace: "default", name: "cb", definition: """
            {"StartAt":"Ask","States":{
              "Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
                     "Parameters":{"FunctionName":"notify","Payload":{"token.$":"$$.Task.Token"}},"Next":"Bad"},
              "Bad":{"Type":"Task","Resource":"swell:function:broken","ResultPath":"$.answer",
                     "Catch":[{"ErrorEquals":["TypeError"],"ResultPath":"$.caught","Next":"Done"}],"End":true},
              "Done":{"Type":"Succeed"}}}
            """)
        let runner = MockRunner(["broken": { _, _ in .failure(StatesError("TypeError", #"{"errorMessage":"x is undefined"}"#)) }])
        let h = try await Harness(store: store, runner: runner, clock: MockClock())
        let (record, _) = try await h.engine.start(namespace: "default", workflow: "cb", name: "c", input: [:])
        for _ in 0..<200 where runner.count("notify") == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let token = try #require(runner.invocations.withLock { $0.first?.payload["token"]?.stringValue })
        do {
            try await h.engine.sendTaskResult(namespace: "other", token: token, outcome: .success([:]))
            Issue.record("another namespace must not complete the task")
        } catch {
            #expect(error.code == .notFound)
        }
        try await h.engine.sendTaskResult(namespace: "default", token: token, outcome: .success(["ok": true]))
        let ended = try await waitFor(h.engine, record.id)
        #expect(ended.status == .succeeded)
        let output = try JSON(parsing: ended.output ?? "")
        #expect(output["ok"] == true)
        #expect(output["caught"]?["Error"] == "TypeError")
        do {
            try await h.engine.sendTaskResult(namespace: "default", token: token, outcome: .success([:]))
            Issue.record("a used token must be refused")
        } catch {
            #expect(error.code == .notFound)
        }
        await h.stop()
    }

    @Test func aFailedExecutionIsRedrivenFromTheStateThatFailed() async throws {
        let (store, _) = try temporaryStore()
        _ = try await store.putWorkflow(namespace: "default", name: "rd", definition: """
            {"StartAt":"One","States":{"One":{"Type":"Task","Resource":"swell:function:one","Next":"Two"},
             "Two":{"Type":"Task","Resource":"swell:function:flaky","End":true}}}
            """)
        let runner = MockRunner(["flaky": { inv, n in n == 1 ? .failure(StatesError("Boom", "first time")) : .success(TaskResult(output: inv.payload)) }])
        let h = try await Harness(store: store, runner: runner, clock: MockClock())
        let (record, _) = try await h.engine.start(namespace: "default", workflow: "rd", name: "r", input: ["v": 1])
        let failed = try await waitFor(h.engine, record.id)
        #expect(failed.status == .failed && failed.error == "Boom")
        let redriven = try await h.engine.redrive(id: record.id)
        #expect(redriven.status == .running && redriven.redriveCount == 1)
        let ended = try await waitFor(h.engine, record.id)
        #expect(ended.status == .succeeded)
        #expect(runner.count("one") == 1 && runner.count("flaky") == 2)
        let events = try await historyOf(h.engine, record.id)
        checkHistory(events)
        #expect(events.last?.type == .executionSucceeded)
        #expect(!events.contains { $0.type == .executionFailed })
        do {
            _ = try await h.engine.redrive(id: record.id)
            Issue.record("a succeeded execution cannot be redriven")
        } catch {
            #expect(error.code == .conflict)
        }
        await h.stop()
    }

    @Test func stopAbortsAndExecutionTimeoutTimesOut() async throws {
        let (store, _) = try temporaryStore()
        _ = try await store.putWorkflow(namespace: "default", name: "slow", definition: """
            {"TimeoutSeconds":60,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":600,"End":true}}}
            """)
        let clock = MockClock()
        let runner = MockRunner(["hang": { _, _ in
            try? await Task.sleep(for: .seconds(3600))
            return .failure(StatesError("Task.Stopped"))
        }])
        let h = try await Harness(store: store, runner: runner, clock: clock)
        let (a, _) = try await h.engine.start(namespace: "default", workflow: "slow", name: "a", input: [:])
        let (b, _) = try await h.engine.start(namespace: "default", workflow: "slow", name: "b", input: [:])
        let stopped = try await h.engine.stop(id: a.id, error: "Manual", cause: "by the test")
        #expect(stopped.status == .aborted && stopped.error == "Manual")
        // A running invocation is interrupted when its execution stops.
        _ = try await store.putWorkflow(namespace: "default", name: "busy", definition: #"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"swell:function:hang","End":true}}}"#)
        let (c, _) = try await h.engine.start(namespace: "default", workflow: "busy", name: "c", input: [:])
        for _ in 0..<200 where runner.count("hang") == 0 { try await Task.sleep(for: .milliseconds(5)) }
        _ = try await h.engine.stop(id: c.id, error: nil, cause: nil)
        #expect(runner.cancelled.withLock { $0 } == ["hang"])
        clock.advance(61)
        await h.engine.fireDueTimers()
        let timedOut = try await waitFor(h.engine, b.id)
        #expect(timedOut.status == .timedOut)
        #expect(try await historyOf(h.engine, b.id).last?.type == .executionTimedOut)
        await h.stop()
    }
}

@Suite(.serialized) struct WorkflowEngineThroughputTests {
    /// The engine alone (a runner that answers at once): a Map of 10,000 items at MaxConcurrency 100
    /// ends with every result in place, and the rate is printed (no bound: debug builds on a loaded
    /// machine vary too much for one).
    @Test func aMapOfTenThousandItemsOverAnInstantRunner() async throws {
        let (store, _) = try temporaryStore()
        _ = try await store.putWorkflow(namespace: "default", name: "map", definition: """
            {"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":100,
              "ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"swell:function:noop","End":true}}},"End":true}}}
            """)
        let h = try await Harness(store: store, runner: MockRunner(), clock: MockClock())
        let started = ContinuousClock.now
        let (record, _) = try await h.engine.start(namespace: "default", workflow: "map", name: "m", input: .array((0..<10_000).map { JSON.int($0) }))
        let ended = try await waitFor(h.engine, record.id, seconds: 600)
        let elapsed = ContinuousClock.now - started
        #expect(ended.status == .succeeded)
        #expect(try JSON(parsing: ended.output ?? "") == .array((0..<10_000).map { JSON.int($0) }))
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("engine-only Map: 10,000 tasks in \(seconds) s = \(Int(10_000 / seconds)) tasks/s; journal \(h.engine.journal.stats)")
        await h.stop()
    }
}

@Suite struct WorkflowStoreTests {
    @Test func purgeRemovesFinishedExecutionsWithTheirHistoryAndKeepsRunningOnes() async throws {
        let store = try SQLiteWorkflowStore.inMemory()
        func record(_ name: String, _ status: ExecutionStatus) -> ExecutionRecord {
            ExecutionRecord(id: "default/wf/\(name)", namespace: "default", workflow: "wf", name: name, status: status, input: "{}",
                            seed: 1, definition: "{}", revision: 1, startedAt: Date(timeIntervalSince1970: 1000))
        }
        try store.apply([
            .create(record("old", .running)), .create(record("new", .running)), .create(record("open", .running)),
            .step(executionID: "default/wf/old", sequence: 0, event: Data("{}".utf8), history: [(1, Data("{}".utf8))]),
            .finish(executionID: "default/wf/old", status: .succeeded, output: "1", error: nil, cause: nil, at: Date(timeIntervalSince1970: 2000)),
            .finish(executionID: "default/wf/new", status: .failed, output: nil, error: "E", cause: "c", at: Date(timeIntervalSince1970: 4000)),
        ])
        try store.apply([.purge(stoppedBefore: Date(timeIntervalSince1970: 3000))])
        #expect(try await store.execution(id: "default/wf/old") == nil)
        #expect(try await store.history(executionID: "default/wf/old", after: 0, limit: 10).isEmpty)
        #expect(try await store.events(executionID: "default/wf/old").isEmpty)
        #expect(try await store.execution(id: "default/wf/new")?.error == "E")
        #expect(try await store.openExecutions().map(\.name) == ["open"])
        let failed = try await store.executions(namespace: "default", workflow: "wf", status: .failed, before: nil, limit: 10)
        #expect(failed.map(\.name) == ["new"])
    }
}

extension WorkflowEngineThroughputTests {
    /// The engine alone: 20 executions of a 1,000-state Pass chain; the rate is printed.
    @Test func aThousandStatePassChain() async throws {
        let (store, _) = try temporaryStore()
        let states = (0..<1000).map { i in i == 999 ? #""S999":{"Type":"Pass","End":true}"# : #""S\#(i)":{"Type":"Pass","Next":"S\#(i + 1)"}"# }
        _ = try await store.putWorkflow(namespace: "default", name: "chain", definition: #"{"StartAt":"S0","States":{"# + states.joined(separator: ",") + "}}")
        let h = try await Harness(store: store, runner: MockRunner(), clock: MockClock())
        let started = ContinuousClock.now
        for i in 0..<20 {
            let (r, _) = try await h.engine.start(namespace: "default", workflow: "chain", name: "c\(i)", input: ["x": 1])
            #expect(r.status == .succeeded)
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let events = try await historyOf(h.engine, "default/chain/c0")
        checkHistory(events)
        #expect(events.count == 2002)
        print("engine-only Pass chain: 20,000 transitions in \(seconds) s = \(Int(20_000 / seconds)) transitions/s")
        await h.stop()
    }
}

@Suite struct WorkflowHistoryTextTests {
    @Test func theStoredTextIsTheJSONOfTheEvent() throws {
        let e = HistoryEvent(id: 7, previousEventID: 5, timestamp: Timestamp(seconds: 1_700_000_000, nanoseconds: 5_000_000), type: .taskFailed,
                             details: HistoryDetails(name: "Grade \"1\"", input: ["a": [1, 2.5, "x\ny"]], error: "TypeError", cause: "tab\there",
                                                     resource: "swell:function:g", timeoutSeconds: 3, index: 0))
        let text = WorkflowEngine.historyText(e)
        #expect(try JSON(parsing: text) == WorkflowEngine.historyJSON(e))
        #expect(text == WorkflowEngine.historyJSON(e).serialized())
    }
}

@Suite struct ExecutionObligationsTests {
    func invocation(_ id: Int, token: String? = nil) -> TaskInvocation {
        let machine = try! StateMachine(parsing: #"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"swell:function:f","End":true}}}"#)
        var state = ExecutionState(info: ExecutionInfo(id: "x", name: "x", stateMachineID: "m", stateMachineName: "m"), seed: 1)
        let actions = state.apply(.started(input: [:]), machine: machine, now: Timestamp(seconds: 0))
        for case .invokeTask(var inv) in actions {
            inv.id = TaskID(id)
            inv.taskToken = token
            return inv
        }
        fatalError("no invocation")
    }

    @Test func timersTasksAndTokensFollowTheActionsAndEvents() {
        var o = ExecutionObligations()
        let plain = invocation(1)
        let callback = invocation(2, token: "tok")
        let started = o.after([.invokeTask(plain), .invokeTask(callback), .startTimer(TimerID(3), at: Timestamp(seconds: 10)),
                               .startTimer(TimerID(4), at: Timestamp(seconds: 20))])
        #expect(started.map(\.id) == [TaskID(1), TaskID(2)])
        #expect(o.owed.map(\.id) == [TaskID(1), TaskID(2)])
        #expect(o.tokens == ["tok": 2])
        // The callback task's function returned: it is not owed again after a replay, its token stays.
        o.before(.taskSucceeded(TaskID(2), TaskResult(output: .null)))
        #expect(o.owed.map(\.id) == [TaskID(1)])
        #expect(o.tokens["tok"] == 2)
        o.before(.timerFired(TimerID(3)))
        _ = o.after([.cancelTimer(TimerID(4))])
        #expect(o.timers.isEmpty)
        #expect(o.takeDroppedTokens().isEmpty)
        o.before(.callbackSucceeded(token: "tok", output: .null))
        #expect(o.tokens.isEmpty && o.tasks.keys.sorted() == [1])
        #expect(o.takeDroppedTokens() == ["tok"])
        // A cancelled task is neither owed nor started.
        let more = o.after([.invokeTask(invocation(5)), .cancelTask(TaskID(5)), .cancelTask(TaskID(1))])
        #expect(more.isEmpty && o.owed.isEmpty)
        _ = o.after([.startTimer(TimerID(6), at: Timestamp(seconds: 1)), .executionSucceeded(output: .null)])
        #expect(o.timers.isEmpty && o.tasks.isEmpty)
    }
}
