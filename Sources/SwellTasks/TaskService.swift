import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import SwellInvoker
import SwellModel
import SwellRuntime
import SwellScheduler
import SwellStore

/// Swell's durable async invocation: enqueue (group-committed before 202), dispatch with
/// fair share across namespaces, per-function async concurrency caps, per-namespace rate
/// limits and yielding to latency-sensitive work, retries by policy, destinations, stop
/// and re-drive. Queued work lives in memory and in `tasks.db`; after a crash, every task
/// that was accepted and not finished runs (again).
public actor TaskService: Service {
    struct Running {
        var attempt: TaskAttempt
        var stopRequested = false
    }

    struct Live {
        var record: TaskRecord
        var sequence: UInt64
        var running: Running?
        /// Every re-run so far (drives the backoff).
        var retries = 0
        /// When it last became runnable, for the queue delay of its next start.
        var readySince: Date
    }

    let journal: TaskJournal
    let store: TaskStore
    let invoker: Invoker
    let logger: Logger
    nonisolated let destinations: DestinationSender
    /// Async invocations in flight on the node at most (on top of per-function caps).
    let maxInFlight: Int

    private var live: [String: Live] = [:]
    private var queue = TaskQueue()
    private var inFlight: [String: Int] = [:]
    private var totalInFlight = 0
    private var buckets: [String: TokenBucket] = [:]
    private var limits: [String: NamespaceTaskLimits] = [:]
    private var idempotency: [String: (id: String, at: Date)] = [:]
    private var sequence: UInt64 = 0
    private var wakeup: CheckedContinuation<Void, Never>?
    private var wakeGeneration = 0
    private var accepting = true
    private var recovered = false

    public init(store: TaskStore, invoker: Invoker, logger: Logger, kafka: (any KafkaRecordPublisher)? = nil, maxInFlight: Int = 2048) {
        self.store = store
        self.journal = TaskJournal(store: store, logger: logger)
        self.invoker = invoker
        self.logger = logger
        self.maxInFlight = maxInFlight
        let box = WeakBox()
        self.destinations = DestinationSender(logger: logger, kafka: kafka) { namespace, function, qualifier, payload in
            guard let service = box.service else { return }
            _ = try await service.enqueue(namespace: namespace, function: function, qualifier: qualifier, payload: payload, options: TaskOptions())
        }
        box.service = self
    }

    final class WeakBox: @unchecked Sendable {
        weak var service: TaskService?
    }

    // MARK: Enqueue

    /// Accepts a task: once this returns, the task is on disk and will run.
    /// - Throws: `SwellError` for an unknown function (404), bad options (400) or a closed queue (503-like throttle).
    public func enqueue(
        namespace: String, function: String, qualifier: String, payload: Data, options: TaskOptions
    ) async throws(SwellError) -> EnqueueResult {
        guard accepting else { throw SwellError(.throttled, "the server is shutting down; try again", retryAfter: 1) }
        _ = try invoker.catalog.resolve(namespace, function, try Qualifier(parsing: qualifier), random: 0)
        let now = Date()
        var idempotencySlot: String?
        if let key = options.idempotencyKey {
            let slot = "\(namespace)\u{0}\(function)\u{0}\(key)"
            if let first = idempotency[slot], now.timeIntervalSince(first.at) < TaskLimits.idempotencyWindow {
                return EnqueueResult(taskID: first.id, duplicate: true)
            }
            idempotencySlot = slot
        }
        let id = Self.newID(now)
        if let slot = idempotencySlot { idempotency[slot] = (id, now) }
        let record = TaskRecord(
            id: id, namespace: namespace, function: function, qualifier: qualifier, priority: options.priority, payload: payload,
            idempotencyKey: options.idempotencyKey, timeout: options.timeout, createdAt: now, runAt: options.runAt ?? now)
        do {
            try await journal.commit([.insert(record)])
        } catch {
            if let slot = idempotencySlot { idempotency.removeValue(forKey: slot) }
            throw SwellError(.internal, "the task could not be stored: \(error)")
        }
        admit(record)
        return EnqueueResult(taskID: id, duplicate: false)
    }

    private func admit(_ record: TaskRecord) {
        sequence += 1
        live[record.id] = Live(record: record, sequence: sequence, readySince: max(record.runAt, record.createdAt))
        queue.push(
            QueuedTask(id: record.id, namespace: record.namespace, function: record.function, priority: record.priority,
                       runAt: record.runAt.timeIntervalSince1970, sequence: sequence),
            now: Date().timeIntervalSince1970)
        wake()
    }

    /// Time-ordered, unique ids: 12 hex digits of milliseconds, then 16 random hex digits.
    static func newID(_ now: Date) -> String {
        let ms = UInt64(now.timeIntervalSince1970 * 1000)
        let time = String(ms, radix: 16)
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return "t" + String(repeating: "0", count: max(0, 12 - time.count)) + time
            + String(repeating: "0", count: max(0, 16 - random.count)) + random
    }

    // MARK: Stop and re-drive

    /// Stops a queued task at once, or a running one by interrupting its invocation.
    /// - Returns: the state the task is in afterwards (`stopped`, or `running` while the interruption lands).
    public func stop(namespace: String, id: String) async throws(SwellError) -> TaskState {
        guard var entry = live[id], entry.record.namespace == namespace else {
            guard let stored = try? store.task(id: id, namespace: namespace) else { throw SwellError.notFound("task \(id) does not exist in namespace \(namespace)") }
            throw SwellError(.conflict, "task \(id) is already \(stored.state.rawValue)")
        }
        if var running = entry.running {
            running.stopRequested = true
            entry.running = running
            live[id] = entry
            for pool in invoker.runtime.pools(namespace: namespace, name: entry.record.function) {
                if await pool.interrupt(running.attempt.requestID) { break }
            }
            return .running
        }
        queue.remove(id, namespace: namespace, function: entry.record.function)
        live.removeValue(forKey: id)
        let now = Date()
        do {
            try await journal.commit([.state(id: id, state: .stopped, attempts: entry.record.attempts, runAt: entry.record.runAt,
                                             finishedAt: now, result: nil, error: nil, at: now)])
        } catch {
            throw SwellError(.internal, "the stop could not be stored: \(error)")
        }
        return .stopped
    }

    /// Runs a finished task again (failed, expired or stopped; a succeeded one too when asked twice).
    public func retry(namespace: String, id: String) async throws(SwellError) -> TaskRecord {
        if live[id] != nil { throw SwellError(.conflict, "task \(id) is still queued or running") }
        guard var record = try? store.task(id: id, namespace: namespace) else {
            throw SwellError.notFound("task \(id) does not exist in namespace \(namespace)")
        }
        guard record.state.isFinal else { throw SwellError(.conflict, "task \(id) is \(record.state.rawValue)") }
        let now = Date()
        record.state = .queued
        record.attempts = 0
        record.runAt = now
        record.finishedAt = nil
        record.error = nil
        record.result = nil
        // A re-drive starts the event's age afresh.
        record.createdAt = now
        do {
            try await journal.commit([.redrive(id: id, at: now)])
        } catch {
            throw SwellError(.internal, "the retry could not be stored: \(error)")
        }
        admit(record)
        return record
    }

    /// Sets a namespace's async rate limit and share.
    public func setLimits(_ settings: NamespaceTaskLimits, namespace: String) throws {
        try store.setLimits(settings, namespace: namespace)
        apply(settings, namespace: namespace)
        wake()
    }

    public func limits(namespace: String) -> NamespaceTaskLimits { limits[namespace] ?? NamespaceTaskLimits() }

    private func apply(_ settings: NamespaceTaskLimits, namespace: String) {
        limits[namespace] = settings
        queue.setWeight(settings.weight, namespace: namespace)
        if let rate = settings.ratePerSecond {
            buckets[namespace] = TokenBucket(rate: rate, burst: settings.burst ?? max(1, rate), now: Date().timeIntervalSince1970)
        } else {
            buckets.removeValue(forKey: namespace)
        }
    }

    /// Tasks waiting and running on this node.
    public var depth: (queued: Int, delayed: Int, running: Int) { (queue.readyCount, queue.delayedCount, totalInFlight) }

    // MARK: Service

    public func run() async throws {
        try recover()
        let purge = Task { [journal] in
            while !Task.isCancelled {
                journal.append([.purge(finishedBefore: Date().addingTimeInterval(-TaskLimits.retention))])
                try? await Task.sleep(for: .seconds(3600))
            }
        }
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let next = dispatch()
                await sleep(upTo: next)
            }
        } onGracefulShutdown: {
            Task { await self.beginShutdown() }
        }
        purge.cancel()
        accepting = false
        // Let running attempts finish (they are recorded); queued ones stay queued on disk.
        let deadline = ContinuousClock.now + .seconds(10)
        while totalInFlight > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        await journal.flush()
        journal.close()
    }

    private func beginShutdown() {
        accepting = false
        wake()
    }

    private func recover() throws {
        guard !recovered else { return }
        recovered = true
        let now = Date()
        for (ns, settings) in try store.allLimits() { apply(settings, namespace: ns) }
        for entry in try store.recentIdempotencyKeys(since: now.addingTimeInterval(-TaskLimits.idempotencyWindow)) {
            idempotency["\(entry.namespace)\u{0}\(entry.function)\u{0}\(entry.key)"] = (entry.taskID, entry.createdAt)
        }
        let pending = try store.recover(at: now)
        for record in pending { admit(record) }
        if !pending.isEmpty { logger.notice("async tasks recovered", metadata: ["count": "\(pending.count)"]) }
    }

    // MARK: Dispatch

    /// Starts every task that may start now; returns when to look again (nil: on the next event).
    private func dispatch() -> Duration? {
        guard accepting else { return nil }
        let nowDate = Date()
        let now = nowDate.timeIntervalSince1970
        var blocked = false
        while totalInFlight < maxInFlight {
            guard let task = queue.next(now: now, allow: { t in
                let ok = self.mayStart(t, now: now)
                if !ok { blocked = true }
                return ok
            }) else { break }
            start(task.id, now: nowDate)
        }
        if totalInFlight >= maxInFlight { return nil }
        var wait: Double? = queue.nextRunAt.map { max(0.001, $0 - now) }
        if blocked {
            // Something waits on a cap, a rate limit or latency work: look again soon
            // (a finishing attempt wakes the loop earlier).
            wait = min(wait ?? 0.02, 0.02)
        }
        return wait.map { .milliseconds(Int64($0 * 1000) + 1) }
    }

    private func mayStart(_ task: QueuedTask, now: Double) -> Bool {
        if var bucket = buckets[task.namespace] {
            let ok = bucket.available(now: now)
            buckets[task.namespace] = bucket
            if !ok { return false }
        }
        guard let function = invoker.catalog.function(task.namespace, task.function) else { return true }
        let config = function.config
        let cap = config.async.concurrency ?? config.scaling.maxInstances * config.concurrency
        if inFlight["\(task.namespace)/\(task.function)", default: 0] >= cap { return false }
        // Latency-sensitive requests are waiting for this function's slots: offline work yields.
        return !invoker.runtime.hasLatencyWaiting(namespace: task.namespace, name: task.function)
    }

    private func start(_ id: String, now: Date) {
        guard var entry = live[id] else { return }
        var record = entry.record
        if let bucket = buckets[record.namespace] {
            var b = bucket
            _ = b.take(now: now.timeIntervalSince1970)
            buckets[record.namespace] = b
        }
        // Too old to run at all: expire instead.
        let maxAge = Double(invoker.catalog.function(record.namespace, record.function)?.config.async.maxEventAge ?? Int.max)
        if now.timeIntervalSince(record.createdAt) >= maxAge {
            finalize(&entry, state: .expired, error: Self.errorJSON("Task.EventAgeExceeded", "the task waited longer than its maximum event age (\(Int(maxAge)) s)"), now: now)
            return
        }
        record.starts += 1
        record.state = .running
        let attempt = TaskAttempt(
            taskID: id, number: record.starts, requestID: UUID().uuidString.lowercased(), startedAt: now,
            queueDelayMs: max(0, now.timeIntervalSince(entry.readySince) * 1000))
        entry.record = record
        entry.running = Running(attempt: attempt)
        live[id] = entry
        let key = "\(record.namespace)/\(record.function)"
        inFlight[key, default: 0] += 1
        totalInFlight += 1
        journal.append([.started(attempt, starts: record.starts)])
        let invoker = self.invoker
        Task {
            let result = await Self.execute(record, attempt: attempt, invoker: invoker)
            self.finished(id, result: result)
        }
    }

    struct ExecutionResult: Sendable {
        var outcome: AttemptOutcome
        var result: Data?
        var errorType: String?
        var error: Data?
        var durationMs: Double
        var coldStart: Bool
        var executedVersion: String
    }

    static func execute(_ record: TaskRecord, attempt: TaskAttempt, invoker: Invoker) async -> ExecutionResult {
        let started = ContinuousClock.now
        do {
            let qualifier = try Qualifier(parsing: record.qualifier)
            let response = try await invoker.invoke(
                namespace: record.namespace, name: record.function, qualifier: qualifier, payload: ByteBuffer(bytes: record.payload),
                workClass: .offline, requestID: attempt.requestID, timeout: record.timeout)
            switch response.result {
            case .success(let bytes):
                return ExecutionResult(
                    outcome: .succeeded, result: Data(bytes.readableBytesView), durationMs: response.durationMs,
                    coldStart: response.coldStart, executedVersion: response.executedVersion)
            case .failure(let kind, let error):
                let json = (try? JSONEncoder().encode(error)) ?? Data()
                return ExecutionResult(
                    outcome: kind == .timeout ? .timeout : .functionError, errorType: kind.rawValue, error: json,
                    durationMs: response.durationMs, coldStart: response.coldStart, executedVersion: response.executedVersion)
            }
        } catch {
            let ms = (ContinuousClock.now - started).milliseconds
            switch error.code {
            case .throttled:
                return ExecutionResult(outcome: error.message.contains("shutting down") ? .platformFault : .throttled,
                                       errorType: "Throttled", error: errorJSON("Throttled", error.message), durationMs: ms, coldStart: false, executedVersion: "")
            case .notFound:
                // The function (or its qualifier) is gone: retrying cannot help.
                return ExecutionResult(outcome: .functionError, errorType: "ResourceNotFound", error: errorJSON("ResourceNotFound", error.message),
                                       durationMs: ms, coldStart: false, executedVersion: "")
            default:
                return ExecutionResult(outcome: .platformFault, errorType: "PlatformFault", error: errorJSON("PlatformFault", error.description),
                                       durationMs: ms, coldStart: false, executedVersion: "")
            }
        }
    }

    private func finished(_ id: String, result r: ExecutionResult) {
        guard var entry = live[id], let running = entry.running else { return }
        let now = Date()
        let key = "\(entry.record.namespace)/\(entry.record.function)"
        inFlight[key, default: 1] -= 1
        totalInFlight -= 1
        defer { wake() }

        var attempt = running.attempt
        attempt.finishedAt = now
        attempt.durationMs = r.durationMs
        attempt.coldStart = r.coldStart
        attempt.outcome = running.stopRequested ? "stopped" : Self.name(r.outcome)
        attempt.errorType = r.errorType
        attempt.error = r.error
        journal.append([.attemptFinished(attempt)])
        entry.running = nil

        if running.stopRequested {
            finalize(&entry, state: .stopped, error: Self.errorJSON("Task.Stopped", "the task was stopped while it ran"), now: now)
            return
        }
        let config = invoker.catalog.function(entry.record.namespace, entry.record.function)?.config.async ?? AsyncConfig(maxAttempts: 1)
        let policy = RetryPolicy(
            maxAttempts: config.maxAttempts, maxEventAge: Double(config.maxEventAge), baseDelay: Double(config.retryDelay),
            maxDelay: Double(config.maxRetryDelay))
        var attempts = entry.record.attempts
        if r.outcome == .functionError || r.outcome == .timeout { attempts += 1 }
        let missing = r.errorType == "ResourceNotFound"
        let decision = missing
            ? .fail
            : policy.decide(r.outcome, attemptsUsed: attempts, retriesSoFar: entry.retries, age: now.timeIntervalSince(entry.record.createdAt), random: Double.random(in: 0..<1))
        entry.record.attempts = attempts
        switch decision {
        case .succeed:
            entry.record.result = r.result
            finalize(&entry, state: .succeeded, error: nil, now: now, executedVersion: r.executedVersion)
        case .fail:
            finalize(&entry, state: .failed, error: r.error, now: now, executedVersion: r.executedVersion)
        case .expire:
            finalize(&entry, state: .expired, error: r.error, now: now, executedVersion: r.executedVersion)
        case .retry(let delay, _):
            entry.retries += 1
            entry.record.state = .queued
            entry.record.error = r.error
            entry.record.runAt = now.addingTimeInterval(delay)
            entry.readySince = entry.record.runAt
            live[id] = entry
            journal.append([.state(id: id, state: .queued, attempts: attempts, runAt: entry.record.runAt, finishedAt: nil, result: nil, error: r.error, at: now)])
            queue.push(
                QueuedTask(id: id, namespace: entry.record.namespace, function: entry.record.function, priority: entry.record.priority,
                           runAt: entry.record.runAt.timeIntervalSince1970, sequence: entry.sequence),
                now: now.timeIntervalSince1970)
        }
    }

    /// Ends a task for good: records it and sends it to its destination.
    private func finalize(_ entry: inout Live, state: TaskState, error: Data?, now: Date, executedVersion: String = "$LATEST") {
        let record = entry.record
        live.removeValue(forKey: record.id)
        journal.append([.state(id: record.id, state: state, attempts: record.attempts, runAt: record.runAt, finishedAt: now,
                               result: state == .succeeded ? record.result : nil, error: error, at: now)])
        guard state != .stopped,
              let config = invoker.catalog.function(record.namespace, record.function)?.config.async,
              let destination = state == .succeeded ? config.onSuccess : config.onFailure
        else { return }
        let condition = state == .succeeded ? "Success" : state == .expired ? "EventAgeExceeded" : "RetriesExhausted"
        let store = self.store
        let journal = self.journal
        let sender = destinations
        Task {
            // The attempts of the record come from the journal: wait until they are written.
            await journal.flush()
            let attempts = (try? store.attempts(taskID: record.id)) ?? []
            let body = DestinationRecord(
                timestamp: ISO8601DateFormatter().string(from: now),
                requestContext: .init(
                    requestId: attempts.last?.requestID ?? record.id, taskId: record.id,
                    functionArn: "arn:aws:lambda:swell:\(record.namespace):function:\(record.function)" + (record.qualifier == "$LATEST" ? "" : ":\(record.qualifier)"),
                    condition: condition, approximateInvokeCount: record.starts),
                requestPayload: JSONFragment(data: record.payload),
                responseContext: .init(statusCode: 200, executedVersion: executedVersion, functionError: state == .succeeded ? nil : attempts.last?.errorType ?? "Unhandled"),
                responsePayload: JSONFragment(data: state == .succeeded ? record.result : error),
                attempts: attempts.map {
                    .init(number: $0.number, requestId: $0.requestID, startedAt: ISO8601DateFormatter().string(from: $0.startedAt),
                          durationMs: $0.durationMs, outcome: $0.outcome)
                })
            guard let data = try? JSONEncoder().encode(body) else { return }
            await sender.send(destination, record: data, namespace: record.namespace, taskID: record.id, success: state == .succeeded,
                              source: "/swell/\(record.namespace)/\(record.function)")
        }
    }

    static func name(_ outcome: AttemptOutcome) -> String {
        switch outcome {
        case .succeeded: "succeeded"
        case .functionError: "functionError"
        case .timeout: "timeout"
        case .throttled: "throttled"
        case .platformFault: "platformFault"
        }
    }

    static func errorJSON(_ type: String, _ message: String) -> Data {
        (try? JSONEncoder().encode(FunctionError(errorType: type, errorMessage: message))) ?? Data()
    }

    // MARK: Waking

    private func wake() {
        wakeGeneration += 1
        if let w = wakeup {
            wakeup = nil
            w.resume()
        }
    }

    private func sleep(upTo limit: Duration?) async {
        let generation = wakeGeneration
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            if wakeGeneration != generation || !accepting && totalInFlight == 0 {
                c.resume()
                return
            }
            wakeup = c
            if let limit {
                Task { [weak self] in
                    try? await Task.sleep(for: limit)
                    await self?.timerFired(generation)
                }
            }
        }
    }

    private func timerFired(_ generation: Int) {
        if wakeGeneration == generation { wake() }
    }
}
