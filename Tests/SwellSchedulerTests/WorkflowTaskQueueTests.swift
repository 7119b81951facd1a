import SwellScheduler
import Testing

/// Workflow Task states share the async task queue (TaskService puts them in it with priority 0,
/// ids that are their request ids): these tests drive the queue with the same decisions as the
/// service's dispatch pass (a namespace's token bucket and a function's async cap in `allow`, a
/// token taken per start) and check what the tenants see.
@Suite struct WorkflowTaskQueueTests {
    var seq: UInt64 = 0

    mutating func task(_ id: String, ns: String, fn: String = "f", priority: Int = 0, runAt: Double = 0) -> QueuedTask {
        seq += 1
        return QueuedTask(id: id, namespace: ns, function: fn, priority: priority, runAt: runAt, sequence: seq)
    }

    /// One dispatch pass as TaskService runs it: start what `allow` accepts, up to `room`.
    static func pass(
        _ q: inout TaskQueue, now: Double, buckets: inout [String: TokenBucket], room: Int = .max,
        cap: (QueuedTask) -> Bool = { _ in true }
    ) -> [QueuedTask] {
        var started: [QueuedTask] = []
        while started.count < room {
            guard let t = q.next(now: now, allow: { t in
                if var b = buckets[t.namespace] {
                    let ok = b.available(now: now)
                    buckets[t.namespace] = b
                    if !ok { return false }
                }
                return cap(t)
            }) else { break }
            if buckets[t.namespace] != nil { _ = buckets[t.namespace]!.take(now: now) }
            started.append(t)
        }
        return started
    }

    @Test mutating func aNamespaceFloodingWorkflowTasksSharesDispatchWithOneEnqueuingAsyncTasks() {
        var q = TaskQueue()
        // A Map of 10,000 items floods namespace "maps"; "jobs" has 50 async tasks.
        for i in 0..<10_000 { q.push(task("w\(i)", ns: "maps", fn: "square"), now: 0) }
        for i in 0..<50 { q.push(task("t\(i)", ns: "jobs", fn: "work"), now: 0) }
        var buckets: [String: TokenBucket] = [:]
        let first = Self.pass(&q, now: 0, buckets: &buckets, room: 100)
        // Every async task of the quiet namespace within the first 100 starts: they alternate.
        #expect(first.filter { $0.namespace == "jobs" }.count == 50)
        #expect(first.filter { $0.namespace == "maps" }.count == 50)
        #expect(q.readyCount == 10_000 - 50)
    }

    @Test mutating func weightsApplyToWorkflowTasksAsToAsyncTasks() {
        var q = TaskQueue()
        q.setWeight(3, namespace: "gold")
        for i in 0..<200 {
            q.push(task("w\(i)", ns: "gold"), now: 0)
            q.push(task("t\(i)", ns: "silver"), now: 0)
        }
        var buckets: [String: TokenBucket] = [:]
        let first = Self.pass(&q, now: 0, buckets: &buckets, room: 80)
        #expect(first.filter { $0.namespace == "gold" }.count == 60)
    }

    @Test mutating func aRateLimitedNamespacesWorkflowTasksAreThrottledWhileAnotherNamespaceRuns() {
        var q = TaskQueue()
        for i in 0..<1000 { q.push(task("w\(i)", ns: "limited"), now: 0) }
        for i in 0..<300 { q.push(task("t\(i)", ns: "free"), now: 0) }
        var buckets = ["limited": TokenBucket(rate: 10, burst: 5, now: 0)]
        var started: [String: Int] = [:]
        // Two seconds of passes every 10 ms, 20 starts a pass at most.
        for step in 0...200 {
            for t in Self.pass(&q, now: Double(step) / 100, buckets: &buckets, room: 20) { started[t.namespace, default: 0] += 1 }
        }
        // The burst, then 10 a second (the last token may round either way).
        #expect((5 + 19...5 + 20).contains(started["limited"] ?? 0))
        #expect(started["free"] == 300)
    }

    @Test mutating func anAsyncConcurrencyCapHoldsWorkflowTasksBackWithoutBlockingOtherFunctions() {
        var q = TaskQueue()
        for i in 0..<10 { q.push(task("w\(i)", ns: "a", fn: "capped"), now: 0) }
        q.push(task("t0", ns: "a", fn: "other"), now: 0)
        // The function's async cap is 2: the service counts its in-flight work per function.
        var inFlight = 0
        var buckets: [String: TokenBucket] = [:]
        var ids: [String] = []
        while let t = Self.pass(&q, now: 0, buckets: &buckets, room: 1, cap: { $0.function != "capped" || inFlight < 2 }).first {
            if t.function == "capped" { inFlight += 1 }
            ids.append(t.id)
        }
        #expect(ids.sorted() == ["t0", "w0", "w1"])
        #expect(q.readyCount == 8)
        // One finishes: the next capped one may start.
        inFlight -= 1
        #expect(Self.pass(&q, now: 0, buckets: &buckets, room: 1, cap: { $0.function != "capped" || inFlight < 2 }).map(\.id) == ["w2"])
    }

    @Test mutating func aCancelledWorkflowTaskLeavesTheQueueAndOthersKeepTheirOrder() {
        var q = TaskQueue()
        q.push(task("w1", ns: "a"), now: 0)
        q.push(task("w2", ns: "a"), now: 0)
        q.push(task("t1", ns: "a"), now: 0)
        let removed = [q.remove("w2", namespace: "a", function: "f"), q.remove("w2", namespace: "a", function: "f")]
        #expect(removed == [true, false])
        var out: [String] = []
        while let t = q.next(now: 0, allow: { _ in true }) { out.append(t.id) }
        #expect(out == ["w1", "t1"])
    }

    @Test mutating func workflowTasksAtTheDefaultPriorityTakeTurnsWithAsyncTasksByArrival() {
        var q = TaskQueue()
        q.push(task("t1", ns: "a", fn: "g"), now: 0)
        q.push(task("w1", ns: "a", fn: "f"), now: 0)
        q.push(task("urgent", ns: "a", fn: "g", priority: 9), now: 0)
        q.push(task("w2", ns: "a", fn: "f"), now: 0)
        var out: [String] = []
        while let t = q.next(now: 0, allow: { _ in true }) { out.append(t.id) }
        #expect(out == ["urgent", "t1", "w1", "w2"])
    }
}
