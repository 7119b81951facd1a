/// A task waiting in the async queue, as the dispatcher sees it (the payload lives elsewhere).
public struct QueuedTask: Sendable, Hashable {
    public var id: String
    public var namespace: String
    public var function: String
    /// 0–9, higher first.
    public var priority: Int
    /// Not before this instant (seconds since the epoch).
    public var runAt: Double
    /// Arrival order, the tie-break after priority and run time.
    public var sequence: UInt64

    public init(id: String, namespace: String, function: String, priority: Int, runAt: Double, sequence: UInt64) {
        self.id = id
        self.namespace = namespace
        self.function = function
        self.priority = priority
        self.runAt = runAt
        self.sequence = sequence
    }

    /// Dispatch order inside one function's queue.
    func precedes(_ other: QueuedTask) -> Bool {
        (-priority, runAt, sequence) < (-other.priority, other.runAt, other.sequence)
    }
}

/// The async task queue's dispatch order, as a pure value.
///
/// - Tasks wait per namespace and function, ordered by priority (higher first), then run time,
///   then arrival. Delayed tasks wait apart until their run time.
/// - Namespaces share dispatch by **stride scheduling**: each has a pass value that grows by
///   `1 / weight` per dispatched task; the namespace with the lowest pass that has a runnable
///   task goes next. A namespace that floods the queue only advances its own pass, so a
///   namespace with one task waiting is served at once. A namespace that (re)joins starts at
///   the current lowest pass, so it cannot bank credit while idle.
/// - The caller decides per function whether a task may start now (async concurrency caps,
///   rate limits, latency-sensitive work waiting on the pool) through `allow`.
public struct TaskQueue: Sendable {
    struct NamespaceState: Sendable {
        var pass: Double = 0
        var weight: Double = 1
        var functions: [String: Heap] = [:]
        var count = 0
    }

    private var namespaces: [String: NamespaceState] = [:]
    private var delayed = Heap(order: .runAt)
    public private(set) var readyCount = 0
    public private(set) var delayedCount = 0

    public init() {}

    /// Tasks waiting (ready or delayed).
    public var count: Int { readyCount + delayedCount }

    /// Sets a namespace's share (default 1): with weights 3 and 1, the first gets three dispatches per one.
    public mutating func setWeight(_ weight: Double, namespace: String) {
        namespaces[namespace, default: NamespaceState()].weight = max(0.01, weight)
    }

    /// Adds a task; it is ready once `now >= runAt`.
    public mutating func push(_ task: QueuedTask, now: Double) {
        if task.runAt > now {
            delayed.push(task)
            delayedCount += 1
        } else {
            makeReady(task)
        }
    }

    /// Takes a waiting task out (it was stopped). Returns false when it is not waiting.
    @discardableResult
    public mutating func remove(_ id: String, namespace: String, function: String) -> Bool {
        if namespaces[namespace]?.functions[function] != nil, namespaces[namespace]!.functions[function]!.remove(id) {
            if namespaces[namespace]!.functions[function]!.isEmpty { namespaces[namespace]!.functions[function] = nil }
            namespaces[namespace]!.count -= 1
            readyCount -= 1
            return true
        }
        if delayed.remove(id) {
            delayedCount -= 1
            return true
        }
        return false
    }

    /// The earliest run time of a delayed task, so the dispatcher knows when to look again.
    public var nextRunAt: Double? { delayed.peek?.runAt }

    /// The next task to start: from the namespace with the lowest pass that has a task `allow`
    /// accepts (the head of one of its functions' queues, highest priority first).
    ///
    /// The heaps are mutated in place (never copied out of `namespaces` and back), so a
    /// dispatch costs O(log n) in the queue's length and not a copy of it.
    public mutating func next(now: Double, allow: (QueuedTask) -> Bool) -> QueuedTask? {
        promote(now: now)
        guard readyCount > 0 else { return nil }
        var order: [(pass: Double, name: String)] = []
        for (name, ns) in namespaces where ns.count > 0 { order.append((ns.pass, name)) }
        if order.count > 1 { order.sort { ($0.pass, $0.name) < ($1.pass, $1.name) } }
        for (_, name) in order {
            guard let task = head(of: name, allow: allow) else { continue }
            namespaces[name]!.functions[task.function]!.removeFirst()
            if namespaces[name]!.functions[task.function]!.isEmpty { namespaces[name]!.functions[task.function] = nil }
            namespaces[name]!.count -= 1
            namespaces[name]!.pass += 1 / namespaces[name]!.weight
            readyCount -= 1
            return task
        }
        return nil
    }

    /// The first in dispatch order among the heads of a namespace's function queues that `allow` accepts.
    private func head(of namespace: String, allow: (QueuedTask) -> Bool) -> QueuedTask? {
        guard let functions = namespaces[namespace]?.functions else { return nil }
        var best: QueuedTask?
        for heap in functions.values {
            guard let head = heap.peek, allow(head) else { continue }
            if best == nil || head.precedes(best!) { best = head }
        }
        return best
    }

    private mutating func promote(now: Double) {
        while let head = delayed.peek, head.runAt <= now {
            _ = delayed.pop()
            delayedCount -= 1
            makeReady(head)
        }
    }

    private mutating func makeReady(_ task: QueuedTask) {
        if namespaces[task.namespace]?.count ?? 0 == 0 {
            // (Re)joining: start at the lowest pass of the busy namespaces, never below its own.
            var floor: Double?
            for ns in namespaces.values where ns.count > 0 { floor = min(floor ?? ns.pass, ns.pass) }
            let own = namespaces[task.namespace]?.pass ?? 0
            namespaces[task.namespace, default: NamespaceState()].pass = max(own, floor ?? own)
        }
        // In place: a copy of the namespace's state would copy the heap on every push.
        namespaces[task.namespace, default: NamespaceState()].functions[task.function, default: Heap(order: .dispatch)].push(task)
        namespaces[task.namespace]!.count += 1
        readyCount += 1
    }
}

/// A binary min-heap of tasks in dispatch order or run-time order.
struct Heap: Sendable {
    enum Order: Sendable { case dispatch, runAt }
    let order: Order
    private var items: [QueuedTask] = []

    init(order: Order) { self.order = order }

    var isEmpty: Bool { items.isEmpty }
    var peek: QueuedTask? { items.first }

    private func less(_ a: QueuedTask, _ b: QueuedTask) -> Bool {
        switch order {
        case .dispatch: a.precedes(b)
        case .runAt: (a.runAt, a.sequence) < (b.runAt, b.sequence)
        }
    }

    mutating func push(_ task: QueuedTask) {
        items.append(task)
        siftUp(items.count - 1)
    }

    /// Drops the head (the caller has read it with `peek`).
    mutating func removeFirst() {
        _ = pop()
    }

    mutating func pop() -> QueuedTask? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        if !items.isEmpty { siftDown(0) }
        return top
    }

    /// Removes a task by id (linear search; stops are rare).
    mutating func remove(_ id: String) -> Bool {
        guard let i = items.firstIndex(where: { $0.id == id }) else { return false }
        items.swapAt(i, items.count - 1)
        items.removeLast()
        if i < items.count {
            siftDown(i)
            siftUp(i)
        }
        return true
    }

    private mutating func siftUp(_ index: Int) {
        var i = index
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(items[i], items[parent]) else { return }
            items.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var i = index
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < items.count && less(items[l], items[smallest]) { smallest = l }
            if r < items.count && less(items[r], items[smallest]) { smallest = r }
            if smallest == i { return }
            items.swapAt(i, smallest)
            i = smallest
        }
    }
}
