import Testing
@testable import SwellWorkflow

struct DefinitionTests {
    /// The faults of a definition, as "path: message" lines.
    func faults(_ text: String) -> [String] {
        do {
            _ = try StateMachine(parsing: text)
            return []
        } catch {
            return error.faults.map(\.description)
        }
    }

    @Test func aValidDefinitionReadsEveryStateType() throws {
        let m = try StateMachine(parsing: """
            {"Comment": "all", "TimeoutSeconds": 60, "StartAt": "P", "States": {
              "P": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.r", "Next": "T"},
              "T": {"Type": "Task", "Resource": "swell:function:grade:live", "TimeoutSeconds": 10, "HeartbeatSeconds": 5,
                    "Retry": [{"ErrorEquals": ["TypeError"], "IntervalSeconds": 2, "MaxAttempts": 4, "BackoffRate": 1.5, "MaxDelaySeconds": 9, "JitterStrategy": "FULL"},
                              {"ErrorEquals": ["States.ALL"]}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "F"}], "Next": "C"},
              "C": {"Type": "Choice", "Choices": [{"Variable": "$.r.x", "NumericEquals": 1, "Next": "W"}], "Default": "S"},
              "W": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Par"},
              "Par": {"Type": "Parallel", "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}], "Next": "M"},
              "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                    "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "End": true},
              "S": {"Type": "Succeed"},
              "F": {"Type": "Fail", "Error": "Failed", "Cause": "because"}}}
            """)
        #expect(m.startAt == "P")
        #expect(m.timeoutSeconds == 60)
        #expect(m.stateNames == ["P", "T", "C", "W", "Par", "M", "S", "F"])
        guard case .task(let task) = m["T"]!.body else { Issue.record("not a task"); return }
        #expect(task.resource == .function(FunctionReference(name: "grade", qualifier: "live")))
        #expect(m["T"]!.retry[0] == Retrier(errorEquals: ["TypeError"], intervalSeconds: 2, maxAttempts: 4, backoffRate: 1.5, maxDelaySeconds: 9, jitter: .full))
        #expect(m["T"]!.catchers[0].next == "F")
    }

    @Test func aMissingTargetIsNamedWithItsPath() {
        #expect(faults("""
            {"StartAt": "Grade", "States": {"Grade": {"Type": "Task", "Resource": "swell:function:grade", "Next": "Grad"}}}
            """) == [#"States.Grade.Next: no state named "Grad""#])
    }

    @Test func everyFaultIsReportedNotOnlyTheFirst() {
        let found = faults("""
            {"StartAt": "Nope", "Bogus": 1, "States": {
              "A": {"Type": "Pass", "Next": "B", "End": true},
              "B": {"Type": "Pass", "Resource": "x"},
              "C": {"Type": "Fail", "Catch": [], "InputPath": "$"},
              "D": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": 1, "Next": "Z"}], "Default": "Y"},
              "E": {"Type": "Wait", "Seconds": 1, "Timestamp": "2020-01-01T00:00:00Z", "End": true},
              "G": {"Type": "Task", "Resource": "swell:function:f", "InputPath": "$.[", "ResultPath": "$.a[*]", "End": true,
                    "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"], "BackoffRate": 0.5, "MaxAttempts": -1, "JitterStrategy": "HALF"}],
                    "Catch": [{"ErrorEquals": [], "Next": "A"}, {"ErrorEquals": ["States.Nope"]}]},
              "H": {"Type": "Dance"}}}
            """)
        let expected = [
            "Bogus: unknown field",
            "States.A.End: a state with Next cannot also be End",
            "States.B.Resource: field not allowed in a Pass state",
            #"States.B: needs Next or "End": true"#,
            "States.C.Catch: field not allowed in a Fail state",
            "States.C.InputPath: field not allowed in a Fail state",
            "States.D.Choices[0].StringEquals: must be a string",
            "States.E: a Wait state takes only one of Seconds, Timestamp",
            #"States.G.InputPath: invalid path "$.[": empty member name at position 2"#,
            #"States.G.ResultPath: "$.a[*]" must be a reference path (only .name, ['name'] and [index])"#,
            "States.G.Retry[0].ErrorEquals: a retrier with States.ALL must be the last one",
            "States.G.Retry[1].MaxAttempts: must be an integer, between 0 and 99999999",
            "States.G.Retry[1].BackoffRate: must be a number greater than or equal to 1.0",
            "States.G.Retry[1].JitterStrategy: must be FULL or NONE",
            "States.G.Catch[0].ErrorEquals: must be a non-empty array of error names",
            #"States.G.Catch[1].ErrorEquals[0]: unknown predefined error "States.Nope""#,
            "States.G.Catch[1].Next: is required",
            #"States.H.Type: unknown state type "Dance" (Pass, Task, Choice, Wait, Succeed, Fail, Parallel or Map)"#,
            #"StartAt: no state named "Nope""#,
            #"States.D.Default: no state named "Y""#,
        ]
        for fault in expected {
            #expect(found.contains(fault), "missing: \(fault)\nfound: \(found.joined(separator: "\n"))")
        }
    }

    @Test func unreachableStatesAreFaults() {
        #expect(faults("""
            {"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "Orphan": {"Type": "Pass", "Next": "A"}}}
            """) == ["States.Orphan: state is not reachable from StartAt"])
        // Reachable through a Catch or a Choice Default counts.
        #expect(faults("""
            {"StartAt": "A", "States": {
              "A": {"Type": "Task", "Resource": "swell:function:f", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "B"}], "Next": "C"},
              "B": {"Type": "Fail"},
              "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "D"}], "Default": "E"},
              "D": {"Type": "Succeed"}, "E": {"Type": "Succeed"}}}
            """) == [])
    }

    @Test func nestedMachinesHaveTheirOwnScopeAndPaths() {
        let found = faults("""
            {"StartAt": "P", "States": {
              "P": {"Type": "Parallel", "End": true, "Branches": [
                 {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Outer"}}},
                 {"StartAt": "Y", "States": {"Y": {"Type": "Succeed"}}}]},
              "Outer": {"Type": "Succeed"},
              "M": {"Type": "Map", "End": true, "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Task", "End": true}}}}}}
            """)
        #expect(found.contains(#"States.P.Branches[0].States.X.Next: no state named "Outer""#))
        #expect(found.contains("States.Outer: state is not reachable from StartAt"))
        #expect(found.contains("States.M.Iterator.States.I.Resource: is required"))
    }

    @Test func choiceRulesAreChecked() {
        let found = faults("""
            {"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
              {"Variable": "$.a", "NumericEquals": 1},
              {"And": [{"Variable": "$.a", "IsNull": true, "Next": "S"}], "Next": "S"},
              {"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1, "Next": "S"},
              {"Variable": "a", "StringEquals": "x", "Next": "S"},
              {"Variable": "$.t", "TimestampEquals": "yesterday", "Next": "S"},
              {"Variable": "$.t", "StringEqualsPath": "$.x[*]", "Next": "S"},
              {"Not": [], "Next": "S"},
              {"Variable": "$.t", "IsNull": "yes", "Next": "S"}]},
              "S": {"Type": "Succeed"}}}
            """)
        let expected = [
            "States.C.Choices[0].Next: is required",
            "States.C.Choices[1].And[0].Next: only a top-level choice rule may have Next",
            "States.C.Choices[2]: a choice rule takes exactly one of StringEquals, NumericEquals",
            #"States.C.Choices[3].Variable: invalid path "a": must begin with $"#,
            "States.C.Choices[4].TimestampEquals: must be an RFC 3339 timestamp string",
            #"States.C.Choices[5].StringEqualsPath: "$.x[*]" must be a reference path (only .name, ['name'] and [index])"#,
            "States.C.Choices[6].Not: must be a choice rule object",
            "States.C.Choices[7].IsNull: must be true or false",
        ]
        for fault in expected {
            #expect(found.contains(fault), "missing: \(fault)\nfound: \(found.joined(separator: "\n"))")
        }
        #expect(faults(#"{"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": []}}}"#) == ["States.C.Choices: must be a non-empty array of choice rules"])
    }

    @Test func templatesResourcesAndMapFields() {
        let found = faults("""
            {"StartAt": "T", "States": {
              "T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "Parameters": {"a.$": 5, "b.$": "States.Nope()", "c": 1, "c.$": "$.c", "d.$": "nope"}, "Next": "L"},
              "L": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"Payload.$": "$"}, "TimeoutSeconds": 5, "HeartbeatSeconds": 5, "Next": "M"},
              "M": {"Type": "Map", "ItemsPath": "$.items[*]", "ItemSelector": {}, "Parameters": {}, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
                    "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "MaxConcurrency": -1, "ToleratedFailurePercentage": 101,
                    "ItemReader": {}, "Assign": {}, "End": true}}}
            """)
        let expected = [
            #"States.T.Resource: unsupported resource "arn:aws:states:::sqs:sendMessage" (swell:function:NAME[:QUALIFIER], a Lambda function ARN, or arn:aws:states:::lambda:invoke[.waitForTaskToken])"#,
            "States.T.Parameters.a.$: a field ending in .$ must be a string holding a path or an intrinsic function",
            #"States.T.Parameters.b.$: invalid intrinsic function "States.Nope()": unknown function "States.Nope""#,
            #"States.T.Parameters.c.$: "c" is given twice (with and without .$)"#,
            #"States.T.Parameters.d.$: invalid path "nope": must begin with $"#,
            "States.L.Parameters: arn:aws:states:::lambda:invoke needs Parameters.FunctionName",
            "States.L.HeartbeatSeconds: must be smaller than TimeoutSeconds",
            #"States.M.ItemsPath: "$.items[*]" must be a reference path (only .name, ['name'] and [index])"#,
            "States.M.ItemSelector: use ItemSelector or the legacy Parameters, not both",
            "States.M.Iterator: use ItemProcessor or the legacy Iterator, not both",
            "States.M.MaxConcurrency: must be an integer, 0 or more",
            "States.M.ToleratedFailurePercentage: must be a number between 0 and 100",
            "States.M.ItemReader: distributed Map (ItemReader) is not supported",
            "States.M.Assign: workflow variables (Assign) are not supported",
        ]
        for fault in expected {
            #expect(found.contains(fault), "missing: \(fault)\nfound: \(found.joined(separator: "\n"))")
        }
    }

    @Test func notJSONOrNotAnObject() {
        #expect(faults("{").first?.hasPrefix("the definition is not valid JSON") == true)
        #expect(faults("[]") == ["must be an object with StartAt and States"])
        #expect(faults(#"{"States": {}}"#) == ["StartAt: is required", "States: must hold at least one state"])
    }

    @Test func functionReferencesListEveryStaticallyNamedFunction() throws {
        let m = try StateMachine(parsing: """
            {"StartAt": "A", "States": {
              "A": {"Type": "Task", "Resource": "swell:function:grade:live", "Next": "P"},
              "P": {"Type": "Parallel", "Branches": [
                  {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "notify", "Payload.$": "$"}, "End": true}}},
                  {"StartAt": "C", "States": {"C": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName.$": "$.fn"}, "End": true}}}], "Next": "M"},
              "M": {"Type": "Map", "ItemProcessor": {"StartAt": "D", "States": {"D": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:grade:live", "Next": "E"},
                  "E": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "summary:2"}, "End": true}}}, "End": true}}}
            """)
        #expect(m.functionReferences == [
            FunctionReference(name: "grade", qualifier: "live"), FunctionReference(name: "notify"), FunctionReference(name: "summary", qualifier: "2"),
        ])
    }

    @Test func resources() {
        #expect(TaskResource.parse("swell:function:f") == .function(FunctionReference(name: "f")))
        #expect(TaskResource.parse("swell:function:f:3") == .function(FunctionReference(name: "f", qualifier: "3")))
        #expect(TaskResource.parse("arn:aws:lambda:us-east-1:123456789012:function:grade") == .function(FunctionReference(name: "grade")))
        #expect(TaskResource.parse("arn:aws:lambda:us-east-1:123456789012:function:grade:$LATEST") == .function(FunctionReference(name: "grade", qualifier: "$LATEST")))
        #expect(TaskResource.parse("arn:aws:states:::lambda:invoke") == .lambdaInvoke(waitForTaskToken: false))
        #expect(TaskResource.parse("arn:aws:states:::lambda:invoke.waitForTaskToken") == .lambdaInvoke(waitForTaskToken: true))
        #expect(TaskResource.parse("swell:function:") == nil)
        #expect(TaskResource.parse("arn:aws:states:::dynamodb:putItem") == nil)
        #expect(FunctionReference.parse("grade:live") == FunctionReference(name: "grade", qualifier: "live"))
        #expect(FunctionReference.parse("123456789012:function:grade") == FunctionReference(name: "grade"))
        #expect(FunctionReference.parse("a:b:c") == nil)
    }
}
