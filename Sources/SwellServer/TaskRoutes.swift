import Foundation
import Hummingbird
import SwellModel
import SwellStore
import SwellTasks

/// `/v1/namespaces/{ns}/tasks...`: list, get, summary, stop, retry; the namespace's async limits;
/// and the batch enqueue `POST /v1/namespaces/{ns}/functions/{name}/tasks`.
struct TaskRoutes {
    let tasks: TaskService
    let store: any TaskStorage
    let logs: any LogStorage

    func register(on group: RouterGroup<SwellRequestContext>) {
        group.post("namespaces/:ns/functions/:name/tasks") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .invoker)
            let (name, qualifier) = try AsyncInvoke.target(request, name: ctx.parameters.get("name") ?? "", namespace: ns)
            var request = request
            return try await AsyncInvoke.enqueueBatch(&request, namespace: ns, name: name, qualifier: qualifier, tasks: tasks)
        }
        group.get("namespaces/:ns/tasks") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let q = request.uri.queryParameters
            let function = q.get("function").map { String($0) }
            var state: TaskState?
            if let s = q.get("state") {
                guard let parsed = TaskState(rawValue: String(s)) else {
                    throw SwellError.invalid("state", "must be one of \(TaskState.allCases.map(\.rawValue).joined(separator: ", ")) (got \"\(s)\")")
                }
                state = parsed
            }
            let since = try time(q.get("since"), field: "since")
            let until = try time(q.get("until"), field: "until")
            let limit = try int(q.get("limit"), field: "limit", range: 1...1000) ?? 100
            var before: (Date, String)?
            if let cursor = q.get("cursor") {
                let parts = cursor.split(separator: "_", maxSplits: 1)
                guard parts.count == 2, let t = Double(parts[0]) else { throw SwellError.invalid("cursor", "is not a cursor this API returned") }
                before = (Date(timeIntervalSince1970: t), String(parts[1]))
            }
            let page = try await store.list(namespace: ns, function: function, state: state, since: since, until: until, before: before, limit: limit)
            let next = page.count == limit ? page.last.map { "\($0.createdAt.timeIntervalSince1970)_\($0.id)" } : nil
            return try JSONBody.response(API.TaskPage(tasks: page.map { API.TaskInfo($0, attempts: nil, logs: nil) }, nextCursor: OrNull(next)))
        }
        group.get("namespaces/:ns/tasks/summary") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let summary = try await store.summary(namespace: ns, function: request.uri.queryParameters.get("function").map { String($0) })
            return try JSONBody.response(Dictionary(uniqueKeysWithValues: summary.map { ($0.key.rawValue, $0.value) }))
        }
        group.get("namespaces/:ns/tasks/:id") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let id = ctx.parameters.get("id") ?? ""
            guard let task = try await store.task(id: id, namespace: ns) else { throw SwellError.notFound("task \(id) does not exist in namespace \(ns)") }
            let attempts = try await store.attempts(taskID: id)
            var logs: [LogLine] = []
            for a in attempts {
                logs += (try? await self.logs.lines(LogQuery(namespace: ns, function: task.function, limit: 1000, requestID: a.requestID))) ?? []
            }
            return try JSONBody.response(["task": API.TaskInfo(task, attempts: attempts, logs: logs)])
        }
        group.post("namespaces/:ns/tasks/:id/stop") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let id = ctx.parameters.get("id") ?? ""
            let state = try await tasks.stop(namespace: ns, id: id)
            return try JSONBody.response(["id": id, "state": state.rawValue], status: state == .stopped ? .ok : .accepted)
        }
        group.post("namespaces/:ns/tasks/:id/retry") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let record = try await tasks.retry(namespace: ns, id: ctx.parameters.get("id") ?? "")
            return try JSONBody.response(["task": API.TaskInfo(record, attempts: nil, logs: nil)], status: .accepted)
        }
        group.get("namespaces/:ns/async-limits") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            return try JSONBody.response(await tasks.limits(namespace: ns))
        }
        group.put("namespaces/:ns/async-limits") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize("default", .admin)
            let body = try FieldReader(try await JSONBody.read(request), path: "")
            try body.rejectUnknown(["ratePerSecond", "burst", "weight"])
            let rate = try body.number("ratePerSecond")
            if let rate, rate <= 0 { throw SwellError.invalid("ratePerSecond", "must be above 0 (or null for no limit)") }
            let burst = try body.number("burst")
            if let burst, burst < 1 { throw SwellError.invalid("burst", "must be at least 1") }
            let weight = try body.number("weight") ?? 1
            guard weight > 0, weight <= 1000 else { throw SwellError.invalid("weight", "must be above 0 and at most 1000") }
            let settings = NamespaceTaskLimits(ratePerSecond: rate, burst: burst, weight: weight)
            try await tasks.setLimits(settings, namespace: ns)
            return try JSONBody.response(settings)
        }
    }

    func time(_ value: String?, field: String) throws(SwellError) -> Date? {
        guard let value else { return nil }
        if let seconds = Double(value) { return Date(timeIntervalSince1970: seconds) }
        guard let date = AsyncInvoke.parseTime(String(value)) else {
            throw SwellError.invalid(field, "must be an RFC 3339 time or seconds since the epoch (got \"\(value)\")")
        }
        return date
    }
}

extension API {
    struct TaskPage: Encodable {
        var tasks: [TaskInfo]
        var nextCursor: OrNull<String>
    }

    struct AttemptInfo: Encodable {
        var number: Int
        var requestId: String
        var startedAt: String
        var finishedAt: OrNull<String>
        var outcome: OrNull<String>
        var errorType: OrNull<String>
        var error: OrNull<ConfigValue>
        var queueDelayMs: Double
        var durationMs: OrNull<Double>
        var coldStart: Bool
    }

    struct TaskLogLine: Encodable {
        var time: String
        var requestId: OrNull<String>
        var stream: String
        var message: String
    }

    struct TaskInfo: Encodable {
        var id: String
        var function: String
        var qualifier: String
        var state: String
        var priority: Int
        var idempotencyKey: OrNull<String>
        var timeout: OrNull<Int>
        var createdAt: String
        var runAt: String
        var finishedAt: OrNull<String>
        var attemptsCounted: Int
        var starts: Int
        var payload: OrNull<ConfigValue>
        var result: OrNull<ConfigValue>
        var error: OrNull<ConfigValue>
        var attempts: [AttemptInfo]?
        var logs: [TaskLogLine]?

        init(_ t: TaskRecord, attempts: [TaskAttempt]?, logs: [LogLine]?) {
            id = t.id
            function = t.function
            qualifier = t.qualifier
            state = t.state.rawValue
            priority = t.priority
            idempotencyKey = OrNull(t.idempotencyKey)
            timeout = OrNull(t.timeout)
            createdAt = API.time(t.createdAt)
            runAt = API.time(t.runAt)
            finishedAt = OrNull(t.finishedAt.map(API.time))
            attemptsCounted = t.attempts
            starts = t.starts
            payload = OrNull(API.json(t.payload))
            result = OrNull(t.result.flatMap(API.json))
            error = OrNull(t.error.flatMap(API.json))
            self.attempts = attempts?.map {
                AttemptInfo(
                    number: $0.number, requestId: $0.requestID, startedAt: API.time($0.startedAt), finishedAt: OrNull($0.finishedAt.map(API.time)),
                    outcome: OrNull($0.outcome), errorType: OrNull($0.errorType), error: OrNull($0.error.flatMap(API.json)),
                    queueDelayMs: $0.queueDelayMs, durationMs: OrNull($0.durationMs), coldStart: $0.coldStart)
            }
            self.logs = logs?.map { TaskLogLine(time: API.time($0.time), requestId: OrNull($0.requestID), stream: $0.stream, message: $0.message) }
        }
    }

    static func time(_ date: Date) -> String { Timestamps.iso8601(date) }

    static func json(_ data: Data) -> ConfigValue? {
        (try? JSONDecoder().decode(ConfigValue.self, from: data)) ?? String(data: data, encoding: .utf8).map(ConfigValue.string)
    }
}
