import Foundation
import Hummingbird
import NIOCore
import SwellModel
import SwellStore
import SwellTasks
import SwellWorkflow

/// `/v1/namespaces/{ns}/workflows…`: definitions (put, get, list, delete), executions (start,
/// describe, list by status, history, stop, redrive) and `/v1/namespaces/{ns}/workflow-tasks/…`
/// (the task-token callbacks of `.waitForTaskToken` tasks).
struct WorkflowRoutes {
    let engine: WorkflowEngine

    /// Longest `wait=true` start, in seconds (then the answer is 202 with the running execution).
    static let maxWaitSeconds = 300.0

    func register(on group: RouterGroup<SwellRequestContext>) {
        group.get("namespaces/:ns/workflows") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let list = try await engine.store.workflows(namespace: ns)
            return try Self.json(["workflows": .array(list.map { Self.workflowJSON($0, definition: false) })])
        }
        group.put("namespaces/:ns/workflows/:name") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let name = try Self.workflowName(ctx)
            var request = request
            let body = try await Self.body(&request)
            guard case .object(let fields) = body else { throw SwellError.invalid("", "the body must be an object with a definition") }
            for key in fields.keys where key != "definition" && key != "triggers" { throw SwellError.invalid(key, "unknown field") }
            guard let definition = fields["definition"] else { throw SwellError.invalid("definition", "is required") }
            let text = try Self.validatedDefinition(definition, path: "definition")
            let triggers = try Self.validatedTriggers(fields["triggers"])
            // As a function's: a trigger's qualifier must name a version or alias that exists.
            for (i, t) in triggers.enumerated() where t.qualifier != "$LATEST" {
                guard (try? await engine.store.resolveWorkflow(namespace: ns, name: name, qualifier: t.qualifier)) != nil else {
                    throw SwellError.invalid("triggers[\(i)].qualifier", "workflow \(name) has no version or alias \(t.qualifier) (publish one first)")
                }
            }
            let (record, changed) = try await engine.store.putWorkflow(namespace: ns, name: name, definition: text, triggers: triggers)
            var out = Self.workflowJSON(record, definition: true)
            if case .object(var o) = out {
                o["changed"] = .bool(changed)
                out = .object(o)
            }
            return try Self.json(["workflow": out], status: changed && record.revision == 1 ? .created : .ok)
        }
        group.get("namespaces/:ns/workflows/:name") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let name = try Self.workflowName(ctx)
            guard let record = try await engine.store.workflow(namespace: ns, name: name) else {
                throw SwellError.notFound("workflow \(name) does not exist in namespace \(ns)")
            }
            return try Self.json(["workflow": Self.workflowJSON(record, definition: true)])
        }
        group.delete("namespaces/:ns/workflows/:name") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let name = try Self.workflowName(ctx)
            if await engine.hasOpenExecutions(namespace: ns, workflow: name) {
                throw SwellError(.conflict, "workflow \(name) has running executions; stop them first")
            }
            guard try await engine.store.deleteWorkflow(namespace: ns, name: name) else {
                throw SwellError.notFound("workflow \(name) does not exist in namespace \(ns)")
            }
            return Response(status: .noContent)
        }

        // Executions
        group.post("namespaces/:ns/workflows/:name/executions") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .invoker)
            let workflow = try Self.workflowName(ctx)
            let q = request.uri.queryParameters
            let wait = q.get("wait").map { $0 == "true" || $0 == "1" } ?? false
            var timeout = Self.maxWaitSeconds
            if let t = q.get("timeout") {
                guard let seconds = Double(String(t)), seconds > 0, seconds <= Self.maxWaitSeconds else {
                    throw SwellError.invalid("timeout", "must be a number of seconds above 0 and at most \(Int(Self.maxWaitSeconds)) (got \"\(t)\")")
                }
                timeout = seconds
            }
            var request = request
            let body = try await Self.body(&request, limit: 256 << 10)
            var input: JSON = .object(JSONObject())
            var name: String?
            if case .object(let fields) = body {
                for key in fields.keys where key != "input" && key != "name" { throw SwellError.invalid(key, "unknown field") }
                input = fields["input"] ?? .object(JSONObject())
                if let n = fields["name"] {
                    guard let s = n.stringValue else { throw SwellError.invalid("name", "must be a string") }
                    name = s
                }
            } else if body != .null {
                throw SwellError.invalid("", "the body must be an object: {\"input\": …, \"name\": …}")
            }
            var qualifier: String?
            if let q = request.uri.queryParameters.get("qualifier") {
                let text = String(q)
                guard text == "$LATEST" || (Int(text).map { $0 >= 1 } ?? false) || Names.isAliasName(text) else {
                    throw SwellError.invalid("qualifier", "must be $LATEST, a version number or an alias name (got \"\(text)\")")
                }
                qualifier = text
            }
            let (record, created) = try await engine.start(namespace: ns, workflow: workflow, qualifier: qualifier, name: name, input: input)
            if wait {
                if let ended = await engine.awaitEnd(id: record.id, seconds: timeout), ended.status != .running {
                    return try Self.json(["execution": Self.executionJSON(ended)])
                }
                let now = try await engine.execution(id: record.id) ?? record
                return try Self.json(["execution": Self.executionJSON(now)], status: .accepted)
            }
            return try Self.json(["execution": Self.executionJSON(record)], status: created ? .created : .ok)
        }
        group.get("namespaces/:ns/workflows/:name/executions") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let workflow = try Self.workflowName(ctx)
            let q = request.uri.queryParameters
            var status: ExecutionStatus?
            if let s = q.get("status") {
                guard let parsed = ExecutionStatus(rawValue: String(s)) else {
                    throw SwellError.invalid("status", "must be one of \(ExecutionStatus.allCases.map(\.rawValue).joined(separator: ", ")) (got \"\(s)\")")
                }
                status = parsed
            }
            let limit = try int(q.get("limit").map { String($0) }, field: "limit", range: 1...1000) ?? 100
            var before: (Date, String)?
            if let cursor = q.get("cursor") {
                let parts = cursor.split(separator: "_", maxSplits: 1)
                guard parts.count == 2, let t = Double(parts[0]) else { throw SwellError.invalid("cursor", "is not a cursor this API returned") }
                before = (Date(timeIntervalSince1970: t), String(parts[1]))
            }
            try? await engine.journal.flush()
            let page = try await engine.store.executions(namespace: ns, workflow: workflow, status: status, before: before, limit: limit)
            let next: JSON = page.count == limit ? page.last.map { .string("\($0.startedAt.timeIntervalSince1970)_\($0.id)") } ?? .null : .null
            return try Self.json(["executions": .array(page.map { Self.executionJSON($0, full: false) }), "nextCursor": next])
        }
        group.get("namespaces/:ns/workflows/:name/executions/:execution") { _, ctx in
            let id = try Self.executionID(ctx, role: .developer)
            guard let record = try await engine.execution(id: id) else { throw SwellError.notFound("execution \(id) does not exist") }
            return try Self.json(["execution": Self.executionJSON(record)])
        }
        group.get("namespaces/:ns/workflows/:name/executions/:execution/history") { request, ctx in
            let id = try Self.executionID(ctx, role: .developer)
            let q = request.uri.queryParameters
            let limit = try int(q.get("limit").map { String($0) }, field: "limit", range: 1...10000) ?? 1000
            let after = try int(q.get("cursor").map { String($0) }, field: "cursor", range: 0...Int.max) ?? 0
            guard try await engine.execution(id: id) != nil else { throw SwellError.notFound("execution \(id) does not exist") }
            try? await engine.journal.flush()
            let events = try await engine.history(id: id, after: after, limit: limit)
            // Stored as the API shows them: written out as they are.
            var body = ByteBuffer(string: "{\"events\":[")
            for (i, e) in events.enumerated() {
                if i > 0 { body.writeString(",") }
                body.writeBytes(e)
            }
            let next = events.count == limit ? after + limit : nil
            body.writeString("],\"nextCursor\":\(next.map { "\"\($0)\"" } ?? "null")}")
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
        }
        group.post("namespaces/:ns/workflows/:name/executions/:execution/stop") { request, ctx in
            let id = try Self.executionID(ctx, role: .developer)
            var request = request
            let body = try await Self.body(&request)
            var error: String?
            var cause: String?
            if case .object(let fields) = body {
                for key in fields.keys where key != "error" && key != "cause" { throw SwellError.invalid(key, "unknown field") }
                error = try Self.optionalString(fields["error"], "error")
                cause = try Self.optionalString(fields["cause"], "cause")
            }
            let record = try await engine.stop(id: id, error: error, cause: cause)
            return try Self.json(["execution": Self.executionJSON(record)])
        }
        group.post("namespaces/:ns/workflows/:name/executions/:execution/redrive") { _, ctx in
            let id = try Self.executionID(ctx, role: .developer)
            let record = try await engine.redrive(id: id)
            return try Self.json(["execution": Self.executionJSON(record)], status: .accepted)
        }

        // Versions and aliases
        group.post("namespaces/:ns/workflows/:name/versions") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let name = try Self.workflowName(ctx)
            var request = request
            let body = try await Self.body(&request)
            var description = ""
            if case .object(let fields) = body {
                for key in fields.keys where key != "description" { throw SwellError.invalid(key, "unknown field") }
                description = try Self.optionalString(fields["description"], "description") ?? ""
                guard description.count <= 256 else { throw SwellError.invalid("description", "must be at most 256 characters") }
            } else if body != .null {
                throw SwellError.invalid("", "the body must be an object: {\"description\": …}")
            }
            guard let (version, created) = try await engine.store.publishWorkflow(namespace: ns, name: name, description: description) else {
                throw SwellError.notFound("workflow \(name) does not exist in namespace \(ns)")
            }
            return try Self.json(["version": Self.versionJSON(version)], status: created ? .created : .ok)
        }
        group.get("namespaces/:ns/workflows/:name/versions") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let name = try Self.workflowName(ctx)
            guard try await engine.store.workflow(namespace: ns, name: name) != nil else {
                throw SwellError.notFound("workflow \(name) does not exist in namespace \(ns)")
            }
            let versions = try await engine.store.workflowVersions(namespace: ns, name: name)
            return try Self.json(["versions": .array(versions.map(Self.versionJSON))])
        }
        group.get("namespaces/:ns/workflows/:name/aliases") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let name = try Self.workflowName(ctx)
            guard try await engine.store.workflow(namespace: ns, name: name) != nil else {
                throw SwellError.notFound("workflow \(name) does not exist in namespace \(ns)")
            }
            let aliases = try await engine.store.workflowAliases(namespace: ns, workflow: name)
            return try Self.json(["aliases": .array(aliases.map(Self.aliasJSON))])
        }
        group.put("namespaces/:ns/workflows/:name/aliases/:alias") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let name = try Self.workflowName(ctx)
            let alias = try Self.aliasName(ctx)
            var request = request
            let body = try await Self.body(&request)
            guard case .object = body else { throw SwellError.invalid("version", "is required") }
            // A function alias's body and rules: a version, at most one more with a weight in (0, 1).
            let config = try AliasConfig.parse(try Self.configValue(body, field: "body"))
            guard try await engine.store.workflow(namespace: ns, name: name) != nil else {
                throw SwellError.notFound("workflow \(name) does not exist in namespace \(ns)")
            }
            let published = Set(try await engine.store.workflowVersions(namespace: ns, name: name).map(\.version))
            guard published.contains(config.version) else {
                throw SwellError.invalid("version", "workflow \(name) has no version \(config.version)")
            }
            for v in config.additionalVersionWeights.keys.sorted() where !published.contains(v) {
                throw SwellError.invalid("additionalVersionWeights.\(v)", "workflow \(name) has no published version \(v)")
            }
            let record = WorkflowAliasRecord(
                namespace: ns, workflow: name, name: alias, version: config.version,
                additionalVersionWeights: config.additionalVersionWeights, description: config.description)
            guard try await engine.store.putWorkflowAlias(record) else {
                throw SwellError.invalid("version", "workflow \(name) has no version \(config.version)")
            }
            return try Self.json(["alias": Self.aliasJSON(record)])
        }
        group.delete("namespaces/:ns/workflows/:name/aliases/:alias") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let name = try Self.workflowName(ctx)
            let alias = try Self.aliasName(ctx)
            guard try await engine.store.deleteWorkflowAlias(namespace: ns, workflow: name, name: alias) else {
                throw SwellError.notFound("workflow \(name) has no alias \(alias)")
            }
            return Response(status: .noContent)
        }

        // Task-token callbacks
        group.post("namespaces/:ns/workflow-tasks/:verb") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .invoker)
            var request = request
            let body = try await Self.body(&request, limit: 256 << 10)
            guard case .object(let fields) = body else { throw SwellError.invalid("taskToken", "is required") }
            guard let token = fields["taskToken"]?.stringValue, !token.isEmpty else { throw SwellError.invalid("taskToken", "is required (a string)") }
            switch ctx.parameters.get("verb") ?? "" {
            case "success":
                for key in fields.keys where key != "taskToken" && key != "output" { throw SwellError.invalid(key, "unknown field") }
                var output = fields["output"] ?? .object(JSONObject())
                // AWS takes the output as JSON text: accept both.
                if case .string(let text) = output, let parsed = try? JSON(parsing: text) { output = parsed }
                try await engine.sendTaskResult(namespace: ns, token: token, outcome: .success(output))
            case "failure":
                for key in fields.keys where !["taskToken", "error", "cause"].contains(key) { throw SwellError.invalid(key, "unknown field") }
                let error = try Self.optionalString(fields["error"], "error") ?? ""
                let cause = try Self.optionalString(fields["cause"], "cause") ?? ""
                try await engine.sendTaskResult(namespace: ns, token: token, outcome: .failure(StatesError(error, cause)))
            case "heartbeat":
                for key in fields.keys where key != "taskToken" { throw SwellError.invalid(key, "unknown field") }
                try await engine.sendTaskHeartbeat(namespace: ns, token: token)
            case let other:
                throw SwellError.notFound("no task callback \"\(other)\" (success, failure or heartbeat)")
            }
            return try Self.json(["accepted": true])
        }
    }

    // MARK: Helpers

    /// Starts an execution for a `workflow:` async destination, with the destination record as input.
    static func destinationStarter(_ engine: WorkflowEngine) -> WorkflowStarter {
        { namespace, workflow, record in
            let input = (try? JSON(parsing: Array(record))) ?? .string(String(decoding: record, as: UTF8.self))
            _ = try await engine.start(namespace: namespace, workflow: workflow, name: nil, input: input)
        }
    }

    static func workflowName(_ ctx: SwellRequestContext) throws(SwellError) -> String {
        let name = ctx.parameters.get("name") ?? ""
        guard Names.isFunctionName(name) else {
            throw SwellError.invalid("name", "workflow names are 1-64 characters of A-Z, a-z, 0-9, - and _ (got \"\(name)\")")
        }
        return name
    }

    static func aliasName(_ ctx: SwellRequestContext) throws(SwellError) -> String {
        let alias = ctx.parameters.get("alias") ?? ""
        guard Names.isAliasName(alias) else {
            throw SwellError.invalid("alias", "alias names are a letter then up to 63 of A-Z, a-z, 0-9, - and _ (got \"\(alias)\")")
        }
        return alias
    }

    static func versionJSON(_ v: WorkflowVersionRecord) -> JSON {
        var o = JSONObject()
        o["workflow"] = .string(v.workflow)
        o["version"] = .string(String(v.version))
        o["description"] = .string(v.description)
        o["publishedAt"] = .string(Timestamps.iso8601(v.publishedAt))
        o["definition"] = (try? JSON(parsing: v.definition)) ?? .string(v.definition)
        return .object(o)
    }

    static func aliasJSON(_ a: WorkflowAliasRecord) -> JSON {
        var o = JSONObject([("workflow", .string(a.workflow)), ("name", .string(a.name)), ("version", .string(String(a.version)))])
        var weights = JSONObject()
        for (v, w) in a.additionalVersionWeights.sorted(by: { $0.key < $1.key }) { weights[String(v)] = .double(w) }
        o["additionalVersionWeights"] = .object(weights)
        if !a.description.isEmpty { o["description"] = .string(a.description) }
        return .object(o)
    }

    static func executionID(_ ctx: SwellRequestContext, role: Role) throws(SwellError) -> String {
        let ns = try namespace(ctx)
        _ = try ctx.authorize(ns, role)
        let workflow = try workflowName(ctx)
        let execution = ctx.parameters.get("execution") ?? ""
        guard Names.isFunctionName(execution) else {
            throw SwellError.invalid("execution", "execution names are 1-64 characters of A-Z, a-z, 0-9, - and _ (got \"\(execution)\")")
        }
        return "\(ns)/\(workflow)/\(execution)"
    }

    /// Checks a definition (a JSON object, or its text) and returns its JSON text.
    /// - Throws: 400 naming the path of the first fault, every fault in the message.
    static func validatedDefinition(_ value: JSON, path: String) throws(SwellError) -> String {
        var definition = value
        if case .string(let text) = value {
            do { definition = try JSON(parsing: text) } catch { throw SwellError.invalid(path, "\(path): not valid JSON: \(error)") }
        }
        guard case .object = definition else { throw SwellError.invalid(path, "\(path): must be an object (a States Language definition)") }
        do {
            _ = try StateMachine(json: definition)
        } catch {
            let faults = error.faults.map { $0.path.isEmpty ? "\(path): \($0.message)" : "\(path).\($0.path): \($0.message)" }
            let first = error.faults.first.map { $0.path.isEmpty ? path : "\(path).\($0.path)" } ?? path
            throw SwellError.invalid(first, faults.joined(separator: "\n"))
        }
        return definition.serialized()
    }

    static func body(_ request: inout Request, limit: Int = 1 << 20) async throws -> JSON {
        let buffer = try await JSONBody.collect(&request, limit: limit)
        if buffer.readableBytes == 0 { return .null }
        do {
            return try JSON(parsing: Array(buffer.readableBytesView))
        } catch {
            throw SwellError(.invalidJSON, "the request body is not valid JSON: \(error)")
        }
    }

    static func optionalString(_ value: JSON?, _ field: String) throws(SwellError) -> String? {
        guard let value, value != .null else { return nil }
        guard let s = value.stringValue else { throw SwellError.invalid(field, "must be a string") }
        return s
    }

    static func json(_ value: JSON, status: HTTPResponse.Status = .ok) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.serialized())))
    }

    /// Checks a workflow's `triggers` (the fields of a function's triggers; absent: none).
    static func validatedTriggers(_ value: JSON?) throws(SwellError) -> [TriggerConfig] {
        guard let value, value != .null else { return [] }
        let config = try configValue(value, field: "triggers")
        return try TriggerConfig.parseWorkflowList(try FieldReader(.object(["triggers": config]), path: ""))
    }

    /// A JSON value as the configuration readers take it.
    static func configValue(_ value: JSON, field: String) throws(SwellError) -> ConfigValue {
        do {
            return try JSONDecoder().decode(ConfigValue.self, from: Data(value.serialized().utf8))
        } catch {
            throw SwellError.invalid(field, "cannot be read: \(error)")
        }
    }

    static func workflowJSON(_ r: WorkflowRecord, definition: Bool) -> JSON {
        var o = JSONObject()
        o["namespace"] = .string(r.namespace)
        o["name"] = .string(r.name)
        o["revision"] = .int(r.revision)
        o["createdAt"] = .string(Timestamps.iso8601(r.createdAt))
        o["updatedAt"] = .string(Timestamps.iso8601(r.updatedAt))
        if definition { o["definition"] = (try? JSON(parsing: r.definition)) ?? .string(r.definition) }
        if definition, !r.triggers.isEmpty,
            let data = try? JSONEncoder().encode(r.triggers), let triggers = try? JSON(parsing: String(decoding: data, as: UTF8.self))
        {
            o["triggers"] = triggers
        }
        return .object(o)
    }

    static func executionJSON(_ r: ExecutionRecord, full: Bool = true) -> JSON {
        var o = JSONObject()
        o["executionArn"] = .string("arn:aws:states:swell:\(r.namespace):execution:\(r.workflow):\(r.name)")
        o["name"] = .string(r.name)
        o["workflow"] = .string(r.workflow)
        o["status"] = .string(r.status.rawValue)
        o["startDate"] = .string(Timestamps.iso8601(r.startedAt))
        o["stopDate"] = r.stoppedAt.map { .string(Timestamps.iso8601($0)) } ?? .null
        o["redriveCount"] = .int(r.redriveCount)
        if full {
            o["revision"] = .int(r.revision)
            o["version"] = .string(r.version)
            o["input"] = (try? JSON(parsing: r.input)) ?? .null
            o["output"] = r.output.flatMap { try? JSON(parsing: $0) } ?? .null
            o["error"] = r.error.map { .string($0) } ?? .null
            o["cause"] = r.cause.map { .string($0) } ?? .null
        }
        return .object(o)
    }
}
