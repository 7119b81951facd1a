import Foundation
import Testing
@testable import SwellWorkflow

struct InterpreterTests {
    let t0 = Timestamp(seconds: 1_700_000_000)

    // MARK: Simple states

    @Test func passChainRecordsHistoryInOrder() throws {
        var d = try Driver("""
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "ResultPath": "$.a", "Next": "B"},
              "B": {"Type": "Pass", "Result": 2, "ResultPath": "$.b", "End": true}}}
            """)
        d.run(["x": 0])
        #expect(d.output == ["x": 0, "a": 1, "b": 2])
        #expect(d.types == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"])
        #expect(d.history.map(\.id) == Array(1...6))
        #expect(d.history.map(\.previousEventID) == Array(0...5))
        #expect(d.history[1].details.input == ["x": 0])
        #expect(d.history[2].details.output == ["x": 0, "a": 1])
        #expect(d.state.status == .succeeded)
        #expect(d.state.transitions == 2)
        #expect(d.state.openRuns == 0)
    }

    @Test func succeedAndFailStates() throws {
        var s = try Driver(#"{"StartAt": "S", "States": {"S": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}}}"#)
        s.run(["a": ["b": 5]])
        #expect(s.output == 5)
        #expect(s.types == ["ExecutionStarted", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"])

        var f = try Driver(#"{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Grading.Failed", "Cause": "page 3 missing"}}}"#)
        f.run()
        #expect(f.failure == StatesError("Grading.Failed", "page 3 missing"))
        #expect(f.types == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"])
        #expect(f.history.last?.details.error == "Grading.Failed")

        var p = try Driver(#"{"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}}}"#)
        p.run(["e": "E", "c": "C"])
        #expect(p.failure == StatesError("E", "C"))
        var bad = try Driver(#"{"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e"}}}"#)
        bad.run(["e": 1])
        #expect(bad.failure?.name == ErrorName.runtime)
    }

    @Test func choiceFollowsTheFirstMatchThenDefaultElseFails() throws {
        let definition = """
            {"StartAt": "C", "States": {"C": {"Type": "Choice", "OutputPath": "$.v", "Choices": [
                {"Variable": "$.v", "NumericGreaterThan": 10, "Next": "Big"},
                {"Variable": "$.v", "NumericGreaterThan": 5, "Next": "Medium"},
                {"Variable": "$.v", "NumericLessThan": -1000, "Next": "Small"}]\\(DEFAULT)},
              "Big": {"Type": "Pass", "Result": "big", "End": true},
              "Medium": {"Type": "Pass", "Result": "medium", "End": true},
              "Small": {"Type": "Pass", "Result": "small", "End": true}}}
            """
        let withDefault = definition.replacingOccurrences(of: "\\(DEFAULT)", with: #", "Default": "Small""#)
        for (v, expected) in [(20, "big"), (7, "medium"), (1, "small")] {
            var d = try Driver(withDefault)
            d.run(["v": .int(v)])
            #expect(d.output == .string(expected))
        }
        var d = try Driver(withDefault)
        d.run(["v": 20])
        #expect(d.types.prefix(4) == ["ExecutionStarted", "ChoiceStateEntered", "ChoiceStateExited", "PassStateEntered"])
        #expect(d.history[2].details.output == 20)

        var none = try Driver(definition.replacingOccurrences(of: "\\(DEFAULT)", with: ""))
        none.run(["v": 1])
        #expect(none.failure?.name == ErrorName.noChoiceMatched)
        var missing = try Driver(withDefault)
        missing.run(["w": 1])
        #expect(missing.failure?.name == ErrorName.runtime)
    }

    @Test func waitStatesSetTimers() throws {
        var seconds = try Driver(#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}}"#, now: t0)
        seconds.apply(.started(input: ["a": 1]))
        #expect(seconds.timerRequests.map { $0.1 } == [Timestamp(seconds: t0.seconds + 3600)])
        #expect(seconds.end == nil)
        seconds.settle()
        #expect(seconds.output == ["a": 1])
        #expect(seconds.types == ["ExecutionStarted", "WaitStateEntered", "WaitStateExited", "ExecutionSucceeded"])

        var timestamp = try Driver(#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2030-01-01T00:00:00Z", "End": true}}}"#, now: t0)
        timestamp.run()
        #expect(timestamp.timerRequests.map { $0.1 } == [Timestamp(parsing: "2030-01-01T00:00:00Z")!])

        var past = try Driver(#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2001-01-01T00:00:00Z", "End": true}}}"#, now: t0)
        past.run()
        #expect(past.timerRequests.isEmpty)
        #expect(past.state.status == .succeeded)

        var secondsPath = try Driver(#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}}"#, now: t0)
        secondsPath.run(["s": 10])
        #expect(secondsPath.timerRequests.map { $0.1 } == [Timestamp(seconds: t0.seconds + 10)])
        var timestampPath = try Driver(#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.t", "End": true}}}"#, now: t0)
        timestampPath.run(["t": "2031-05-06T07:08:09.5+02:00"])
        #expect(timestampPath.timerRequests.map { $0.1 } == [Timestamp(parsing: "2031-05-06T05:08:09.500Z")!])

        for bad: JSON in [["s": -1], ["s": "10"], ["s": 1.5], [:]] {
            var d = try Driver(#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}}"#)
            d.run(bad)
            #expect(d.failure?.name == ErrorName.runtime)
        }
    }

    // MARK: Tasks

    @Test func taskInvokesTheFunctionWithTheEffectiveInput() throws {
        var d = try Driver("""
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:grade:live",
              "Parameters": {"page.$": "$.page"}, "TimeoutSecondsPath": "$.limit", "End": true}}}
            """)
        d.run(["page": 3, "limit": 30]) { .succeed(["graded": $0.payload["page"]!]) }
        #expect(d.invocations.count == 1)
        let call = d.invocations[0]
        // The owner may report that the invocation started; a report for an unknown task changes nothing.
        d.apply(.taskStarted(TaskID(999)))
        #expect(!d.types.contains("TaskStarted"))
        #expect(call.function == FunctionReference(name: "grade", qualifier: "live"))
        #expect(call.payload == ["page": 3])
        #expect(call.timeoutSeconds == 30)
        #expect(call.taskToken == nil)
        #expect(d.output == ["graded": 3])
        #expect(d.types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"])
        #expect(d.history[2].details.parameters == ["page": 3])
        // The timeout timer is cancelled when the task finishes.
        #expect(d.cancelledTimers.count == 1)
    }

    @Test func taskStartedIsRecordedWhenReported() throws {
        var d = try Driver(#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "swell:function:f", "End": true}}}"#)
        d.apply(.started(input: [:]))
        let task = d.queued.removeFirst()
        d.apply(.taskStarted(task.id))
        d.apply(.taskSucceeded(task.id, TaskResult(output: 1)))
        #expect(d.types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"])
    }

    @Test func lambdaInvokeHasTheAWSResultShape() throws {
        var d = try Driver("""
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "arn:aws:lambda:eu-west-1:123456789012:function:grade", "Qualifier": "7", "Payload.$": "$.event"},
              "ResultSelector": {"body.$": "$.Payload", "version.$": "$.ExecutedVersion", "status.$": "$.StatusCode"}, "End": true}}}
            """)
        d.run(["event": ["page": 1]]) { .succeed(["ok": $0.payload["page"]!], version: "7") }
        #expect(d.invocations[0].function == FunctionReference(name: "grade", qualifier: "7"))
        #expect(d.invocations[0].payload == ["page": 1])
        #expect(d.output == ["body": ["ok": 1], "version": "7", "status": 200])
        let raw = d.history.first { $0.type == .taskSucceeded }!.details.output!
        #expect(raw["SdkHttpMetadata"]?["HttpStatusCode"] == 200)

        var bad = try Driver("""
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName.$": "$.fn"}, "End": true}}}
            """)
        bad.run(["fn": "not a:valid:name:at all"])
        #expect(bad.failure?.name == ErrorName.taskFailed)
        #expect(bad.invocations.isEmpty)
    }

    @Test func aTaskErrorIsCaughtByItsErrorType() throws {
        var d = try Driver("""
            {"StartAt": "T", "States": {
              "T": {"Type": "Task", "Resource": "swell:function:grade", "Catch": [
                  {"ErrorEquals": ["RangeError"], "Next": "Wrong"},
                  {"ErrorEquals": ["TypeError"], "ResultPath": "$.error", "Next": "Handled"},
                  {"ErrorEquals": ["States.ALL"], "Next": "Wrong"}], "End": true},
              "Handled": {"Type": "Pass", "End": true},
              "Wrong": {"Type": "Fail"}}}
            """)
        d.run(["page": 1]) { _ in .fail(StatesError("TypeError", #"{"errorMessage":"x is undefined","errorType":"TypeError"}"#)) }
        #expect(d.output == ["page": 1, "error": ["Error": "TypeError", "Cause": #"{"errorMessage":"x is undefined","errorType":"TypeError"}"#]])
        #expect(d.types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskFailed", "TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"])
    }

    @Test func catchersAreTriedInOrder() throws {
        let definition = """
            {"StartAt": "T", "States": {
              "T": {"Type": "Task", "Resource": "swell:function:f", "Catch": [
                  {"ErrorEquals": ["A", "B"], "Next": "First"},
                  {"ErrorEquals": ["B"], "Next": "Second"},
                  {"ErrorEquals": ["States.TaskFailed"], "Next": "Third"},
                  {"ErrorEquals": ["States.ALL"], "Next": "Last"}], "End": true},
              "First": {"Type": "Pass", "Result": "first", "End": true},
              "Second": {"Type": "Pass", "Result": "second", "End": true},
              "Third": {"Type": "Pass", "Result": "third", "End": true},
              "Last": {"Type": "Pass", "Result": "last", "End": true}}}
            """
        for (error, expected) in [("A", "first"), ("B", "first"), ("C", "third"), (ErrorName.timeout, "last")] {
            var d = try Driver(definition)
            d.run { _ in .fail(StatesError(error)) }
            #expect(d.output == .string(expected), "\(error)")
        }
    }

    @Test func retriesWaitWithBackoffThenSucceed() throws {
        var d = try Driver("""
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "swell:function:flaky",
              "Parameters": {"retry.$": "$$.State.RetryCount"},
              "Retry": [{"ErrorEquals": ["Other"], "MaxAttempts": 9},
                        {"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3}], "End": true}}}
            """, now: t0)
        var calls = 0
        d.run { _ in
            calls += 1
            return calls < 3 ? .fail(StatesError("Flaky")) : .succeed(["done": true])
        }
        #expect(d.output == ["done": true])
        #expect(d.invocations.map(\.payload) == [["retry": 0], ["retry": 1], ["retry": 2]])
        #expect(d.timerRequests.map { $0.1.seconds - t0.seconds } == [2, 2 + 6])
        #expect(d.types.filter { $0 == "TaskStateEntered" }.count == 1)
        #expect(d.types.filter { $0 == "TaskScheduled" }.count == 3)
    }

    @Test func exhaustedRetriesFallToCatch() throws {
        var d = try Driver("""
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "swell:function:f",
              "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": null, "Next": "Done"}], "End": true},
              "Done": {"Type": "Succeed"}}}
            """)
        d.run(["k": 1]) { _ in .fail(StatesError("Boom", "always")) }
        #expect(d.invocations.count == 3)
        #expect(d.output == ["k": 1])
        var zero = try Driver("""
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "swell:function:f", "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 0}], "End": true}}}
            """)
        zero.run { _ in .fail(StatesError("Boom")) }
        #expect(zero.invocations.count == 1)
        #expect(zero.failure == StatesError("Boom"))
    }

    @Test func jitteredRetriesStayWithinTheirBounds() throws {
        for seed: UInt64 in 1...20 {
            var d = try Driver("""
                {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "swell:function:f",
                  "Retry": [{"ErrorEquals": ["E"], "IntervalSeconds": 10, "MaxAttempts": 4, "BackoffRate": 2, "MaxDelaySeconds": 30, "JitterStrategy": "FULL"}], "End": true}}}
                """, seed: seed, now: t0)
            d.apply(.started(input: [:]))
            var last = t0
            for cap in [10.0, 20, 30, 30] {
                let task = d.queued.removeFirst()
                d.apply(.taskFailed(task.id, StatesError("E")))
                let (timer, at) = d.timerRequests.last!
                let delay = Double(at.milliseconds - last.milliseconds) / 1000
                #expect(delay >= 0 && delay <= cap)
                d.now = at
                last = at
                d.timers[timer] = nil
                d.apply(.timerFired(timer))
            }
            #expect(d.queued.count == 1)
        }
    }

    @Test func aTaskTimeoutIsStatesTimeout() throws {
        var d = try Driver("""
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "swell:function:slow", "TimeoutSeconds": 5,
              "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "TooSlow"}], "End": true},
              "TooSlow": {"Type": "Pass", "Result": "timed out", "End": true}}}
            """, now: t0)
        d.run { _ in .hang }
        #expect(d.output == "timed out")
        #expect(d.now == Timestamp(seconds: t0.seconds + 5))
        #expect(d.cancelledTasks == [d.invocations[0].id])
        #expect(d.types.contains("TaskTimedOut"))
        // A result that arrives after the timeout changes nothing.
        let before = d.history.count
        d.apply(.taskSucceeded(d.invocations[0].id, TaskResult(output: 1)))
        #expect(d.history.count == before)
        // A timeout the function itself reports is the same error.
        var reported = try Driver("""
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "swell:function:slow", "End": true}}}
            """)
        reported.run { _ in .fail(StatesError(ErrorName.timeout, "Task timed out after 3.00 seconds")) }
        #expect(reported.failure?.name == ErrorName.timeout)
    }

    @Test func callbackTasksWaitForTheirToken() throws {
        var d = try Driver("""
            {"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
              "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token", "who.$": "$.who"}},
              "HeartbeatSeconds": 60, "TimeoutSeconds": 86400, "ResultPath": "$.answer", "End": true}}}
            """, now: t0)
        d.apply(.started(input: ["who": "teacher"]))
        let call = d.queued.removeFirst()
        d.apply(.taskSucceeded(call.id, TaskResult(output: ["sent": true])))
        #expect(d.end == nil)
        let token = try #require(call.taskToken)
        #expect(call.payload == ["token": .string(token), "who": "teacher"])
        #expect(d.state.task(forToken: token) == call.id)
        #expect(d.types.last == "TaskSubmitted")
        // A heartbeat moves the heartbeat deadline.
        d.now = Timestamp(seconds: t0.seconds + 50)
        d.apply(.callbackHeartbeat(token: token))
        #expect(d.timers.values.contains(Timestamp(seconds: t0.seconds + 110)))
        d.apply(.callbackSucceeded(token: "wrong", output: 1))
        #expect(d.end == nil)
        d.apply(.callbackSucceeded(token: token, output: ["approved": true]))
        #expect(d.output == ["who": "teacher", "answer": ["approved": true]])
        #expect(d.timers.isEmpty)
        #expect(d.state.task(forToken: token) == nil)

        var failed = try Driver("""
            {"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
              "Parameters": {"FunctionName": "notify", "Payload.$": "$$.Task"}, "End": true}}}
            """)
        failed.run { _ in .hang }
        failed.apply(.callbackFailed(token: failed.invocations[0].taskToken!, StatesError("Rejected", "no")))
        #expect(failed.failure == StatesError("Rejected", "no"))

        var silent = try Driver("""
            {"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
              "Parameters": {"FunctionName": "notify"}, "HeartbeatSeconds": 60, "End": true}}}
            """)
        silent.run { _ in .succeed([:]) }
        #expect(silent.failure?.name == ErrorName.heartbeatTimeout)
    }

    // MARK: Parallel and Map

    @Test func parallelCollectsBranchResultsInOrder() throws {
        var d = try Driver("""
            {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Parameters": {"n.$": "$.n"}, "ResultPath": "$.results", "Branches": [
                {"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": "swell:function:slow", "End": true}}},
                {"StartAt": "Fast", "States": {"Fast": {"Type": "Pass", "Result": "fast", "End": true}}}], "End": true}}}
            """)
        d.run(["n": 1]) { .succeed(["slow": $0.payload["n"]!]) }
        #expect(d.output == ["n": 1, "results": [["slow": 1], "fast"]])
        #expect(d.types.first { $0.hasPrefix("Parallel") } == "ParallelStateEntered")
        #expect(d.types.contains("ParallelStateStarted"))
        #expect(d.types.contains("ParallelStateSucceeded"))
    }

    @Test func aFailedBranchFailsTheParallelAndStopsTheOthers() throws {
        var d = try Driver("""
            {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
                {"StartAt": "Wait", "States": {"Wait": {"Type": "Task", "Resource": "swell:function:slow", "End": true}}},
                {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Branch.Boom", "Cause": "b"}}}],
              "Catch": [{"ErrorEquals": ["Branch.Boom"], "ResultPath": "$.err", "Next": "Caught"}], "End": true},
              "Caught": {"Type": "Succeed"}}}
            """)
        d.run(["k": 1]) { _ in .hang }
        #expect(d.output == ["k": 1, "err": ["Error": "Branch.Boom", "Cause": "b"]])
        #expect(d.cancelledTasks == [d.invocations[0].id])
        #expect(d.types.contains("ParallelStateFailed"))
        #expect(d.state.openRuns == 0)
    }

    @Test func mapRespectsMaxConcurrency() throws {
        var d = try Driver("""
            {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.pages", "MaxConcurrency": 3,
              "ItemProcessor": {"StartAt": "Grade", "States": {"Grade": {"Type": "Task", "Resource": "swell:function:grade", "End": true}}}, "End": true}}}
            """)
        d.apply(.started(input: ["pages": .array((0..<10).map { .int($0) })]))
        var maxRunning = 0
        while d.end == nil {
            maxRunning = max(maxRunning, d.queued.count)
            let task = d.queued.removeFirst()
            d.apply(.taskSucceeded(task.id, TaskResult(output: .int(task.payload.intValue! * 10))))
        }
        #expect(maxRunning == 3)
        #expect(d.output == .array((0..<10).map { .int($0 * 10) }))
        #expect(d.types.filter { $0 == "MapIterationStarted" }.count == 10)
        #expect(d.types.filter { $0 == "MapIterationSucceeded" }.count == 10)
        #expect(d.history.first { $0.type == .mapStateStarted }?.details.length == 10)
    }

    @Test func mapOfNothingAndMapWithoutLimit() throws {
        var empty = try Driver(#"{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true}}}"#)
        empty.run([])
        #expect(empty.output == [])
        var notArray = try Driver(#"{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.x", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true}}}"#)
        notArray.run(["x": "no"])
        #expect(notArray.failure?.name == ErrorName.runtime)
        var unlimited = try Driver(#"{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Task", "Resource": "swell:function:f", "End": true}}}, "End": true}}}"#)
        unlimited.apply(.started(input: .array((0..<50).map { .int($0) })))
        #expect(unlimited.queued.count == 50)
    }

    @Test func mapFailureToleranceByCountAndPercentage() throws {
        func run(_ tolerance: String, failing: Set<Int>) throws -> Driver {
            var d = try Driver("""
                {"StartAt": "M", "States": {"M": {"Type": "Map", \(tolerance) "MaxConcurrency": 1,
                  "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Task", "Resource": "swell:function:f", "End": true}}}, "End": true}}}
                """)
            d.run(.array((0..<10).map { .int($0) })) { failing.contains($0.payload.intValue!) ? .fail(StatesError("Bad", "item")) : .succeed($0.payload) }
            return d
        }
        // No tolerance configured: the first failure fails the Map with the item's own error.
        let strict = try run("", failing: [4])
        #expect(strict.failure == StatesError("Bad", "item"))
        #expect(strict.types.contains("MapStateFailed"))
        let count = try run(#""ToleratedFailureCount": 2,"#, failing: [1, 5])
        #expect(count.output?[1] == ["Error": "Bad", "Cause": "item"])
        #expect(count.output?[0] == 0)
        let tooMany = try run(#""ToleratedFailureCount": 2,"#, failing: [1, 5, 7])
        #expect(tooMany.failure?.name == ErrorName.exceedToleratedFailureThreshold)
        let percent = try run(#""ToleratedFailurePercentage": 30,"#, failing: [1, 5, 7])
        #expect(percent.state.status == .succeeded)
        let overPercent = try run(#""ToleratedFailurePercentage": 20,"#, failing: [1, 5, 7])
        #expect(overPercent.failure?.name == ErrorName.exceedToleratedFailureThreshold)
        // Once over the threshold, nothing more is started.
        #expect(overPercent.invocations.count == 8)
    }

    @Test func nestedParallelInsideMap() throws {
        var d = try Driver("""
            {"StartAt": "Pages", "States": {"Pages": {"Type": "Map", "ItemsPath": "$.pages", "MaxConcurrency": 2, "ResultPath": "$.graded",
              "ItemProcessor": {"StartAt": "Both", "States": {
                "Both": {"Type": "Parallel", "ResultSelector": {"score.$": "$[0].score", "words.$": "$[1].words"}, "Branches": [
                    {"StartAt": "Grade", "States": {"Grade": {"Type": "Task", "Resource": "swell:function:grade", "End": true}}},
                    {"StartAt": "Count", "States": {"Count": {"Type": "Task", "Resource": "swell:function:count", "End": true}}}], "Next": "Done"},
                "Done": {"Type": "Succeed"}}}, "Next": "Summary"},
              "Summary": {"Type": "Pass", "Parameters": {"n.$": "States.ArrayLength($.graded)", "first.$": "$.graded[0]"}, "End": true}}}
            """)
        d.run(["pages": [["p": 1], ["p": 2], ["p": 3]]]) { task in
            let p = task.payload["p"]!.intValue!
            return task.function.name == "grade" ? .succeed(["score": .int(p * 10)]) : .succeed(["words": .int(p * 100)])
        }
        #expect(d.output == ["n": 3, "first": ["score": 10, "words": 100]])
        #expect(d.invocations.count == 6)
        #expect(d.types.filter { $0 == "ParallelStateStarted" }.count == 3)
        #expect(d.types.filter { $0 == "MapIterationSucceeded" }.count == 3)
        #expect(d.state.openRuns == 0)
        // Ids are in order and each event points to an earlier one.
        #expect(d.history.map(\.id) == Array(1...d.history.count))
        #expect(d.history.allSatisfy { $0.previousEventID < $0.id })
    }

    @Test func retryingAParallelRunsItsBranchesAgain() throws {
        var d = try Driver("""
            {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 1}], "Branches": [
                {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "swell:function:f", "End": true}}}], "End": true}}}
            """)
        var calls = 0
        d.run { _ in
            calls += 1
            return calls == 1 ? .fail(StatesError("Flaky")) : .succeed("ok")
        }
        #expect(d.output == ["ok"])
        #expect(d.types.filter { $0 == "ParallelStateStarted" }.count == 2)
    }

    // MARK: The execution

    @Test func executionTimeoutAndStop() throws {
        var timeout = try Driver(#"{"TimeoutSeconds": 30, "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "swell:function:f", "End": true}}}"#, now: t0)
        timeout.run { _ in .hang }
        #expect(timeout.end == .executionTimedOut)
        #expect(timeout.state.status == .timedOut)
        #expect(timeout.cancelledTasks == [timeout.invocations[0].id])
        #expect(timeout.types.last == "ExecutionTimedOut")

        var stop = try Driver(#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}}"#)
        stop.apply(.started(input: [:]))
        stop.apply(.stopped(StatesError("Manual", "operator")))
        #expect(stop.end == .executionAborted(StatesError("Manual", "operator")))
        #expect(stop.timers.isEmpty)
        // Nothing applies after the end.
        let count = stop.history.count
        stop.apply(.timerFired(TimerID(99)))
        stop.apply(.started(input: [:]))
        #expect(stop.history.count == count)
    }

    @Test func theStateIsCodableMidExecutionAndResumesIdentically() throws {
        let definition = """
            {"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 2, "ItemSelector": {"v.$": "$$.Map.Item.Value", "r.$": "States.MathRandom(0, 1000)"},
              "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "swell:function:f",
                  "Retry": [{"ErrorEquals": ["E"], "JitterStrategy": "FULL"}], "End": true}}}, "Next": "W"},
              "W": {"Type": "Wait", "Seconds": 60, "End": true}}}
            """
        func executor(_ t: TaskInvocation) -> Driver.Outcome {
            t.payload["v"] == 2 && t.id.rawValue < 12 ? .fail(StatesError("E")) : .succeed(t.payload)
        }
        var straight = try Driver(definition, seed: 99)
        straight.run([1, 2, 3, 4], executor: executor)

        var interrupted = try Driver(definition, seed: 99)
        interrupted.apply(.started(input: [1, 2, 3, 4]))
        let first = interrupted.queued.removeFirst()
        interrupted.apply(.taskSucceeded(first.id, TaskResult(output: first.payload)))
        // "Crash": journal the state, read it back, carry on from there.
        let data = try JSONEncoder().encode(interrupted.state)
        interrupted.state = try JSONDecoder().decode(ExecutionState.self, from: data)
        interrupted.settle(executor: executor)

        #expect(straight.output != nil)
        #expect(interrupted.output == straight.output)
        #expect(interrupted.history == straight.history)
        // The same seed gives the same history; another seed other random numbers.
        var other = try Driver(definition, seed: 100)
        other.run([1, 2, 3, 4], executor: executor)
        #expect(other.output != straight.output)
    }

    @Test func theFunctionalStepLeavesItsInputAlone() throws {
        let machine = try StateMachine(parsing: #"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#)
        let initial = ExecutionState(info: ExecutionInfo(id: "e", name: "n", stateMachineID: "s", stateMachineName: "m"), seed: 0)
        let (after, actions) = Interpreter.step(machine, initial, .started(input: 1), now: t0)
        #expect(initial.status == .notStarted)
        #expect(after.status == .succeeded)
        #expect(actions.last == .executionSucceeded(output: 1))
    }

    @Test func aLongPassChainAndALargeMap() throws {
        var states: [String] = []
        for i in 0..<1000 {
            states.append(#""S\#(i)": {"Type": "Pass", \#(i == 999 ? #""End": true"# : #""Next": "S\#(i + 1)""#)}"#)
        }
        var chain = try Driver(#"{"StartAt": "S0", "States": {\#(states.joined(separator: ","))}}"#)
        let start = ContinuousClock.now
        chain.run(["x": 1])
        let chainTime = ContinuousClock.now - start
        #expect(chain.output == ["x": 1])
        #expect(chain.state.transitions == 1000)

        var map = try Driver(#"{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "End": true}}}"#)
        let items = JSON.array((0..<10_000).map { .int($0) })
        let mapStart = ContinuousClock.now
        map.run(items)
        let mapTime = ContinuousClock.now - mapStart
        #expect(map.output == items)
        print("1,000-state Pass chain: \(chainTime); Map of 10,000 Pass items in one step: \(mapTime) (debug build)")
    }
}

struct RecoveryTests {
    static let definition = """
        {"StartAt": "Pages", "States": {
          "Pages": {"Type": "Map", "ItemsPath": "$.pages", "MaxConcurrency": 100, "ResultPath": "$.graded",
            "ItemProcessor": {"StartAt": "Grade", "States": {
              "Grade": {"Type": "Task", "Resource": "swell:function:grade", "Parameters": {"page.$": "$.page", "attempt.$": "$$.State.RetryCount"},
                        "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2}], "Next": "Pause"},
              "Pause": {"Type": "Wait", "Seconds": 30, "End": true}}}, "Next": "Done"},
          "Done": {"Type": "Pass", "Parameters": {"count.$": "States.ArrayLength($.graded)"}, "End": true}}}
        """

    static func executor(_ task: TaskInvocation) -> Driver.Outcome {
        let page = task.payload["page"]!.intValue!
        // Every 7th page fails on its first attempt.
        return page % 7 == 0 && task.payload["attempt"] == 0 ? .fail(StatesError("Flaky")) : .succeed(["page": .int(page), "score": .int(page % 10)])
    }

    /// A Map with waits and retries, journaled and restored every `every` events, ends with the
    /// same output and the same history as one that never stopped.
    @Test(arguments: [(items: 60, every: 1), (items: 2000, every: 250), (items: 2000, every: 1500)])
    func aLargeMapSurvivesRestoresAtAnyPoint(items: Int, every: Int) throws {
        let input: JSON = ["pages": .array((0..<items).map { ["page": .int($0)] })]
        var straight = try Driver(Self.definition)
        straight.run(input, executor: Self.executor)
        #expect(straight.output?["count"] == .int(items))

        var restored = try Driver(Self.definition)
        restored.apply(.started(input: input))
        var events = 0
        while restored.end == nil {
            if events % every == 0 {
                let data = try JSONEncoder().encode(restored.state)
                restored.state = try JSONDecoder().decode(ExecutionState.self, from: data)
            }
            events += 1
            if !restored.queued.isEmpty {
                let task = restored.queued.removeFirst()
                switch Self.executor(task) {
                case .succeed(let o, _): restored.apply(.taskSucceeded(task.id, TaskResult(output: o)))
                case .fail(let e): restored.apply(.taskFailed(task.id, e))
                case .hang: break
                }
            } else if let (id, at) = restored.timers.min(by: { ($0.value, $0.key.rawValue) < ($1.value, $1.key.rawValue) }) {
                if at > restored.now { restored.now = at }
                restored.timers[id] = nil
                restored.apply(.timerFired(id))
            } else {
                break
            }
        }
        #expect(restored.output == straight.output)
        #expect(restored.history == straight.history)
        // The history is complete: every iteration started and succeeded, every task scheduled has an outcome.
        let count = { (type: HistoryEventType) in restored.history.filter { $0.type == type }.count }
        #expect(count(.mapIterationStarted) == items)
        #expect(count(.mapIterationSucceeded) == items)
        #expect(count(.taskScheduled) == count(.taskSucceeded) + count(.taskFailed))
        #expect(count(.taskFailed) > 0)
        #expect(restored.history.last?.type == .executionSucceeded)
        #expect(restored.history.map(\.id) == Array(1...restored.history.count))
    }
}
