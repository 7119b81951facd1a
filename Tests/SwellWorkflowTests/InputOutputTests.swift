import Testing
@testable import SwellWorkflow

/// Input and output processing, with the specification's own examples where it has them.
struct InputOutputTests {
    /// Runs a one-state machine `{"Type": …, "End": true}` whose extra fields are `fields`.
    func runPass(_ fields: String, _ input: JSON) throws -> Driver {
        var d = try Driver(#"{"StartAt": "S", "States": {"S": {"Type": "Pass", \#(fields), "End": true}}}"#)
        d.run(input)
        return d
    }

    @Test func inputPathResultPathOutputPathOfTheSpec() throws {
        // The specification's example: a task adds the two numbers selected by InputPath.
        var d = try Driver("""
            {"StartAt": "Add", "States": {"Add": {"Type": "Task", "Resource": "swell:function:add",
              "InputPath": "$.numbers", "ResultPath": "$.sum", "OutputPath": "$", "End": true}}}
            """)
        d.run(["title": "Numbers to add", "numbers": ["val1": 3, "val2": 4]]) { task in
            .succeed(.int(task.payload["val1"]!.intValue! + task.payload["val2"]!.intValue!))
        }
        #expect(d.invocations.first?.payload == ["val1": 3, "val2": 4])
        #expect(d.output == ["title": "Numbers to add", "numbers": ["val1": 3, "val2": 4], "sum": 7])
    }

    @Test func parametersWithPathsSlicesContextAndIntrinsics() throws {
        let d = try runPass("""
            "Parameters": {"flagged": true, "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[3:]"},
              "name.$": "$$.Execution.Name", "formatted.$": "States.Format('Run {} of {}', $$.Execution.Name, $$.StateMachine.Name)",
              "list": [{"v.$": "$.flagged"}, "plain"], "state.$": "$$.State.Name"}
            """, ["flagged": 7, "vals": [0, 10, 20, 30, 40, 50]])
        #expect(d.output == [
            "flagged": true, "parts": ["first": 0, "last3": [30, 40, 50]], "name": "run-1",
            "formatted": "Run run-1 of grade-set", "list": [["v": 7], "plain"], "state": "S",
        ])
    }

    @Test func resultSelectorOfTheSpec() throws {
        var d = try Driver("""
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "swell:function:emr",
              "ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"},
              "ResultPath": "$.EMROutput", "End": true}}}
            """)
        d.run(["cluster": "c1"]) { _ in
            .succeed(["resourceType": "elasticmapreduce", "resource": "createCluster.sync",
                      "output": ["SdkHttpMetadata": ["HttpStatusCode": 200], "ClusterId": "AKIAIOSFODNN7EXAMPLE"]])
        }
        #expect(d.output == ["cluster": "c1", "EMROutput": ["ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"]])
    }

    @Test func resultPathVariants() throws {
        let input: JSON = ["master": ["detail": [1, 2, 3]]]
        #expect(try runPass(#""Result": "r""#, input).output == "r")
        #expect(try runPass(#""Result": "r", "ResultPath": "$""#, input).output == "r")
        #expect(try runPass(#""Result": "r", "ResultPath": null"#, input).output == input)
        #expect(try runPass(#""Result": "r", "ResultPath": "$.master.detail""#, input).output == ["master": ["detail": "r"]])
        #expect(try runPass(#""Result": "r", "ResultPath": "$.master.new.deep""#, input).output == ["master": ["detail": [1, 2, 3], "new": ["deep": "r"]]])
        // Merging into a value that is not an object is a runtime error.
        let bad = try runPass(#""Result": "r", "ResultPath": "$.master.detail.x""#, input)
        #expect(bad.failure?.name == ErrorName.runtime)
        #expect(try runPass(#""Result": "r", "ResultPath": "$.x""#, [1, 2]).failure?.name == ErrorName.runtime)
        // Without Result, the Pass state's result is its effective input.
        #expect(try runPass(#""InputPath": "$.master", "ResultPath": "$.copy""#, input).output == ["master": ["detail": [1, 2, 3]], "copy": ["detail": [1, 2, 3]]])
    }

    @Test func nullPathsAndMissingPaths() throws {
        #expect(try runPass(#""InputPath": null"#, ["a": 1]).output == [:])
        #expect(try runPass(#""OutputPath": null"#, ["a": 1]).output == [:])
        #expect(try runPass(#""OutputPath": "$.a""#, ["a": 1]).output == 1)
        #expect(try runPass(#""OutputPath": "$.b[*]""#, ["b": [1, 2]]).output == [1, 2])
        let missingInput = try runPass(#""InputPath": "$.nope""#, ["a": 1])
        #expect(missingInput.failure?.name == ErrorName.runtime)
        #expect(missingInput.failure?.cause.contains("Invalid path '$.nope'") == true)
        #expect(try runPass(#""OutputPath": "$.nope""#, ["a": 1]).failure?.name == ErrorName.runtime)
        let missingParameter = try runPass(#""Parameters": {"x.$": "$.nope"}"#, ["a": 1])
        #expect(missingParameter.failure == StatesError.runtime("The JSONPath '$.nope' specified for the field 'x.$' could not be found in the input"))
    }

    @Test func contextObject() throws {
        var d = try Driver("""
            {"StartAt": "S", "States": {"S": {"Type": "Pass", "Parameters": {"ctx.$": "$$"}, "End": true}}}
            """, now: Timestamp(parsing: "2019-03-26T20:14:13.192Z")!)
        d.run(["in": 1])
        #expect(d.output?["ctx"] == [
            "Execution": ["Id": "exec-1", "Input": ["in": 1], "Name": "run-1", "StartTime": "2019-03-26T20:14:13.192Z", "RedriveCount": 0],
            "State": ["EnteredTime": "2019-03-26T20:14:13.192Z", "Name": "S", "RetryCount": 0],
            "StateMachine": ["Id": "sm-1", "Name": "grade-set"],
        ])
    }

    @Test func mapItemContextInItemSelector() throws {
        var d = try Driver("""
            {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.detail.items",
              "ItemSelector": {"index.$": "$$.Map.Item.Index", "item.$": "$$.Map.Item.Value", "ship.$": "$.detail.shipped"},
              "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "ResultPath": "$.detail.processed", "End": true}}}
            """)
        d.run(["detail": ["shipped": "yes", "items": [["p": 1], ["p": 2]]]])
        #expect(d.output?["detail"]?["processed"] == [["index": 0, "item": ["p": 1], "ship": "yes"], ["index": 1, "item": ["p": 2], "ship": "yes"]])
    }

    @Test func legacyMapParametersAndIterator() throws {
        var d = try Driver("""
            {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.xs",
              "Parameters": {"n.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
              "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Pass", "OutputPath": "$.n", "End": true}}}, "End": true}}}
            """)
        d.run(["xs": ["a", "b", "c"]])
        #expect(d.output == ["a", "b", "c"])
    }
}
