/// The enqueue side of the async queue, outside the dispatcher: the idempotency keys in their
/// window, and the tasks committed to the journal that the dispatcher has not taken into its
/// queue yet. The enqueue path holds it behind a lock, so that concurrent enqueues claim keys,
/// commit (sharing the journal's group commits) and hand their tasks over without waiting for
/// the dispatcher, which takes what was committed, in commit order, when it next looks.
///
/// ```swift
/// var intake = TaskIntake<String, Int>(window: 86_400)
/// intake.claim("key", id: "t1", now: 0)          // nil: claimed for t1
/// intake.claim("key", id: "t2", now: 1)          // "t1": a duplicate
/// intake.committed([1, 2])                       // true: the dispatcher must be woken
/// intake.take()                                  // [1, 2]
/// ```
public struct TaskIntake<Slot: Hashable & Sendable, Record: Sendable>: Sendable {
    public private(set) var idempotency: IdempotencyIndex<Slot>
    private var inbox: [Record] = []

    public init(window: Double) {
        idempotency = IdempotencyIndex(window: window)
    }

    /// Committed tasks waiting for the dispatcher.
    public var waiting: Int { inbox.count }

    /// Claims `slot` for task `id` unless a task used it within the window: then that task's
    /// id (and nothing is claimed). Keys that fell out of the window are dropped first.
    public mutating func claim(_ slot: Slot, id: String, now: Double) -> String? {
        idempotency.prune(now: now)
        if let first = idempotency.lookup(slot, now: now) { return first }
        idempotency.insert(slot, id: id, at: now)
        return nil
    }

    /// The task that used `slot` within the window, if any.
    public func holder(of slot: Slot, now: Double) -> String? {
        idempotency.lookup(slot, now: now)
    }

    /// Records a key's holder learned elsewhere (the shared store of a cluster, the store at
    /// recovery) unless one is known.
    public mutating func remember(_ slot: Slot, id: String, at: Double) {
        if idempotency.lookup(slot, now: at) == nil { idempotency.insert(slot, id: id, at: at) }
    }

    /// Gives a claim back (its task could not be stored).
    public mutating func release(_ slot: Slot, id: String) {
        idempotency.remove(slot, id: id)
    }

    /// Hands committed tasks to the dispatcher. Returns whether the inbox was empty: only then
    /// does the dispatcher need waking (a non-empty inbox has a wake-up on its way).
    public mutating func committed(_ records: [Record]) -> Bool {
        guard !records.isEmpty else { return false }
        let wasEmpty = inbox.isEmpty
        inbox.append(contentsOf: records)
        return wasEmpty
    }

    /// Everything committed and not yet taken, in commit order.
    public mutating func take() -> [Record] {
        guard !inbox.isEmpty else { return [] }
        defer { inbox.removeAll(keepingCapacity: true) }
        return inbox
    }
}
