import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import SwellInvoker
import Tracing
import SwellModel
import SwellRuntime
import SwellScheduler
import SwellStore
import Synchronization

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
        /// The record's qualifier, parsed (nil if it no longer parses).
        var target: Qualifier?
        var sequence: UInt64
        var running: Running?
        /// Every re-run so far (drives the backoff).
        var retries = 0
        /// When it last became runnable, for the queue delay of its next start.
        var readySince: Date
        /// Scale-out: until when this node surely holds the task's lease (its claim or last
        /// renewal was sent at `lease − margin` before); it is not started after that.
        var heldUntil: ContinuousClock.Instant?
        /// The attempts finished since it was admitted; all of its attempts when
        /// `attemptsComplete` (it had never started before: not recovered, claimed back or
        /// re-driven after starts), so that a destination record needs no read of the store.
        var attempts: [TaskAttempt] = []
        var attemptsComplete = false
    }

    /// A function's queue, as caps and counters key it (no string building per task).
    struct FunctionName: Hashable, Sendable {
        var namespace: String
        var function: String
    }

    /// An idempotency key is per function.
    struct IdempotencySlot: Hashable, Sendable {
        var namespace: String
        var function: String
        var key: String
    }

    /// Per-function counters and the queued gauge, for the metrics.
    struct Counts: Sendable {
        var queued = 0
        var accepted = 0
        var succeeded = 0
        var failed = 0
        var expired = 0
        var stopped = 0
        var retries = 0
    }

    let journal: TaskJournal
    let store: any TaskStorage
    let invoker: Invoker
    let logger: Logger
    nonisolated let destinations: DestinationSender
    /// Async invocations in flight on the node at most (on top of per-function caps).
    let maxInFlight: Int

    private var live: [String: Live] = [:]
    private var queue = TaskQueue()
    private var counts: [FunctionName: Counts] = [:]
    /// What decides whether a task may start (in flight per function and on the node, the
    /// namespaces' token buckets), behind a lock: a workflow Task state is let through from
    /// its own task when nothing waits, without entering the actor twice per invocation.
    struct Admission {
        var inFlight: [FunctionName: Int] = [:]
        var totalInFlight = 0
        var buckets: [String: TokenBucket] = [:]
        /// Workflow Task states let through and not yet finished, by request id.
        var workflowRunning: [String: FunctionName] = [:]
        /// Ready tasks in the queue as the actor last left it (0: no task is passed over by starting at once).
        var waiting = 0
        var accepting = true
        var nodeCount = 1

        /// Whether `function` has room under `cap` and `namespace` a token (not taken).
        mutating func mayStart(_ name: FunctionName, cap: Int?, now: Double) -> Bool {
            if var bucket = buckets[name.namespace] {
                let ok = bucket.available(now: now)
                buckets[name.namespace] = bucket
                if !ok { return false }
            }
            if let cap, inFlight[name, default: 0] >= cap { return false }
            return true
        }

        /// Counts a start and takes its namespace's token.
        mutating func started(_ name: FunctionName, now: Double) {
            if buckets[name.namespace] != nil { _ = buckets[name.namespace]!.take(now: now) }
            inFlight[name, default: 0] += 1
            totalInFlight += 1
        }

        mutating func finished(_ name: FunctionName) {
            inFlight[name, default: 1] -= 1
            totalInFlight -= 1
        }
    }
    private nonisolated let admission = Mutex(Admission())
    private var totalInFlight: Int { admission.withLock { $0.totalInFlight } }
    private var limits: [String: NamespaceTaskLimits] = [:]
    /// The enqueue path's side, outside the actor: idempotency keys, and the tasks committed
    /// that the dispatcher has yet to take into its queue (`takeCommitted`). An enqueue never
    /// enters the actor: concurrent enqueues meet only in the journal's group commit.
    private nonisolated let intake = Mutex(TaskIntake<IdempotencySlot, TaskRecord>(window: TaskLimits.idempotencyWindow))
    private var sequence: UInt64 = 0
    /// The dispatch loop's sleep, and a count of wake-ups (one that came before the loop slept
    /// is not lost): behind a lock, so that anyone (an enqueue, a finished workflow Task
    /// state) wakes the loop without entering the actor.
    struct Waker {
        var sleeper: CheckedContinuation<Void, Never>?
        var generation = 0
    }
    private nonisolated let waker = Mutex(Waker())
    /// Attempts that ended and that the dispatcher has not recorded yet: a finishing attempt
    /// hands its result over here and wakes the loop, which records every ended attempt in one
    /// turn (`takeEnded`), instead of each entering the actor on its own.
    private nonisolated let endings = Mutex<[(id: String, result: ExecutionResult)]>([])
    /// The earliest pending timer of the dispatch loop (one timer task at a time, not one per pass).
    private var timerDeadline: ContinuousClock.Instant?
    private var accepting = true {
        didSet { admission.withLock { [accepting] in $0.accepting = accepting } }
    }
    private var recovered = false
    /// Scale-out: the shared queue this node claims from, and how (nil: this node owns its queue alone).
    let leasing: (any TaskLeasing)?
    let leaseSettings: TaskLeaseSettings?
    private var claimWanted = false
    /// Live nodes sharing the queue (scale-out): namespace rate limits and per-function async
    /// caps are split among them, so that together they hold cluster-wide.
    private var nodeCount = 1
    /// Scale-out: tasks finished here whose final state is not yet committed (the journal
    /// writes behind): their leases are kept until it is, so no other node runs them again.
    private var unflushed: Set<String> = []
    private var claimWakeup: CheckedContinuation<Void, Never>?
    /// Workflow Task states waiting in the queue for their turn, by request id (not stored:
    /// the workflow journal is their durable record).
    private var workflowWaiting: [String: WorkflowWaiter] = [:]
    /// The trailing journal writes (starts, ends, state changes) of the current actor turn:
    /// handed to the journal in one `append` when the turn's dispatch pass or batch of endings
    /// is done (`flushWrites`), not one lock and one array per write.
    private var writes: [TaskWrite] = []
    /// What a dispatch pass has resolved of the versions its tasks target (cleared per pass).
    private var passTargets: [TargetKey: TargetLimits?] = [:]
    /// What a turn of endings has resolved of the versions that ran (cleared per turn).
    private var turnConfigs: [ExecutedKey: AsyncConfig?] = [:]

    /// A function's version or alias as a task names it.
    struct TargetKey: Hashable {
        var namespace: String
        var function: String
        var qualifier: Qualifier
    }

    /// The version an attempt ran, for a task of `target`.
    struct ExecutedKey: Hashable {
        var namespace: String
        var function: String
        var executed: String
        var target: Qualifier?
    }

    /// What dispatch needs of a target version: its async cap on this node and its maximum event age.
    struct TargetLimits {
        var cap: Int
        var maxEventAge: Int
    }

    /// - Parameter cluster: with a store that many nodes share (`TaskLeasing`), the settings
    ///   of this node's claims; tasks then run on whichever node claims them.
    public init(
        store: any TaskStorage, invoker: Invoker, logger: Logger, kafka: (any KafkaRecordPublisher)? = nil, maxInFlight: Int = 2048,
        cluster: TaskLeaseSettings? = nil
    ) {
        self.store = store
        if let cluster, let leasing = store as? any TaskLeasing {
            self.leasing = leasing
            self.leaseSettings = cluster
        } else {
            self.leasing = nil
            self.leaseSettings = nil
        }
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

    /// Lets `workflow:` destinations start executions (the server's workflow engine).
    public nonisolated func setWorkflowStarter(_ starter: @escaping WorkflowStarter) {
        destinations.workflows.set(starter)
    }

    final class WeakBox: @unchecked Sendable {
        weak var service: TaskService?
    }

    // MARK: Enqueue

    /// Accepts a task: once this returns, the task is on disk and will run.
    /// - Throws: `SwellError` for an unknown function (404), bad options (400) or a closed queue (503-like throttle).
    public nonisolated func enqueue(
        namespace: String, function: String, qualifier: String, payload: Data, options: TaskOptions
    ) async throws(SwellError) -> EnqueueResult {
        let results = try await enqueueBatch(
            namespace: namespace, function: function, qualifier: qualifier, tasks: [TaskSubmission(payload: payload, options: options)])
        return results[0]
    }

    /// Accepts tasks for one function in one journal commit (one transaction, one fsync): once
    /// this returns, every new task is on disk and will run; when the commit fails, none is
    /// accepted. The answers are in the order of `tasks`. An entry whose idempotency key was
    /// used within the window (before, or by an earlier entry of the same call) answers the
    /// first task's id with `duplicate` and adds nothing.
    ///
    /// It runs outside the actor: the keys are claimed under the intake's lock, the commit is
    /// shared with whatever else the journal's writer takes at once (many concurrent enqueues
    /// per fsync), and the committed tasks are handed to the dispatcher through the intake,
    /// which takes them into its queue when it next looks (any call that reads the queue takes
    /// them first).
    /// - Throws: `SwellError` for an unknown function or qualifier (404), a closed queue (429)
    ///   or a failed commit (500).
    public nonisolated func enqueueBatch(
        namespace: String, function: String, qualifier: String, tasks: [TaskSubmission]
    ) async throws(SwellError) -> [EnqueueResult] {
        guard admission.withLock({ $0.accepting }) else { throw SwellError(.throttled, "the server is shutting down; try again", retryAfter: 1) }
        _ = try invoker.catalog.resolve(namespace, function, try Qualifier(parsing: qualifier), random: 0)
        let now = Date()
        let seconds = now.timeIntervalSince1970
        var results: [EnqueueResult] = []
        results.reserveCapacity(tasks.count)
        var records: [TaskRecord] = []
        records.reserveCapacity(tasks.count)
        var claimed: [(slot: IdempotencySlot, id: String)] = []
        // With tracing on, the tasks' attempts continue the trace of the span that enqueues them.
        let currentTrace = invoker.tracing ? ServiceContext.current.flatMap(SwellTracing.traceParent(of:))?.header : nil
        for task in tasks {
            let id = Self.newID(now)
            if let key = task.options.idempotencyKey {
                let slot = IdempotencySlot(namespace: namespace, function: function, key: key)
                if let leasing {
                    if let first = intake.withLock({ $0.holder(of: slot, now: seconds) }) {
                        results.append(EnqueueResult(taskID: first, duplicate: true))
                        continue
                    }
                    // Scale-out: the key is reserved in the shared store, where it is unique: of
                    // two nodes (or two enqueues here) reserving it at once, one holds it and the
                    // other answers its task.
                    let holder: String
                    do {
                        holder = try await leasing.reserveIdempotencyKey(namespace: namespace, function: function, key: key, taskID: id, at: now)
                    } catch {
                        // None of the call is stored: the keys claimed for its earlier entries are free again.
                        intake.withLock { i in
                            for c in claimed { i.release(c.slot, id: c.id) }
                        }
                        throw SwellError(.internal, "the idempotency key could not be checked: \(error)")
                    }
                    if holder != id {
                        intake.withLock { $0.remember(slot, id: holder, at: seconds) }
                        results.append(EnqueueResult(taskID: holder, duplicate: true))
                        continue
                    }
                }
                // Claimed before the commit: a concurrent duplicate answers this task. (Scale-out:
                // a concurrent enqueue here that lost the shared reservation to this one may have
                // recorded this task as the key's holder already.)
                if let first = intake.withLock({ $0.claim(slot, id: id, now: seconds) }), first != id {
                    results.append(EnqueueResult(taskID: first, duplicate: true))
                    continue
                }
                claimed.append((slot, id))
            }
            let options = task.options
            records.append(TaskRecord(
                id: id, namespace: namespace, function: function, qualifier: qualifier, priority: options.priority, payload: task.payload,
                idempotencyKey: options.idempotencyKey, timeout: options.timeout, createdAt: now, runAt: options.runAt ?? now,
                traceParent: options.traceParent ?? currentTrace))
            results.append(EnqueueResult(taskID: id, duplicate: false))
        }
        guard !records.isEmpty else { return results }
        do {
            try await journal.commit(records.map { .insert($0) })
        } catch {
            intake.withLock { i in
                for c in claimed { i.release(c.slot, id: c.id) }
            }
            if let leasing {
                // Keys reserved for tasks that were not stored are free again (best effort; else they lapse).
                for c in claimed { try? await leasing.releaseIdempotencyKey(namespace: namespace, function: function, key: c.slot.key, taskID: c.id) }
            }
            let what = records.count == 1 ? "the task" : "the \(records.count) tasks"
            throw SwellError(.internal, "\(what) could not be stored: \(error)")
        }
        // Scale-out: the records only count them (whichever node claims them runs them, this one too).
        if intake.withLock({ $0.committed(records) }) { wake() }
        return results
    }

    /// Takes the tasks committed since the last look into the queue (every actor call that
    /// reads the queue, the live tasks or the counters calls this first). Scale-out: they are
    /// counted, and the claimer is asked to claim (they run wherever they are claimed).
    private func takeCommitted() {
        let records = intake.withLock { $0.take() }
        guard !records.isEmpty else { return }
        let now = Date().timeIntervalSince1970
        var i = records.startIndex
        while i < records.endIndex {
            // One function's run of tasks (a batch is one): one qualifier parse and one count update.
            let first = records[i]
            var j = i + 1
            while j < records.endIndex, records[j].namespace == first.namespace, records[j].function == first.function,
                  records[j].qualifier == first.qualifier { j += 1 }
            let name = FunctionName(namespace: first.namespace, function: first.function)
            counts[name, default: Counts()].accepted += j - i
            if leasing == nil {
                let target = try? Qualifier(parsing: first.qualifier)
                var admitted = 0
                // A task recovery already took in (committed while it read the store) is not queued twice.
                for record in records[i..<j] where live[record.id] == nil {
                    admit(record, target: target, now: now)
                    admitted += 1
                }
                counts[name, default: Counts()].queued += admitted
            }
            i = j
        }
        if leasing != nil {
            claimSoon()
        } else {
            syncWaiting()
        }
    }

    /// Puts a stored task in the queue (the caller wakes the dispatcher).
    private func admit(_ record: TaskRecord) {
        admit(record, target: try? Qualifier(parsing: record.qualifier), now: Date().timeIntervalSince1970)
        counts[FunctionName(namespace: record.namespace, function: record.function), default: Counts()].queued += 1
        syncWaiting()
    }

    /// `admit` of one task of a batch: the caller counts it queued and syncs the admission lock.
    private func admit(_ record: TaskRecord, target: Qualifier?, now: Double) {
        sequence += 1
        live[record.id] = Live(
            record: record, target: target, sequence: sequence, readySince: max(record.runAt, record.createdAt),
            attemptsComplete: record.starts == 0)
        queue.push(
            QueuedTask(id: record.id, namespace: record.namespace, function: record.function, priority: record.priority,
                       runAt: record.runAt.timeIntervalSince1970, sequence: sequence),
            now: now)
    }

    /// Time-ordered, unique ids: 12 hex digits of milliseconds, then 16 random hex digits.
    nonisolated static func newID(_ now: Date) -> String {
        let ms = UInt64(now.timeIntervalSince1970 * 1000)
        let time = String(ms, radix: 16)
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return "t" + String(repeating: "0", count: max(0, 12 - time.count)) + time
            + String(repeating: "0", count: max(0, 16 - random.count)) + random
    }

    // MARK: Workflow tasks

    /// The priority a workflow's Task state waits with: that of an async task enqueued without
    /// one, so a namespace's workflows and its async tasks take turns in arrival order.
    public static let workflowTaskPriority = 0

    struct WorkflowWaiter {
        var namespace: String
        var function: String
        var target: Qualifier
        var continuation: CheckedContinuation<Bool, Never>
    }

    /// How a workflow Task state's invocation went through the queue.
    public enum WorkflowTaskRun: Sendable {
        /// It had its turn and ran: the invoker's answer.
        case invoked(Result<Invoker.Response, SwellError>)
        /// It was cancelled (its Task state timed out, its execution stopped, the server is
        /// shutting down) before its turn came.
        case cancelled
    }

    /// Runs a workflow Task state's invocation as an async task runs: it waits in the same
    /// queue (the namespace's share, `priority`, the namespace's rate limit, the function's
    /// async concurrency cap, this node's share of both on a cluster, latency-sensitive work
    /// first), then invokes in the offline work class, in the caller's task. It is not written
    /// to the task store, never retried here (the workflow's `Retry` decides) and not expired:
    /// the workflow journal is its durable record. Cancelling the caller's task, or
    /// `cancelWorkflowTask`, takes it out of the queue.
    public nonisolated func runWorkflowTask(
        namespace: String, function: String, qualifier: Qualifier, payload: ByteBuffer, requestID: String, timeout: Int?,
        priority: Int = TaskService.workflowTaskPriority
    ) async -> WorkflowTaskRun {
        if !startAtOnce(namespace: namespace, function: function, qualifier: qualifier, requestID: requestID) {
            guard await waitForTurn(namespace: namespace, function: function, qualifier: qualifier, requestID: requestID, priority: priority) else {
                return .cancelled
            }
        }
        let result: Result<Invoker.Response, SwellError>
        do {
            result = .success(try await invoker.invoke(
                namespace: namespace, name: function, qualifier: qualifier, payload: payload, workClass: .offline, requestID: requestID,
                timeout: timeout))
        } catch {
            result = .failure(error)
        }
        let waiting = admission.withLock { a -> Bool in
            guard let name = a.workflowRunning.removeValue(forKey: requestID) else { return false }
            a.finished(name)
            return a.waiting > 0
        }
        // Room for what waits: the dispatcher looks (nothing waiting: the actor is not entered).
        if waiting { wake() }
        return .invoked(result)
    }

    /// Lets a workflow Task state start at once, from the caller's task, when nothing waits
    /// in the queue (so no one is passed over) and it may start now.
    private nonisolated func startAtOnce(namespace: String, function: String, qualifier: Qualifier, requestID: String) -> Bool {
        guard !invoker.runtime.hasLatencyWaiting(namespace: namespace, name: function) else { return false }
        let config = try? invoker.catalog.resolve(namespace, function, qualifier, random: 1).config
        let name = FunctionName(namespace: namespace, function: function)
        let now = Date().timeIntervalSince1970
        return admission.withLock { a in
            guard a.accepting, a.waiting == 0, a.totalInFlight < maxInFlight,
                  a.mayStart(name, cap: config.map { Self.asyncCap($0, nodes: a.nodeCount) }, now: now)
            else { return false }
            a.started(name, now: now)
            a.workflowRunning[requestID] = name
            return true
        }
    }

    /// A function's async concurrency cap on this node: an explicit cap split across the live
    /// nodes (rounded up); the default cap follows this node's own instances.
    static func asyncCap(_ config: FunctionConfig, nodes: Int) -> Int {
        config.async.concurrency.map { ($0 + nodes - 1) / nodes } ?? config.scaling.maxInstances * config.concurrency
    }

    /// Takes a workflow Task state's invocation out of the queue, or interrupts it if it runs.
    public nonisolated func cancelWorkflowTask(namespace: String, function: String, requestID: String) {
        for pool in invoker.runtime.pools(namespace: namespace, name: function) {
            if pool.interrupt(requestID) { return }
        }
        Task { await self.cancelWaiting(requestID) }
    }

    /// Waits until the dispatcher lets the invocation start (true), or it is cancelled (false).
    private func waitForTurn(namespace: String, function: String, qualifier: Qualifier, requestID: String, priority: Int) async -> Bool {
        let now = Date().timeIntervalSince1970
        sequence += 1
        let queued = QueuedTask(id: requestID, namespace: namespace, function: function, priority: priority, runAt: now, sequence: sequence)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                if Task.isCancelled {
                    c.resume(returning: false)
                    return
                }
                workflowWaiting[requestID] = WorkflowWaiter(namespace: namespace, function: function, target: qualifier, continuation: c)
                queue.push(queued, now: now)
                syncWaiting()
                wake()
            }
        } onCancel: {
            Task { await self.cancelWaiting(requestID) }
        }
    }

    private func startWorkflowTask(_ requestID: String, name: FunctionName, now: Double) {
        admission.withLock { a in
            a.started(name, now: now)
            a.workflowRunning[requestID] = name
        }
    }

    /// Tells the admission lock how many tasks are ready and wait (after the queue changed;
    /// delayed ones are not counted: they pass nobody until their time, when a dispatch pass
    /// syncs again).
    private func syncWaiting() {
        let count = queue.readyCount
        admission.withLock { $0.waiting = count }
    }

    private func cancelWaiting(_ requestID: String) {
        if let waiter = workflowWaiting.removeValue(forKey: requestID) {
            queue.remove(requestID, namespace: waiter.namespace, function: waiter.function)
            syncWaiting()
            waiter.continuation.resume(returning: false)
        } else if let name = admission.withLock({ $0.workflowRunning[requestID] }) {
            // Let through just before the cancel: interrupt it if its invocation has started meanwhile.
            for pool in invoker.runtime.pools(namespace: name.namespace, name: name.function) {
                if pool.interrupt(requestID) { return }
            }
        }
    }

    // MARK: Stop and re-drive

    /// Stops a queued task at once, or a running one by interrupting its invocation.
    /// - Returns: the state the task is in afterwards (`stopped`, or `running` while the interruption lands).
    public func stop(namespace: String, id: String) async throws(SwellError) -> TaskState {
        takeEnded()
        takeCommitted()
        guard var entry = live[id], entry.record.namespace == namespace else {
            guard let stored = try? await store.task(id: id, namespace: namespace) else { throw SwellError.notFound("task \(id) does not exist in namespace \(namespace)") }
            // Scale-out: a queued task no node has claimed is stopped in the shared queue; one
            // another node holds is that node's to stop.
            if let leasing, !stored.state.isFinal {
                if (try? await leasing.stopUnclaimed(id: id, namespace: namespace, at: Date())) == true {
                    counts[FunctionName(namespace: namespace, function: stored.function), default: Counts()].stopped += 1
                    return .stopped
                }
                throw SwellError(.conflict, "task \(id) is \(stored.state.rawValue) on another node; send the stop to that node, or again once it is finished", retryAfter: 1)
            }
            throw SwellError(.conflict, "task \(id) is already \(stored.state.rawValue)")
        }
        if var running = entry.running {
            running.stopRequested = true
            entry.running = running
            live[id] = entry
            for pool in invoker.runtime.pools(namespace: namespace, name: entry.record.function) {
                if pool.interrupt(running.attempt.requestID) { break }
            }
            return .running
        }
        queue.remove(id, namespace: namespace, function: entry.record.function)
        syncWaiting()
        live.removeValue(forKey: id)
        let name = FunctionName(namespace: namespace, function: entry.record.function)
        counts[name, default: Counts()].queued -= 1
        counts[name, default: Counts()].stopped += 1
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
        takeEnded()
        takeCommitted()
        // Another namespace's task is not there at all for this caller (404 below, never 409).
        if let entry = live[id], entry.record.namespace == namespace { throw SwellError(.conflict, "task \(id) is still queued or running") }
        guard var record = try? await store.task(id: id, namespace: namespace) else {
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
        if leasing != nil {
            claimSoon()
        } else {
            admit(record)
            wake()
        }
        return record
    }

    /// Sets a namespace's async rate limit and share.
    public func setLimits(_ settings: NamespaceTaskLimits, namespace: String) async throws {
        try await store.setLimits(settings, namespace: namespace)
        apply(settings, namespace: namespace)
        wake()
    }

    public func limits(namespace: String) -> NamespaceTaskLimits { limits[namespace] ?? NamespaceTaskLimits() }

    /// Scale-out: the number of live nodes sharing the queue (from the node registry).
    public func setNodeCount(_ count: Int) {
        let count = max(1, count)
        guard count != nodeCount else { return }
        nodeCount = count
        admission.withLock { $0.nodeCount = count }
        for (namespace, settings) in limits { apply(settings, namespace: namespace) }
    }

    private func apply(_ settings: NamespaceTaskLimits, namespace: String) {
        limits[namespace] = settings
        queue.setWeight(settings.weight, namespace: namespace)
        if let rate = settings.ratePerSecond {
            // Each of N nodes admits 1/N of the rate and of the burst.
            let share = Double(nodeCount)
            let bucket = TokenBucket(
                rate: rate / share, burst: max(1, (settings.burst ?? max(1, rate)) / share), now: Date().timeIntervalSince1970)
            admission.withLock { $0.buckets[namespace] = bucket }
        } else {
            _ = admission.withLock { $0.buckets.removeValue(forKey: namespace) }
        }
    }

    /// Tasks waiting and running on this node.
    public var depth: (queued: Int, delayed: Int, running: Int) {
        takeEnded()
        takeCommitted()
        return (queue.readyCount, queue.delayedCount, totalInFlight)
    }

    /// The queue's gauges and counters per function, and the journal's, for `GET /v1/metrics`.
    public func metrics() -> TaskMetrics {
        takeEnded()
        takeCommitted()
        let inFlight = admission.withLock { $0.inFlight }
        let functions = counts.map { name, c in
            TaskMetrics.Function(
                namespace: name.namespace, function: name.function, queued: c.queued, running: inFlight[name] ?? 0,
                accepted: c.accepted, succeeded: c.succeeded, failed: c.failed, expired: c.expired, stopped: c.stopped,
                retries: c.retries)
        }.sorted { ($0.namespace, $0.function) < ($1.namespace, $1.function) }
        return TaskMetrics(functions: functions, journal: journal.stats, idempotencyKeys: intake.withLock { $0.idempotency.count })
    }

    // MARK: Service

    public func run() async throws {
        try await recover()
        let claims = leasing.map { leasing in Task { await self.claimLoop(leasing) } }
        let renewals = leasing.map { leasing in Task { await self.renewLoop(leasing) } }
        let flushes = leasing.map { _ in Task { await self.flushLoop() } }
        let purge = Task { [journal] in
            while !Task.isCancelled {
                journal.append([.purge(finishedBefore: Date().addingTimeInterval(-TaskLimits.retention))])
                try? await Task.sleep(for: .seconds(3600))
            }
        }
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                // Read before the pass: a wake-up during it (an enqueue or an ending, off the
                // actor) makes the sleep below return at once instead of being lost.
                let generation = waker.withLock { $0.generation }
                let next = dispatch()
                await sleep(upTo: next, since: generation)
            }
        } onGracefulShutdown: {
            Task { await self.beginShutdown() }
        }
        purge.cancel()
        accepting = false
        claims?.cancel()
        wakeClaimer()
        await claims?.value
        // Scale-out: tasks claimed but not started go back to the shared queue at once.
        if let leasing, let settings = leaseSettings {
            let waiting = live.filter { $0.value.running == nil }.map(\.key)
            do {
                try await leasing.releaseLeases(node: settings.node, ids: waiting)
            } catch {
                logger.warning("claimed tasks could not be given back; they return when their lease lapses", metadata: ["error": "\(error)"])
            }
        }
        // Let running attempts finish (they are recorded); queued ones stay queued on disk.
        let deadline = ContinuousClock.now + .seconds(10)
        while admission.withLock({ $0.totalInFlight - $0.workflowRunning.count }) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
            takeEnded(wakeAfter: false)
        }
        takeEnded(wakeAfter: false)
        await journal.flush()
        renewals?.cancel()
        flushes?.cancel()
        journal.close()
    }

    // MARK: Scale-out claims

    /// Claims tasks from the shared queue while this node has room for them: at most
    /// `prefetch` waiting here, the rest left to other nodes.
    private func claimLoop(_ leasing: any TaskLeasing) async {
        guard let settings = leaseSettings else { return }
        var failures = 0
        while !Task.isCancelled && accepting {
            claimWanted = false
            let (total, workflows) = admission.withLock { ($0.totalInFlight, $0.workflowRunning.count) }
            let waiting = live.count - (total - workflows)
            let room = min(settings.prefetch - waiting, maxInFlight - total)
            var claimedAny = false
            if room > 0 {
                do {
                    let sent = ContinuousClock.now
                    let claimed = try await leasing.claimTasks(node: settings.node, limit: room, lease: settings.lease, now: Date())
                    failures = 0
                    let held = sent + .milliseconds(Int64((settings.lease - settings.margin) * 1000))
                    for record in claimed where live[record.id] == nil {
                        admit(record)
                        live[record.id]?.heldUntil = held
                    }
                    if !claimed.isEmpty {
                        claimedAny = claimed.count == room
                        wake()
                    }
                } catch {
                    failures += 1
                    if failures == 1 || failures % 100 == 0 {
                        logger.warning("cannot claim tasks from the shared queue", metadata: ["error": "\(error)", "failures": "\(failures)"])
                    }
                }
            }
            // A full batch: there may be more at once; else wait for a wake-up or the poll interval.
            if !claimedAny { await sleepClaimer(settings.pollInterval) }
        }
    }

    /// Keeps this node's claims alive; a task another node took meanwhile (this node stalled
    /// past its lease) is dropped here if it has not started.
    private func renewLoop(_ leasing: any TaskLeasing) async {
        guard let settings = leaseSettings else { return }
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(Int64(settings.renewInterval * 1000)))
            let ids = Array(live.keys) + Array(unflushed)
            do {
                let sent = ContinuousClock.now
                let lost = try await leasing.renewLeases(node: settings.node, ids: ids, until: Date().addingTimeInterval(settings.lease))
                let held = sent + .milliseconds(Int64((settings.lease - settings.margin) * 1000))
                for id in ids where !lost.contains(id) { live[id]?.heldUntil = held }
                // Finished tasks whose final state landed meanwhile are nobody's: not a loss.
                let taken = lost.filter { live[$0] != nil }
                for id in taken {
                    guard let entry = live[id], entry.running == nil else { continue }
                    queue.remove(id, namespace: entry.record.namespace, function: entry.record.function)
                    syncWaiting()
                    live.removeValue(forKey: id)
                    counts[FunctionName(namespace: entry.record.namespace, function: entry.record.function), default: Counts()].queued -= 1
                }
                if !taken.isEmpty { logger.warning("tasks claimed by another node after this node's lease lapsed", metadata: ["count": "\(taken.count)"]) }
            } catch {
                logger.warning("cannot renew task leases", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Forgets finished tasks once the journal has committed their final state (until then
    /// `renewLoop` keeps their leases).
    private func flushLoop() async {
        while !Task.isCancelled {
            let pending = unflushed
            if pending.isEmpty {
                try? await Task.sleep(for: .milliseconds(250))
                continue
            }
            await journal.flush()
            unflushed.subtract(pending)
        }
    }

    /// Asks the claimer to claim now (new tasks were committed, or room freed up).
    private func claimSoon() {
        claimWanted = true
        wakeClaimer()
    }

    private func wakeClaimer() {
        if let c = claimWakeup {
            claimWakeup = nil
            c.resume()
        }
    }

    private func sleepClaimer(_ seconds: TimeInterval) async {
        if claimWanted || Task.isCancelled { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            claimWakeup = c
            Task { [weak self] in
                try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                await self?.wakeClaimer()
            }
        }
    }

    private func beginShutdown() {
        accepting = false
        wake()
    }

    private func recover() async throws {
        guard !recovered else { return }
        recovered = true
        let now = Date()
        for (ns, settings) in try await store.allLimits() { apply(settings, namespace: ns) }
        // Scale-out: nothing is recovered wholesale; tasks come by claims (a dead node's when its leases lapse).
        if leasing != nil { return }
        let keys = try await store.recentIdempotencyKeys(since: now.addingTimeInterval(-TaskLimits.idempotencyWindow))
        intake.withLock { i in
            for entry in keys {
                i.remember(
                    IdempotencySlot(namespace: entry.namespace, function: entry.function, key: entry.key), id: entry.taskID,
                    at: entry.createdAt.timeIntervalSince1970)
            }
        }
        let pending = try await store.recover(at: now)
        // Enqueued while recovery read the store: already in `pending` if committed before the read.
        takeCommitted()
        for record in pending where live[record.id] == nil { admit(record) }
        if !pending.isEmpty { logger.notice("async tasks recovered", metadata: ["count": "\(pending.count)"]) }
    }

    // MARK: Dispatch

    /// Starts every task that may start now; returns when to look again (nil: on the next event).
    private func dispatch() -> Duration? {
        guard accepting else { return nil }
        takeEnded(wakeAfter: false)
        takeCommitted()
        defer {
            syncWaiting()
            passTargets.removeAll(keepingCapacity: true)
            flushWrites()
        }
        let nowDate = Date()
        let now = nowDate.timeIntervalSince1970
        var blocked = false
        while totalInFlight < maxInFlight {
            guard let task = queue.next(now: now, allow: { t in
                let ok = self.mayStart(t, now: now)
                if !ok { blocked = true }
                return ok
            }) else { break }
            if let waiter = workflowWaiting.removeValue(forKey: task.id) {
                startWorkflowTask(task.id, name: FunctionName(namespace: task.namespace, function: task.function), now: now)
                waiter.continuation.resume(returning: true)
            } else {
                start(task.id, now: nowDate)
            }
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
        mayStart(task, now: now, target: live[task.id]?.target ?? workflowWaiting[task.id]?.target)
    }

    /// `target`: the qualifier the task invokes (nil: no cap applies, it fails when it runs).
    private func mayStart(_ task: QueuedTask, now: Double, target: Qualifier?) -> Bool {
        // The cap of the version the task targets, against the function's async work in flight
        // (none when the function or qualifier is gone: the attempt fails when it runs).
        let limits = target.flatMap { passLimits(task.namespace, task.function, $0) }
        let name = FunctionName(namespace: task.namespace, function: task.function)
        guard admission.withLock({ $0.mayStart(name, cap: limits?.cap, now: now) }) else { return false }
        guard limits != nil else { return true }
        // Latency-sensitive requests are waiting for this function's slots: offline work yields.
        return !invoker.runtime.hasLatencyWaiting(namespace: task.namespace, name: task.function)
    }

    /// The cap and maximum event age of the version a task targets (nil: the function or the
    /// qualifier is gone), resolved once per dispatch pass (only a dispatch pass calls this).
    private func passLimits(_ namespace: String, _ function: String, _ qualifier: Qualifier) -> TargetLimits? {
        let key = TargetKey(namespace: namespace, function: function, qualifier: qualifier)
        if let known = passTargets[key] { return known }
        let limits = (try? invoker.catalog.resolve(namespace, function, qualifier, random: 1)).map {
            TargetLimits(cap: Self.asyncCap($0.config, nodes: nodeCount), maxEventAge: $0.config.async.maxEventAge)
        }
        passTargets[key] = limits
        return limits
    }

    /// The version a task targets (an alias: its main version), nil when the function or the
    /// qualifier is gone. Its `async` settings apply until an attempt tells which version ran.
    private func target(of entry: Live) -> Catalog.Resolved? {
        guard let qualifier = entry.target else { return nil }
        return try? invoker.catalog.resolve(entry.record.namespace, entry.record.function, qualifier, random: 1)
    }

    /// `asyncConfig`, resolved once per turn of endings for each function and version.
    private func turnAsyncConfig(of entry: Live, executedVersion: String) -> AsyncConfig? {
        // The target is part of the key: a version that is gone falls back to it.
        let key = ExecutedKey(namespace: entry.record.namespace, function: entry.record.function, executed: executedVersion, target: entry.target)
        if let known = turnConfigs[key] { return known }
        let config = asyncConfig(of: entry, executedVersion: executedVersion)
        turnConfigs[key] = config
        return config
    }

    /// The async settings of the version an attempt ran (`executedVersion`), else of the target.
    private func asyncConfig(of entry: Live, executedVersion: String) -> AsyncConfig? {
        if let n = Int(executedVersion),
           let resolved = try? invoker.catalog.resolve(entry.record.namespace, entry.record.function, .version(n), random: 1) {
            return resolved.config.async
        }
        if executedVersion == "$LATEST" { return invoker.catalog.function(entry.record.namespace, entry.record.function)?.config.async }
        return target(of: entry)?.config.async
    }

    private func start(_ id: String, now: Date) {
        guard var entry = live[id] else { return }
        var record = entry.record
        let name = FunctionName(namespace: record.namespace, function: record.function)
        counts[name, default: Counts()].queued -= 1
        // Scale-out: a claim whose lease may have lapsed (renewals held up) may be another
        // node's by now: not started here (it goes to whoever claims it next, this node too).
        if let held = entry.heldUntil, held < ContinuousClock.now {
            live.removeValue(forKey: id)
            return
        }
        // Too old to run at all: expire instead.
        let maxAge = Double(entry.target.flatMap { passLimits(record.namespace, record.function, $0) }?.maxEventAge ?? Int.max)
        if now.timeIntervalSince(record.createdAt) >= maxAge {
            // The namespace's token is taken whether it runs or expires.
            admission.withLock { a in
                if a.buckets[record.namespace] != nil { _ = a.buckets[record.namespace]!.take(now: now.timeIntervalSince1970) }
            }
            let target = target(of: entry)
            finalize(&entry, state: .expired, error: Self.errorJSON("Task.EventAgeExceeded", "the task waited longer than its maximum event age (\(Int(maxAge)) s)"),
                     now: now, executedVersion: target?.key.version.description ?? "$LATEST", config: target?.config.async)
            return
        }
        record.starts += 1
        record.state = .running
        let attempt = TaskAttempt(
            taskID: id, number: record.starts, requestID: RandomID.uuid(), startedAt: now,
            queueDelayMs: max(0, now.timeIntervalSince(entry.readySince) * 1000))
        entry.record = record
        entry.running = Running(attempt: attempt)
        live[id] = entry
        // One lock for the token and the count (a pass starts many tasks).
        admission.withLock { $0.started(name, now: now.timeIntervalSince1970) }
        writes.append(.started(attempt, starts: record.starts))
        launch(record, attempt: attempt)
    }

    /// Runs an attempt in a task of its own, off the actor (it does not start on the actor to
    /// leave it at once), on one of the Runtime API event loops (the invocation and its answer
    /// hop through no other thread), and hands its end to the dispatch loop.
    private nonisolated func launch(_ record: TaskRecord, attempt: TaskAttempt) {
        Task(executorPreference: invoker.runtime.taskExecutors.next()) { [self] in
            let result = await Self.execute(record, attempt: attempt, invoker: invoker)
            ended(record.id, result: result)
        }
    }

    /// An attempt ended: queued for the dispatcher; the first of a batch wakes the loop.
    private nonisolated func ended(_ id: String, result: ExecutionResult) {
        let first = endings.withLock { e in
            e.append((id, result))
            return e.count == 1
        }
        if first { wake() }
    }

    /// Records the attempts that ended (their retries, final states, destinations). Outside a
    /// dispatch pass (`wakeAfter`), the loop is woken to fill the room they freed.
    private func takeEnded(wakeAfter: Bool = true) {
        let ended = endings.withLock { e in
            defer { e.removeAll(keepingCapacity: true) }
            return e
        }
        guard !ended.isEmpty else { return }
        defer {
            turnConfigs.removeAll(keepingCapacity: true)
            flushWrites()
        }
        for e in ended { finished(e.id, result: e.result) }
        if wakeAfter { wake() }
    }

    /// Hands the turn's trailing writes to the journal, in the order they were made (before
    /// anything this actor commits or flushes afterwards).
    private func flushWrites() {
        guard !writes.isEmpty else { return }
        journal.append(writes)
        writes.removeAll(keepingCapacity: true)
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
        guard invoker.tracing else { return await run(record, attempt: attempt, invoker: invoker) }
        // A consumer span per attempt, continuing the trace of the request that enqueued the task.
        let parent = record.traceParent.flatMap(TraceParent.init(header:)).map(SwellTracing.context(continuing:)) ?? .topLevel
        return await withSpan("task \(record.namespace)/\(record.function)", context: parent, ofKind: .consumer) { span in
            span.attributes["swell.task_id"] = record.id
            span.attributes["swell.attempt"] = attempt.number
            span.attributes["faas.trigger"] = "pubsub"
            let result = await run(record, attempt: attempt, invoker: invoker)
            span.attributes["swell.outcome"] = Self.name(result.outcome)
            if result.outcome != .succeeded { span.setStatus(SpanStatus(code: .error, message: result.errorType)) }
            return result
        }
    }

    static func run(_ record: TaskRecord, attempt: TaskAttempt, invoker: Invoker) async -> ExecutionResult {
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
        let name = FunctionName(namespace: entry.record.namespace, function: entry.record.function)
        admission.withLock { $0.finished(name) }
        // Scale-out: room for more of the shared queue's tasks.
        if let settings = leaseSettings, live.count - admission.withLock({ $0.totalInFlight - $0.workflowRunning.count }) <= settings.prefetch / 2 { claimSoon() }

        var attempt = running.attempt
        attempt.finishedAt = now
        attempt.durationMs = r.durationMs
        attempt.coldStart = r.coldStart
        attempt.outcome = running.stopRequested ? "stopped" : Self.name(r.outcome)
        attempt.errorType = r.errorType
        attempt.error = r.error
        writes.append(.attemptFinished(attempt))
        entry.running = nil
        entry.attempts.append(attempt)

        // The settings of the version that ran (a task for a version or an alias uses that
        // version's, not `$LATEST`'s).
        let executed = turnAsyncConfig(of: entry, executedVersion: r.executedVersion)
        if running.stopRequested {
            finalize(&entry, state: .stopped, error: Self.errorJSON("Task.Stopped", "the task was stopped while it ran"), now: now,
                     executedVersion: r.executedVersion, config: executed)
            return
        }
        let config = executed ?? AsyncConfig(maxAttempts: 1)
        let policy = RetryPolicy(
            maxAttempts: config.maxAttempts, maxEventAge: Double(config.maxEventAge), baseDelay: Double(config.retryDelay),
            maxDelay: Double(config.maxRetryDelay))
        var attempts = entry.record.attempts
        if r.outcome == .functionError || r.outcome == .timeout { attempts += 1 }
        let missing = r.errorType == "ResourceNotFound"
        let decision = missing
            ? .fail
            : policy.decide(r.outcome, attemptsUsed: attempts, retriesSoFar: entry.retries, age: now.timeIntervalSince(entry.record.createdAt), random: r.outcome == .succeeded ? 0 : Double.random(in: 0..<1))
        entry.record.attempts = attempts
        switch decision {
        case .succeed:
            entry.record.result = r.result
            finalize(&entry, state: .succeeded, error: nil, now: now, executedVersion: r.executedVersion, config: executed)
        case .fail:
            finalize(&entry, state: .failed, error: r.error, now: now, executedVersion: r.executedVersion, config: executed)
        case .expire:
            finalize(&entry, state: .expired, error: r.error, now: now, executedVersion: r.executedVersion, config: executed)
        case .retry(let delay, _):
            entry.retries += 1
            counts[name, default: Counts()].retries += 1
            counts[name, default: Counts()].queued += 1
            entry.record.state = .queued
            entry.record.error = r.error
            entry.record.runAt = now.addingTimeInterval(delay)
            entry.readySince = entry.record.runAt
            live[id] = entry
            writes.append(.state(id: id, state: .queued, attempts: attempts, runAt: entry.record.runAt, finishedAt: nil, result: nil, error: r.error, at: now))
            queue.push(
                QueuedTask(id: id, namespace: entry.record.namespace, function: entry.record.function, priority: entry.record.priority,
                           runAt: entry.record.runAt.timeIntervalSince1970, sequence: entry.sequence),
                now: now.timeIntervalSince1970)
            syncWaiting()
        }
    }

    /// Ends a task for good: records it and sends it to its destination (`config`: the async
    /// settings of the version that ran, or that the task targets).
    private func finalize(_ entry: inout Live, state: TaskState, error: Data?, now: Date, executedVersion: String, config: AsyncConfig?) {
        let record = entry.record
        live.removeValue(forKey: record.id)
        if leasing != nil { unflushed.insert(record.id) }
        writes.append(.state(id: record.id, state: state, attempts: record.attempts, runAt: record.runAt, finishedAt: now,
                              result: state == .succeeded ? record.result : nil, error: error, at: now))
        let name = FunctionName(namespace: record.namespace, function: record.function)
        switch state {
        case .succeeded: counts[name, default: Counts()].succeeded += 1
        case .failed: counts[name, default: Counts()].failed += 1
        case .expired: counts[name, default: Counts()].expired += 1
        case .stopped: counts[name, default: Counts()].stopped += 1
        default: break
        }
        guard state != .stopped,
              let config,
              let destination = state == .succeeded ? config.onSuccess : config.onFailure
        else { return }
        let condition = state == .succeeded ? "Success" : state == .expired ? "EventAgeExceeded" : "RetriesExhausted"
        let store = self.store
        let journal = self.journal
        let sender = destinations
        let known = entry.attemptsComplete ? entry.attempts : nil
        // The read below waits for the journal: what this turn wrote must be in it first.
        if known == nil { flushWrites() }
        Task {
            let attempts: [TaskAttempt]
            if let known {
                attempts = known
            } else {
                // Attempts from before a restart or a re-drive are in the store: read once written.
                await journal.flush()
                attempts = (try? await store.attempts(taskID: record.id)) ?? []
            }
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

    /// Wakes the dispatch loop (from anywhere: it takes a lock, not the actor).
    private nonisolated func wake() {
        let sleeper = waker.withLock { w in
            w.generation += 1
            defer { w.sleeper = nil }
            return w.sleeper
        }
        sleeper?.resume()
    }

    /// Sleeps until woken (since the wake-up count was `generation`), `limit` passes or the
    /// task is cancelled (a service group cancels its services when one fails, e.g. the
    /// listener cannot bind: the loop must end then).
    private func sleep(upTo limit: Duration?, since generation: Int) async {
        let stopping = !accepting && totalInFlight == 0
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let slept = waker.withLock { w in
                    guard w.generation == generation, !stopping, !Task.isCancelled else { return false }
                    w.sleeper = c
                    return true
                }
                guard slept else {
                    c.resume()
                    return
                }
                if let limit { armTimer(ContinuousClock.now + limit) }
            }
        } onCancel: {
            wake()
        }
    }

    /// Wakes the loop at `deadline`, unless a timer already pending fires sooner (a busy
    /// queue passes through here after every finish: one sleeping task, not one per pass).
    private func armTimer(_ deadline: ContinuousClock.Instant) {
        if let pending = timerDeadline, pending <= deadline { return }
        timerDeadline = deadline
        Task { [weak self] in
            try? await Task.sleep(until: deadline, clock: .continuous)
            await self?.timerFired(deadline)
        }
    }

    private func timerFired(_ deadline: ContinuousClock.Instant) {
        if timerDeadline == deadline { timerDeadline = nil }
        wake()
    }
}
