import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwellInvoker
import SwellModel
import SwellStore
import SwellWorkflow

/// The Step Functions API (JSON 1.0: `POST /` with `X-Amz-Target: AWSStepFunctions.<Action>`)
/// over Swell's workflows: state machines are workflows, executions are their executions.
/// Every request runs behind ``SigV4Middleware`` (service `states`); errors answer in AWS's shape.
struct StepFunctionsRoutes {
    let engine: WorkflowEngine

    /// Definitions are up to 1 MB, inputs up to 256 KB (as on AWS), in a JSON envelope.
    static let bodyLimit = 2 << 20
    /// Longest a StartSyncExecution waits (as an Express workflow's limit).
    static let syncWaitSeconds = 300.0
    static let contentType = "application/x-amz-json-1.0"

    /// The actions this front serves, as `X-Amz-Target` names them.
    enum Action: String, CaseIterable {
        case createStateMachine = "CreateStateMachine"
        case updateStateMachine = "UpdateStateMachine"
        case describeStateMachine = "DescribeStateMachine"
        case listStateMachines = "ListStateMachines"
        case deleteStateMachine = "DeleteStateMachine"
        case startExecution = "StartExecution"
        case startSyncExecution = "StartSyncExecution"
        case describeExecution = "DescribeExecution"
        case listExecutions = "ListExecutions"
        case getExecutionHistory = "GetExecutionHistory"
        case stopExecution = "StopExecution"
        case redriveExecution = "RedriveExecution"
        case sendTaskSuccess = "SendTaskSuccess"
        case sendTaskFailure = "SendTaskFailure"
        case sendTaskHeartbeat = "SendTaskHeartbeat"

        /// The action an `X-Amz-Target` names.
        /// - Throws: `UnknownOperationException` for another service's target or an action Swell lacks.
        static func parse(_ target: String?) throws(AWSError) -> Action {
            guard let target, target.hasPrefix("AWSStepFunctions.") else {
                throw AWSError(sfn: .unknownOperation, "X-Amz-Target must name a Step Functions action (AWSStepFunctions.<Action>; got \(target ?? "none"))")
            }
            let name = String(target.dropFirst("AWSStepFunctions.".count))
            guard let action = Action(rawValue: name) else {
                throw AWSError(
                    sfn: .unknownOperation, "Swell does not support the Step Functions action \(name); docs/aws.md lists the supported ones")
            }
            return action
        }
    }

    func register(on router: Router<SwellRequestContext>, catalog: Catalog, keys: any AWSKeyStorage) {
        let group = router.group().add(
            middleware: SigV4Middleware(catalog: catalog, keys: keys, service: "states", bodyLimit: Self.bodyLimit, signingKeys: SigningKeyCache()))
        group.post("/") { request, ctx in
            let action = try Action.parse(request.headers[.amzTarget])
            var request = request
            let buffer = try await request.collectBody(upTo: Self.bodyLimit)
            let body = try SFNBody(buffer)
            do {
                return try Self.response(try await handle(action, body, ctx))
            } catch let error as SwellError {
                throw AWSError(sfnMapping: error)
            }
        }
    }

    func handle(_ action: Action, _ body: SFNBody, _ ctx: SwellRequestContext) async throws -> JSON {
        let principal = try ctx.requirePrincipal()
        switch action {
        case .createStateMachine: return try await createStateMachine(body, ctx)
        case .updateStateMachine: return try await updateStateMachine(body, ctx)
        case .describeStateMachine:
            let arn = try StateMachineARN.parse(try body.required("stateMachineArn"))
            _ = try ctx.authorize(arn.namespace, .developer)
            guard arn.qualifier == nil else {
                throw AWSError(sfn: .validation, "Swell describes unqualified state machines only (got qualifier \(arn.qualifier!))")
            }
            let record = try await requireMachine(arn)
            return Self.machineJSON(record)
        case .listStateMachines:
            _ = try ctx.authorize(principal.namespace, .developer)
            let limit = try body.int("maxResults", range: 0...1000) ?? 0
            let after = try body.string("nextToken")
            var all = try await engine.store.workflows(namespace: principal.namespace)
            if let after { all = all.filter { $0.name > after } }
            let page = Array(all.prefix(limit == 0 ? 100 : limit))
            var o = JSONObject()
            o["stateMachines"] = .array(page.map { r in
                [
                    "stateMachineArn": .string(LambdaARN.stateMachine(r.namespace, r.name)), "name": .string(r.name), "type": "STANDARD",
                    "creationDate": Self.date(r.createdAt),
                ]
            })
            if page.count < all.count, let last = page.last { o["nextToken"] = .string(last.name) }
            return .object(o)
        case .deleteStateMachine:
            let arn = try StateMachineARN.parse(try body.required("stateMachineArn"))
            _ = try ctx.authorize(arn.namespace, .developer)
            guard arn.qualifier == nil else { throw AWSError(sfn: .validation, "Swell deletes whole state machines only (got qualifier \(arn.qualifier!))") }
            if await engine.hasOpenExecutions(namespace: arn.namespace, workflow: arn.name) {
                throw AWSError(sfn: .validation, "Swell does not delete a state machine with running executions (\(arn.text)); stop them first")
            }
            // Deleting one that does not exist succeeds, as on AWS.
            _ = try await engine.store.deleteWorkflow(namespace: arn.namespace, name: arn.name)
            return .object(JSONObject())
        case .startExecution, .startSyncExecution:
            return try await start(body, ctx, sync: action == .startSyncExecution)
        case .describeExecution:
            let arn = try ExecutionARN.parse(try body.required("executionArn"))
            _ = try ctx.authorize(arn.namespace, .developer)
            return Self.executionJSON(try await requireExecution(arn), full: true)
        case .listExecutions: return try await listExecutions(body, ctx)
        case .getExecutionHistory: return try await history(body, ctx)
        case .stopExecution: return try await stop(body, ctx)
        case .redriveExecution: return try await redrive(body, ctx)
        case .sendTaskSuccess, .sendTaskFailure, .sendTaskHeartbeat: return try await callback(action, body, ctx)
        }
    }

    func stop(_ body: SFNBody, _ ctx: SwellRequestContext) async throws -> JSON {
        let arn = try ExecutionARN.parse(try body.required("executionArn"))
        _ = try ctx.authorize(arn.namespace, .developer)
        let error = try body.string("error")
        let cause = try body.string("cause")
        let result = await Self.outcome { () async throws(SwellError) in try await engine.stop(id: arn.id, error: error, cause: cause) }
        switch result {
        case .success(let record): return ["stopDate": Self.date(record.stoppedAt ?? Date())]
        case .failure(let e) where e.code == .notFound: throw AWSError(sfn: .executionDoesNotExist, "Execution Does Not Exist: '\(arn.text)'")
        case .failure(let e) where e.code == .conflict:
            // Already ended: report when it stopped.
            let record = try await requireExecution(arn)
            return ["stopDate": Self.date(record.stoppedAt ?? Date())]
        case .failure(let e): throw e
        }
    }

    func redrive(_ body: SFNBody, _ ctx: SwellRequestContext) async throws -> JSON {
        let arn = try ExecutionARN.parse(try body.required("executionArn"))
        _ = try ctx.authorize(arn.namespace, .developer)
        let before = try await requireExecution(arn)
        guard before.status == .failed || before.status == .aborted || before.status == .timedOut else {
            throw AWSError(sfn: .executionNotRedrivable, "Execution \(arn.text) is \(before.status.rawValue); only FAILED, ABORTED and TIMED_OUT executions can be redriven")
        }
        let result = await Self.outcome { () async throws(SwellError) in try await engine.redrive(id: arn.id) }
        switch result {
        case .success: return ["redriveDate": Self.date(Date())]
        case .failure(let e) where e.code == .conflict || e.code == .notFound: throw AWSError(sfn: .executionNotRedrivable, e.message)
        case .failure(let e): throw e
        }
    }

    func callback(_ action: Action, _ body: SFNBody, _ ctx: SwellRequestContext) async throws -> JSON {
        let ns = try ctx.requirePrincipal().namespace
        _ = try ctx.authorize(ns, .invoker)
        let token = try body.required("taskToken")
        guard (1...1024).contains(token.utf8.count) else { throw AWSError(sfn: .invalidToken, "taskToken must be 1-1024 characters") }
        var outcome: Result<JSON, StatesError>?
        if action == .sendTaskSuccess {
            let text = try body.required("output")
            guard let output = try? JSON(parsing: text) else { throw AWSError(sfn: .invalidOutput, "output is not valid JSON text") }
            outcome = .success(output)
        } else if action == .sendTaskFailure {
            outcome = .failure(StatesError(try body.string("error") ?? "", try body.string("cause") ?? ""))
        }
        let send = outcome
        let result = await Self.outcome { () async throws(SwellError) in
            if let send {
                try await engine.sendTaskResult(namespace: ns, token: token, outcome: send)
            } else {
                try await engine.sendTaskHeartbeat(namespace: ns, token: token)
            }
        }
        switch result {
        case .success: return .object(JSONObject())
        case .failure(let e) where e.code == .notFound:
            throw AWSError(sfn: .taskDoesNotExist, "No task waits for this token: it does not exist, has ended or timed out")
        case .failure(let e): throw e
        }
    }

    /// The outcome of an engine call, as a value.
    static func outcome<T>(_ call: () async throws(SwellError) -> T) async -> Result<T, SwellError> {
        do { return .success(try await call()) } catch { return .failure(error) }
    }

    // MARK: State machines

    func createStateMachine(_ body: SFNBody, _ ctx: SwellRequestContext) async throws -> JSON {
        let principal = try ctx.authorize(try ctx.requirePrincipal().namespace, .developer)
        let ns = principal.namespace
        let name = try body.required("name")
        guard Names.isFunctionName(name) else {
            throw AWSError(sfn: .invalidName, "Invalid Name: '\(name)' (Swell names are 1-64 characters of A-Z, a-z, 0-9, - and _)")
        }
        try Self.checkType(body)
        let definition = try Self.definition(try body.required("definition"))
        if let existing = try await engine.store.workflow(namespace: ns, name: name) {
            // The same definition again is answered as the first create was (as AWS does).
            guard existing.definition == definition else {
                throw AWSError(sfn: .stateMachineAlreadyExists, "State Machine Already Exists: '\(LambdaARN.stateMachine(ns, name))'")
            }
            return ["stateMachineArn": .string(LambdaARN.stateMachine(ns, name)), "creationDate": Self.date(existing.createdAt)]
        }
        let (record, _) = try await engine.store.putWorkflow(namespace: ns, name: name, definition: definition)
        var o = JSONObject()
        o["stateMachineArn"] = .string(LambdaARN.stateMachine(ns, name))
        o["creationDate"] = Self.date(record.createdAt)
        if try body.bool("publish") == true {
            o["stateMachineVersionArn"] = .string(try await publish(ns, name, description: try body.string("versionDescription") ?? ""))
        }
        return .object(o)
    }

    func updateStateMachine(_ body: SFNBody, _ ctx: SwellRequestContext) async throws -> JSON {
        let arn = try StateMachineARN.parse(try body.required("stateMachineArn"))
        _ = try ctx.authorize(arn.namespace, .developer)
        guard arn.qualifier == nil else { throw AWSError(sfn: .validation, "update the unqualified state machine (got qualifier \(arn.qualifier!))") }
        var record = try await requireMachine(arn)
        if let text = try body.string("definition") {
            // The workflow's triggers (manifest or Swell API) stay as they are.
            (record, _) = try await engine.store.putWorkflow(
                namespace: arn.namespace, name: arn.name, definition: try Self.definition(text), triggers: record.triggers)
        }
        var o = JSONObject()
        o["updateDate"] = Self.date(record.updatedAt)
        o["revisionId"] = .string(String(record.revision))
        if try body.bool("publish") == true {
            o["stateMachineVersionArn"] = .string(try await publish(arn.namespace, arn.name, description: try body.string("versionDescription") ?? ""))
        }
        return .object(o)
    }

    func publish(_ ns: String, _ name: String, description: String) async throws -> String {
        guard description.count <= 256 else { throw AWSError(sfn: .validation, "versionDescription must be at most 256 characters") }
        guard let (version, _) = try await engine.store.publishWorkflow(namespace: ns, name: name, description: description) else {
            throw AWSError(sfn: .stateMachineDoesNotExist, "State Machine Does Not Exist: '\(LambdaARN.stateMachine(ns, name))'")
        }
        return LambdaARN.stateMachine(ns, name) + ":\(version.version)"
    }

    func requireMachine(_ arn: StateMachineARN) async throws -> WorkflowRecord {
        guard let record = try await engine.store.workflow(namespace: arn.namespace, name: arn.name) else {
            throw AWSError(sfn: .stateMachineDoesNotExist, "State Machine Does Not Exist: '\(arn.text)'")
        }
        return record
    }

    /// Swell's workflows are all durable: STANDARD. EXPRESS is refused rather than misreported.
    static func checkType(_ body: SFNBody) throws {
        if let type = try body.string("type"), type != "STANDARD" {
            throw AWSError(
                sfn: .validation,
                "Swell runs STANDARD state machines only (got type \(type)); StartSyncExecution works on them")
        }
    }

    /// The definition's JSON text, checked by Swell's States Language parser.
    static func definition(_ text: String) throws -> String {
        do {
            return try WorkflowRoutes.validatedDefinition(.string(text), path: "definition")
        } catch {
            throw AWSError(sfn: .invalidDefinition, "Invalid State Machine Definition: '\(error.message)'")
        }
    }

    // MARK: Executions

    func start(_ body: SFNBody, _ ctx: SwellRequestContext, sync: Bool) async throws -> JSON {
        let arn = try StateMachineARN.parse(try body.required("stateMachineArn"))
        _ = try ctx.authorize(arn.namespace, .invoker)
        let name = try body.string("name")
        if let name, !Names.isFunctionName(name) {
            throw AWSError(sfn: .invalidName, "Invalid Name: '\(name)' (Swell names are 1-64 characters of A-Z, a-z, 0-9, - and _)")
        }
        var input: JSON = .object(JSONObject())
        if let text = try body.string("input") {
            guard text.utf8.count <= 256 << 10 else { throw AWSError(sfn: .invalidExecutionInput, "input is larger than 256 KB") }
            do { input = try JSON(parsing: text) } catch { throw AWSError(sfn: .invalidExecutionInput, "Invalid Execution Input: \(error)") }
        }
        let started = await Self.outcome { () async throws(SwellError) in
            try await engine.start(namespace: arn.namespace, workflow: arn.name, qualifier: arn.qualifier, name: name, input: input).0
        }
        let record: ExecutionRecord
        switch started {
        case .success(let r): record = r
        case .failure(let e) where e.code == .notFound: throw AWSError(sfn: .stateMachineDoesNotExist, "State Machine Does Not Exist: '\(arn.text)'")
        case .failure(let e) where e.code == .conflict:
            throw AWSError(sfn: .executionAlreadyExists, "Execution Already Exists: '\(ExecutionARN.text(arn.namespace, arn.name, name ?? ""))'")
        case .failure(let e): throw e
        }
        guard sync else {
            return ["executionArn": .string(ExecutionARN.text(record)), "startDate": Self.date(record.startedAt)]
        }
        guard let ended = await engine.awaitEnd(id: record.id, seconds: Self.syncWaitSeconds), ended.status != .running else {
            // Swell keeps it running (it is durable); the answer says the wait ran out.
            var o = Self.executionJSON(record, full: true).objectValue ?? JSONObject()
            o["status"] = "TIMED_OUT"
            o["error"] = "States.Timeout"
            o["cause"] = .string("the execution is still running after \(Int(Self.syncWaitSeconds)) s; DescribeExecution follows it")
            o["stopDate"] = Self.date(Date())
            return .object(o)
        }
        var o = Self.executionJSON(ended, full: true).objectValue ?? JSONObject()
        o["redriveCount"] = nil
        o["redriveStatus"] = nil
        o["billingDetails"] = ["billedMemoryUsedInMB": 0, "billedDurationInMilliseconds": 0]
        return .object(o)
    }

    func requireExecution(_ arn: ExecutionARN) async throws -> ExecutionRecord {
        guard let record = try await engine.execution(id: arn.id) else {
            throw AWSError(sfn: .executionDoesNotExist, "Execution Does Not Exist: '\(arn.text)'")
        }
        return record
    }

    func listExecutions(_ body: SFNBody, _ ctx: SwellRequestContext) async throws -> JSON {
        guard let text = try body.string("stateMachineArn") else {
            throw AWSError(sfn: .validation, "stateMachineArn is required (Swell has no map runs)")
        }
        let arn = try StateMachineARN.parse(text)
        _ = try ctx.authorize(arn.namespace, .developer)
        _ = try await requireMachine(arn)
        var status: ExecutionStatus?
        if let s = try body.string("statusFilter") {
            guard let parsed = ExecutionStatus(rawValue: s) else {
                throw AWSError(sfn: .validation, "statusFilter must be one of \(ExecutionStatus.allCases.map(\.rawValue).joined(separator: ", ")) (got \(s))")
            }
            status = parsed
        }
        let limit = try body.int("maxResults", range: 0...1000).map { $0 == 0 ? 100 : $0 } ?? 100
        var before: (Date, String)?
        if let cursor = try body.string("nextToken") {
            let parts = cursor.split(separator: "_", maxSplits: 1)
            guard parts.count == 2, let t = Double(parts[0]) else { throw AWSError(sfn: .invalidToken, "nextToken is not one this API returned") }
            before = (Date(timeIntervalSince1970: t), String(parts[1]))
        }
        try? await engine.journal.flush()
        let page = try await engine.store.executions(namespace: arn.namespace, workflow: arn.name, status: status, before: before, limit: limit)
        var o = JSONObject()
        o["executions"] = .array(page.map { Self.executionJSON($0, full: false) })
        if page.count == limit, let last = page.last { o["nextToken"] = .string("\(last.startedAt.timeIntervalSince1970)_\(last.id)") }
        return .object(o)
    }

    func history(_ body: SFNBody, _ ctx: SwellRequestContext) async throws -> JSON {
        let arn = try ExecutionARN.parse(try body.required("executionArn"))
        _ = try ctx.authorize(arn.namespace, .developer)
        let record = try await requireExecution(arn)
        let limit = try body.int("maxResults", range: 0...1000).map { $0 == 0 ? 100 : $0 } ?? 100
        var offset = 0
        if let token = try body.string("nextToken") {
            guard let n = Int(token), n >= 0 else { throw AWSError(sfn: .invalidToken, "nextToken is not one this API returned") }
            offset = n
        }
        let reverse = try body.bool("reverseOrder") ?? false
        let includeData = try body.bool("includeExecutionData") ?? true
        try? await engine.journal.flush()
        var rows: [Data]
        if reverse {
            // Newest first: read them all (histories are bounded by the engine) and page from the end.
            rows = Array(try await engine.history(id: record.id, after: 0, limit: Int(Int32.max)).reversed())
            rows = Array(rows.dropFirst(offset).prefix(limit + 1))
        } else {
            rows = try await engine.history(id: record.id, after: offset, limit: limit + 1)
        }
        let more = rows.count > limit
        var events: [JSON] = []
        for row in rows.prefix(limit) {
            guard case .object(let e)? = try? JSON(parsing: Array(row)) else { continue }
            events.append(Self.historyEvent(e, includeData: includeData, roleArn: LambdaARN.role(arn.namespace)))
        }
        var o = JSONObject()
        o["events"] = .array(events)
        if more { o["nextToken"] = .string(String(offset + limit)) }
        return .object(o)
    }

    // MARK: Shapes

    static func response(_ value: JSON) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.serialized())))
    }

    /// Times as the JSON 1.0 protocol sends them: seconds since the epoch.
    static func date(_ date: Date) -> JSON { .number(.double((date.timeIntervalSince1970 * 1000).rounded() / 1000)) }

    static func machineJSON(_ r: WorkflowRecord) -> JSON {
        var o = JSONObject()
        o["stateMachineArn"] = .string(LambdaARN.stateMachine(r.namespace, r.name))
        o["name"] = .string(r.name)
        o["status"] = "ACTIVE"
        o["definition"] = .string(r.definition)
        o["roleArn"] = .string(LambdaARN.role(r.namespace))
        o["type"] = "STANDARD"
        o["creationDate"] = date(r.createdAt)
        o["revisionId"] = .string(String(r.revision))
        o["loggingConfiguration"] = ["level": "OFF", "includeExecutionData": false]
        o["tracingConfiguration"] = ["enabled": false]
        return .object(o)
    }

    static func executionJSON(_ r: ExecutionRecord, full: Bool) -> JSON {
        var o = JSONObject()
        o["executionArn"] = .string(ExecutionARN.text(r))
        o["stateMachineArn"] = .string(LambdaARN.stateMachine(r.namespace, r.workflow))
        o["name"] = .string(r.name)
        o["status"] = .string(r.status.rawValue)
        o["startDate"] = date(r.startedAt)
        if let stopped = r.stoppedAt { o["stopDate"] = date(stopped) }
        o["redriveCount"] = .int(r.redriveCount)
        if r.version != "$LATEST" { o["stateMachineVersionArn"] = .string(LambdaARN.stateMachine(r.namespace, r.workflow) + ":\(r.version)") }
        if full {
            o["input"] = .string(r.input)
            o["inputDetails"] = ["included": true]
            if let output = r.output {
                o["output"] = .string(output)
                o["outputDetails"] = ["included": true]
            }
            if let error = r.error { o["error"] = .string(error) }
            if let cause = r.cause { o["cause"] = .string(cause) }
            o["redriveStatus"] = r.status == .failed || r.status == .aborted || r.status == .timedOut ? "REDRIVABLE" : "NOT_REDRIVABLE"
        }
        return .object(o)
    }

    /// A Swell history event (`WorkflowEngine.historyJSON`) in the shape of the Step Functions
    /// `HistoryEvent`: its details under the member its type documents.
    static func historyEvent(_ e: JSONObject, includeData: Bool, roleArn: String) -> JSON {
        var o = JSONObject()
        let type = e["type"]?.stringValue ?? ""
        o["type"] = .string(type)
        o["id"] = e["id"] ?? 0
        o["previousEventId"] = e["previousEventId"] ?? 0
        o["timestamp"] = e["timestamp"] ?? .null
        func text(_ key: String) -> JSON? {
            guard let v = e[key] else { return nil }
            if case .string(let s) = v, key != "input", key != "output" && key != "parameters" { return .string(s) }
            return .string(v.serialized())
        }
        func data(_ key: String) -> [(String, JSON)] {
            guard includeData, let v = text(key) else { return [] }
            return [(key, v), ("\(key)Details", ["truncated": false])]
        }
        func errorFields() -> [(String, JSON)] { ["error", "cause"].compactMap { k in text(k).map { (k, $0) } } }
        func resourceFields() -> [(String, JSON)] {
            let raw = e["resource"]?.stringValue ?? ""
            let prefix = "arn:aws:states:::"
            if raw.hasPrefix(prefix), let colon = raw.dropFirst(prefix.count).firstIndex(of: ":") {
                return [("resourceType", .string(String(raw[raw.index(raw.startIndex, offsetBy: prefix.count)..<colon]))),
                        ("resource", .string(String(raw[raw.index(after: colon)...])))]
            }
            return [("resourceType", "lambda"), ("resource", .string(raw))]
        }
        var details: [(String, JSON)]?
        var member = ""
        switch type {
        case "ExecutionStarted":
            member = "executionStartedEventDetails"
            details = data("input") + [("roleArn", .string(roleArn))]
        case "ExecutionSucceeded":
            member = "executionSucceededEventDetails"
            details = data("output")
        case "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut":
            member = "execution\(type.dropFirst("Execution".count))EventDetails"
            details = errorFields()
        case "TaskScheduled":
            member = "taskScheduledEventDetails"
            details = resourceFields() + [("region", .string(LambdaARN.region))]
            if let p = e["parameters"] { details! += [("parameters", .string(p.serialized()))] }
            if let t = e["timeoutSeconds"] { details! += [("timeoutInSeconds", t)] }
            if let t = e["heartbeatSeconds"] { details! += [("heartbeatInSeconds", t)] }
        case "TaskStarted":
            member = "taskStartedEventDetails"
            details = resourceFields()
        case "TaskSubmitted", "TaskSucceeded":
            member = "task\(type.dropFirst("Task".count))EventDetails"
            details = resourceFields() + data("output")
        case "TaskFailed", "TaskTimedOut":
            member = "task\(type.dropFirst("Task".count))EventDetails"
            details = resourceFields() + errorFields()
        case "MapStateStarted":
            member = "mapStateStartedEventDetails"
            details = e["length"].map { [("length", $0)] } ?? []
        case "MapIterationStarted", "MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted":
            member = "\(type.prefix(1).lowercased())\(type.dropFirst())EventDetails"
            details = [e["name"].map { ("name", $0) }, e["index"].map { ("index", $0) }].compactMap { $0 }
        case _ where type.hasSuffix("StateEntered"):
            member = "stateEnteredEventDetails"
            details = [("name", e["name"] ?? "")] + data("input")
        case _ where type.hasSuffix("StateExited"):
            member = "stateExitedEventDetails"
            details = [("name", e["name"] ?? "")] + data("output")
        default:
            details = nil
        }
        if let details { o[member] = .object(JSONObject(details)) }
        return .object(o)
    }
}

/// `arn:aws:states:REGION:NAMESPACE:stateMachine:NAME[:VERSION_OR_ALIAS]`.
struct StateMachineARN {
    var namespace: String
    var name: String
    var qualifier: String?
    var text: String

    static func parse(_ raw: String) throws(AWSError) -> StateMachineARN {
        let p = raw.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (7...8).contains(p.count), p[0] == "arn", p[2] == "states", p[5] == "stateMachine", Names.isNamespaceName(p[4]),
            Names.isFunctionName(p[6])
        else {
            throw AWSError(sfn: .invalidArn, "Invalid Arn: '\(raw)' (arn:aws:states:swell:NAMESPACE:stateMachine:NAME[:QUALIFIER])")
        }
        var qualifier: String?
        if p.count == 8 {
            guard (Int(p[7]).map { $0 >= 1 } ?? false) || Names.isAliasName(p[7]) else {
                throw AWSError(sfn: .invalidArn, "Invalid Arn: '\(raw)' (the qualifier must be a version number or an alias name)")
            }
            qualifier = p[7]
        }
        return StateMachineARN(namespace: p[4], name: p[6], qualifier: qualifier, text: raw)
    }
}

/// `arn:aws:states:REGION:NAMESPACE:execution:STATE_MACHINE:NAME`.
struct ExecutionARN {
    var namespace: String
    var machine: String
    var name: String
    var text: String
    /// The engine's id of the execution.
    var id: String { "\(namespace)/\(machine)/\(name)" }

    static func text(_ namespace: String, _ machine: String, _ name: String) -> String {
        "arn:aws:states:\(LambdaARN.region):\(namespace):execution:\(machine):\(name)"
    }

    static func text(_ r: ExecutionRecord) -> String { text(r.namespace, r.workflow, r.name) }

    static func parse(_ raw: String) throws(AWSError) -> ExecutionARN {
        let p = raw.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard p.count == 8, p[0] == "arn", p[2] == "states", p[5] == "execution", Names.isNamespaceName(p[4]), Names.isFunctionName(p[6]),
            Names.isFunctionName(p[7])
        else {
            throw AWSError(sfn: .invalidArn, "Invalid Arn: '\(raw)' (arn:aws:states:swell:NAMESPACE:execution:STATE_MACHINE:NAME)")
        }
        return ExecutionARN(namespace: p[4], machine: p[6], name: p[7], text: raw)
    }
}

/// A JSON 1.0 request body: an object of the action's members.
struct SFNBody {
    let fields: JSONObject

    init(_ buffer: ByteBuffer) throws(AWSError) {
        guard buffer.readableBytes > 0 else {
            fields = JSONObject()
            return
        }
        guard case .object(let o)? = try? JSON(parsing: Array(buffer.readableBytesView)) else {
            throw AWSError(sfn: .serialization, "the request body must be a JSON object")
        }
        fields = o
    }

    func string(_ key: String) throws(AWSError) -> String? {
        guard let v = fields[key], v != .null else { return nil }
        guard let s = v.stringValue else { throw AWSError(sfn: .validation, "1 validation error detected: \(key) must be a string") }
        return s
    }

    func required(_ key: String) throws(AWSError) -> String {
        guard let s = try string(key), !s.isEmpty else { throw AWSError(sfn: .validation, "1 validation error detected: \(key) is required") }
        return s
    }

    func bool(_ key: String) throws(AWSError) -> Bool? {
        guard let v = fields[key], v != .null else { return nil }
        guard let b = v.boolValue else { throw AWSError(sfn: .validation, "1 validation error detected: \(key) must be a boolean") }
        return b
    }

    func int(_ key: String, range: ClosedRange<Int>) throws(AWSError) -> Int? {
        guard let v = fields[key], v != .null else { return nil }
        guard case .number(let number) = v, let n = number.exactInt, range.contains(n) else {
            throw AWSError(sfn: .validation, "1 validation error detected: \(key) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }
}

/// The error codes of the Step Functions API reference that Swell answers with.
enum SFNErrorCode: String {
    case stateMachineDoesNotExist = "StateMachineDoesNotExist"
    case stateMachineAlreadyExists = "StateMachineAlreadyExists"
    case executionDoesNotExist = "ExecutionDoesNotExist"
    case executionAlreadyExists = "ExecutionAlreadyExists"
    case executionNotRedrivable = "ExecutionNotRedrivable"
    case invalidDefinition = "InvalidDefinition"
    case invalidArn = "InvalidArn"
    case invalidName = "InvalidName"
    case invalidToken = "InvalidToken"
    case invalidOutput = "InvalidOutput"
    case invalidExecutionInput = "InvalidExecutionInput"
    case taskDoesNotExist = "TaskDoesNotExist"
    case validation = "ValidationException"
    case unknownOperation = "UnknownOperationException"
    case serialization = "SerializationException"
    case throttling = "ThrottlingException"
    case accessDenied = "AccessDeniedException"
    case internalFailure = "InternalFailure"
}

extension AWSError {
    /// A Step Functions error: a client error answers 400, as the JSON 1.0 services do.
    init(sfn code: SFNErrorCode, _ message: String, status: Int = 400) {
        self.init(.invalidParameterValue, status, message)
        self.code = code.rawValue
    }

    /// Swell's own errors, as the Step Functions API names their kinds.
    init(sfnMapping error: SwellError) {
        switch error.code {
        case .notFound: self.init(sfn: .validation, error.description)
        case .conflict, .invalidField, .invalidRequest, .payloadTooLarge: self.init(sfn: .validation, error.description)
        case .invalidJSON: self.init(sfn: .serialization, error.description)
        case .unauthorized, .forbidden: self.init(sfn: .accessDenied, error.description)
        case .throttled:
            self.init(sfn: .throttling, error.description)
            retryAfter = error.retryAfter ?? 1
        case .internal: self.init(sfn: .internalFailure, error.description, status: 500)
        }
    }
}

extension HTTPField.Name {
    static let amzTarget = HTTPField.Name("X-Amz-Target")!
}
