import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwellModel
import SwellTasks

/// The asynchronous side of `POST .../invoke`: `?mode=async` (or `X-Swell-Invocation-Type:
/// Event`, or AWS's `X-Amz-Invocation-Type: Event`) commits a task and answers `202` with its id;
/// and `POST .../tasks`, which commits many in one transaction.
enum AsyncInvoke {
    static let invocationType = HTTPField.Name("X-Swell-Invocation-Type")!
    static let amzInvocationType = HTTPField.Name("X-Amz-Invocation-Type")!
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let taskID = HTTPField.Name("X-Swell-Task-Id")!

    static func isAsync(_ request: Request) throws(SwellError) -> Bool {
        if let mode = request.uri.queryParameters.get("mode") {
            switch mode {
            case "async", "event": return true
            case "sync", "request": return false
            default: throw SwellError.invalid("mode", "must be sync or async (got \"\(mode)\")")
            }
        }
        for name in [invocationType, amzInvocationType] {
            if let value = request.headers[name] {
                switch value.lowercased() {
                case "event": return true
                case "requestresponse": return false
                default: throw SwellError.invalid(name.rawName, "must be Event or RequestResponse (got \"\(value)\")")
                }
            }
        }
        return false
    }

    static func enqueue(
        _ request: inout Request, namespace: String, name: String, qualifier: Qualifier, tasks: TaskService
    ) async throws -> Response {
        let q = request.uri.queryParameters
        var delay: Double?
        if let d = q.get("delay") {
            guard let seconds = Double(d) else {
                throw SwellError.invalid("delay", "must be seconds from 0 to \(TaskLimits.maxDelaySeconds) (got \"\(d)\")")
            }
            delay = seconds
        }
        let options = try options(
            idempotencyKey: request.headers[idempotencyKey] ?? q.get("idempotencyKey").map { String($0) },
            priority: try int(q.get("priority"), field: "priority", range: TaskLimits.priorityRange),
            delay: delay, runAt: q.get("runAt").map { String($0) },
            timeout: try int(q.get("timeout"), field: "timeout", range: FunctionConfig.timeoutRange))
        var payload = try await JSONBody.collect(&request, limit: TaskLimits.maxPayloadBytes)
        if payload.readableBytes == 0 { payload = ByteBuffer(string: "{}") }
        let bytes = Array(payload.readableBytesView)
        guard JSONScanner.isValid(bytes) else {
            throw SwellError(.invalidJSON, "the invocation payload must be valid JSON")
        }
        let data = Data(bytes)
        let result = try await tasks.enqueue(namespace: namespace, function: name, qualifier: qualifier.description, payload: data, options: options)
        // Fields appended as a list, not set one by one (each `headers[name] = …` looks the name up first).
        let headers: HTTPFields = [.contentType: "application/json", taskID: result.taskID]
        let body = #"{"taskId":""# + result.taskID + (result.duplicate ? #"","duplicate":true}"# : #"","duplicate":false}"#)
        return Response(status: .accepted, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The options of one task, checked the same way wherever they come from (the query of an
    /// async invoke, an entry of a batch); errors name `path.field` (`tasks[3].priority`).
    static func options(
        idempotencyKey key: String?, priority: Int?, delay: Double?, runAt: String?, timeout: Int?, path: String = "", now: Date = Date()
    ) throws(SwellError) -> TaskOptions {
        func field(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }
        var options = TaskOptions()
        if let key {
            guard !key.isEmpty, key.utf8.count <= 256 else { throw SwellError.invalid(field("idempotencyKey"), "must be 1-256 bytes") }
            options.idempotencyKey = key
        }
        if let priority {
            guard TaskLimits.priorityRange.contains(priority) else {
                throw SwellError.invalid(field("priority"), "must be between \(TaskLimits.priorityRange.lowerBound) and \(TaskLimits.priorityRange.upperBound) (got \(priority))")
            }
            options.priority = priority
        }
        if let delay {
            guard delay >= 0, delay <= Double(TaskLimits.maxDelaySeconds) else {
                throw SwellError.invalid(field("delay"), "must be seconds from 0 to \(TaskLimits.maxDelaySeconds) (got \(delay))")
            }
            options.runAt = now.addingTimeInterval(delay)
        }
        if let runAt {
            guard options.runAt == nil else { throw SwellError.invalid(field("runAt"), "give delay or runAt, not both") }
            guard let date = parseTime(runAt) else {
                throw SwellError.invalid(field("runAt"), "must be an RFC 3339 time such as 2026-11-21T18:50:00Z (got \"\(runAt)\")")
            }
            guard date.timeIntervalSince(now) <= Double(TaskLimits.maxDelaySeconds) else {
                throw SwellError.invalid(field("runAt"), "must be at most \(TaskLimits.maxDelaySeconds) seconds ahead")
            }
            options.runAt = date
        }
        if let timeout {
            guard FunctionConfig.timeoutRange.contains(timeout) else {
                throw SwellError.invalid(field("timeout"), "must be between \(FunctionConfig.timeoutRange.lowerBound) and \(FunctionConfig.timeoutRange.upperBound) (got \(timeout))")
            }
            options.timeout = timeout
        }
        return options
    }

    /// `POST …/functions/{name}/tasks`: `{"tasks": [{"payload", "idempotencyKey", "priority",
    /// "delay", "runAt", "timeout"}, …]}`. Every entry is checked first (400 naming
    /// `tasks[i].field`, 413 naming `tasks[i].payload`); then all are committed in one journal
    /// transaction, and the answer is `202 {"tasks": [{"taskId", "duplicate"}, …]}` in order.
    static func enqueueBatch(
        _ request: inout Request, namespace: String, name: String, qualifier: Qualifier, tasks: TaskService
    ) async throws -> Response {
        let body = try await JSONBody.collect(&request, limit: TaskLimits.maxBatchBytes)
        let submissions = try batch(Array(body.readableBytesView))
        let results = try await tasks.enqueueBatch(namespace: namespace, function: name, qualifier: qualifier.description, tasks: submissions)
        var text = #"{"tasks":["#
        text.reserveCapacity(16 + results.count * 64)
        for (i, result) in results.enumerated() {
            if i > 0 { text += "," }
            text += #"{"taskId":""# + result.taskID + #"","duplicate":"# + (result.duplicate ? "true" : "false") + "}"
        }
        text += "]}"
        let headers: HTTPFields = [.contentType: "application/json"]
        return Response(status: .accepted, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static let batchFields: Set<String> = ["payload", "idempotencyKey", "priority", "delay", "runAt", "timeout"]

    /// Reads and checks a batch body; each event keeps its bytes as sent.
    static func batch(_ bytes: [UInt8], now: Date = Date()) throws(SwellError) -> [TaskSubmission] {
        guard JSONScanner.isValidUTF8(bytes) else { throw SwellError(.invalidJSON, "the request body is not valid JSON: it is not UTF-8") }
        var scanner = JSONScanner(bytes)
        guard scanner.peek() == UInt8(ascii: "{") else {
            if scanner.atEnd { throw SwellError.invalid("tasks", "is required: a list of 1 to \(TaskLimits.maxBatchTasks) tasks") }
            _ = try scanner.configValue()
            throw SwellError.invalid("body", "must be a mapping with a list `tasks`")
        }
        var submissions: [TaskSubmission]?
        try scanner.object { key, scanner throws(SwellError) in
            guard key == "tasks" else {
                _ = try scanner.value()
                throw SwellError.invalid(key, "unknown field (expected: tasks)")
            }
            guard scanner.peek() == UInt8(ascii: "[") else {
                throw SwellError.invalid("tasks", "must be a list of 1 to \(TaskLimits.maxBatchTasks) tasks (got \(try scanner.configValue().kindName))")
            }
            var list: [TaskSubmission] = []
            try scanner.array { i, scanner throws(SwellError) in
                guard i < TaskLimits.maxBatchTasks else {
                    throw SwellError.invalid("tasks", "must have at most \(TaskLimits.maxBatchTasks) tasks per request")
                }
                list.append(try entry(&scanner, path: "tasks[\(i)]", now: now))
            }
            guard !list.isEmpty else { throw SwellError.invalid("tasks", "must have at least one task") }
            submissions = list
        }
        scanner.skipSpace()
        guard scanner.atEnd else { throw SwellError(.invalidJSON, "the request body is not valid JSON: trailing characters at byte \(scanner.index)") }
        guard let submissions else { throw SwellError.invalid("tasks", "is required: a list of 1 to \(TaskLimits.maxBatchTasks) tasks") }
        return submissions
    }

    private static func entry(_ scanner: inout JSONScanner, path: String, now: Date) throws(SwellError) -> TaskSubmission {
        guard scanner.peek() == UInt8(ascii: "{") else {
            throw SwellError.invalid(path, "must be a mapping with a payload and options (got \(try scanner.configValue().kindName))")
        }
        var payload: Range<Int>?
        var fields: [String: ConfigValue] = [:]
        try scanner.object { key, scanner throws(SwellError) in
            guard batchFields.contains(key) else {
                _ = try scanner.value()
                throw SwellError.invalid("\(path).\(key)", "unknown field (expected one of: \(batchFields.sorted().joined(separator: ", ")))")
            }
            if key == "payload" {
                let range = try scanner.value()
                guard range.count <= TaskLimits.maxPayloadBytes else {
                    throw SwellError(.payloadTooLarge, "is larger than \(TaskLimits.maxPayloadBytes) bytes (\(range.count))", field: "\(path).payload")
                }
                payload = range
            } else {
                fields[key] = try scanner.configValue()
            }
        }
        let reader = try FieldReader(.object(fields), path: path)
        func text(_ key: String) throws(SwellError) -> String? {
            guard let v = reader.value(key) else { return nil }
            guard case .string(let s) = v else { throw SwellError.invalid(reader.field(key), "must be a string (got \(v.kindName))") }
            return s
        }
        let options = try options(
            idempotencyKey: try text("idempotencyKey"), priority: try reader.int("priority", range: TaskLimits.priorityRange),
            delay: try reader.number("delay"), runAt: try text("runAt"),
            timeout: try reader.int("timeout", range: FunctionConfig.timeoutRange), path: path, now: now)
        // The scanner took the payload's bytes as one JSON value: already checked.
        let data = payload.map { Data(scanner.bytes[$0]) } ?? Data("{}".utf8)
        return TaskSubmission(payload: data, options: options)
    }

    /// The function and qualifier a route names: `{name}` or `{name}:{qualifier}`, or `?qualifier=`.
    static func target(_ request: Request, name raw: String, namespace: String) throws(SwellError) -> (name: String, qualifier: Qualifier) {
        var name = raw
        var qualifierText: String? = request.uri.queryParameters.get("qualifier").map { String($0) }
        if let colon = name.firstIndex(of: ":") {
            if qualifierText == nil { qualifierText = String(name[name.index(after: colon)...]) }
            name = String(name[..<colon])
        }
        guard Names.isFunctionName(name) else { throw SwellError.notFound("function \(name) does not exist in namespace \(namespace)") }
        return (name, try Qualifier(parsing: qualifierText))
    }

    /// An RFC 3339 time, with or without fractional seconds.
    static func parseTime(_ text: String) -> Date? {
        (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
    }
}
