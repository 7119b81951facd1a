import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwellModel
import SwellTasks

/// The asynchronous side of `POST .../invoke`: `?mode=async` (or `X-Swell-Invocation-Type:
/// Event`, or AWS's `X-Amz-Invocation-Type: Event`) commits a task and answers `202` with its id.
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
        var options = TaskOptions()
        if let key = request.headers[idempotencyKey] ?? q.get("idempotencyKey").map { String($0) } {
            guard !key.isEmpty, key.utf8.count <= 256 else { throw SwellError.invalid("idempotencyKey", "must be 1-256 bytes") }
            options.idempotencyKey = key
        }
        options.priority = try int(q.get("priority"), field: "priority", range: TaskLimits.priorityRange) ?? 0
        if let d = q.get("delay") {
            guard let seconds = Double(d), seconds >= 0, seconds <= Double(TaskLimits.maxDelaySeconds) else {
                throw SwellError.invalid("delay", "must be seconds from 0 to \(TaskLimits.maxDelaySeconds) (got \"\(d)\")")
            }
            options.runAt = Date().addingTimeInterval(seconds)
        }
        if let r = q.get("runAt") {
            guard options.runAt == nil else { throw SwellError.invalid("runAt", "give delay or runAt, not both") }
            guard let date = parseTime(String(r)) else {
                throw SwellError.invalid("runAt", "must be an RFC 3339 time such as 2026-11-21T18:50:00Z (got \"\(r)\")")
            }
            guard date.timeIntervalSinceNow <= Double(TaskLimits.maxDelaySeconds) else {
                throw SwellError.invalid("runAt", "must be at most \(TaskLimits.maxDelaySeconds) seconds ahead")
            }
            options.runAt = date
        }
        options.timeout = try int(q.get("timeout"), field: "timeout", range: FunctionConfig.timeoutRange)
        var payload = try await JSONBody.collect(&request, limit: TaskLimits.maxPayloadBytes)
        if payload.readableBytes == 0 { payload = ByteBuffer(string: "{}") }
        let data = Data(payload.readableBytesView)
        guard (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil else {
            throw SwellError(.invalidJSON, "the invocation payload must be valid JSON")
        }
        let result = try await tasks.enqueue(namespace: namespace, function: name, qualifier: qualifier.description, payload: data, options: options)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[taskID] = result.taskID
        let body = #"{"taskId":"\#(result.taskID)","duplicate":\#(result.duplicate)}"#
        return Response(status: .accepted, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// An RFC 3339 time, with or without fractional seconds.
    static func parseTime(_ text: String) -> Date? {
        (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
    }
}
