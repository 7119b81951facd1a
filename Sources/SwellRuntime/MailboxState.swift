import DequeModule
import SwellModel

/// The decisions of an ``InstanceMailbox``, as a value: which waiting `next` an invocation is
/// handed to, what waits, what is in flight, and what a closed instance still owes.
///
/// The instance's Runtime API connections are spread over the event loops; the `next`s
/// waiting on each loop are kept apart, so that an invocation delivered on an event loop goes
/// to a `next` waiting on that same loop when there is one: the hand-over is then a plain call
/// on that thread, and the runtime's answer arrives on the thread whose task awaits it. Else it
/// goes to the `next` that has waited longest on any loop, else it queues. A `next` takes the
/// oldest queued invocation, or one of the next few that was delivered on its own loop; the
/// oldest is passed over at most ``maxHeadPasses`` times, so nothing waits behind more than a
/// few later ones.
///
/// `Next` is whatever stands for a waiting `next` (compared by identity), `Invocation` the
/// invocation; both are opaque here. Loops are named by a `Loop` key (`ObjectIdentifier`).
struct MailboxState<Next: AnyObject, Invocation, Loop: Hashable> {
    struct Waiting {
        var loop: Loop
        /// Oldest first, each with the order it arrived in.
        var nexts: Deque<(arrival: UInt64, next: Next)>
    }

    /// Waiting `next`s per loop (a handful of loops: scanned, not hashed).
    private(set) var waiting: [Waiting] = []
    private var arrivals: UInt64 = 0
    /// Invocations delivered while no `next` waited, oldest first, with the loop each was delivered on.
    private(set) var queued: Deque<(id: String, invocation: Invocation, loop: Loop?)> = []
    /// How many times the oldest queued invocation was passed over for one of its own loop.
    private var headPasses = 0
    /// How far into the queue a `next` looks for an invocation of its own loop.
    static var sameLoopWindow: Int { 16 }
    /// How many times the oldest queued invocation may be passed over.
    static var maxHeadPasses: Int { 2 }
    /// Every invocation delivered and not yet completed (queued or handed out).
    private(set) var inFlight: [String: Invocation] = [:]
    private(set) var sawNext = false
    private(set) var closed: (FunctionErrorKind, FunctionError)?

    enum Delivery {
        /// Hand it to this `next`; `sameLoop` when that `next` waits on the delivering loop.
        case handOver(Next, sameLoop: Bool)
        case queued
        /// The instance is gone: fail it with this.
        case closed(FunctionErrorKind, FunctionError)
    }

    /// A new invocation, delivered on `loop` (nil when not on an event loop).
    mutating func deliver(_ id: String, _ invocation: Invocation, on loop: Loop?) -> Delivery {
        if let closed { return .closed(closed.0, closed.1) }
        inFlight[id] = invocation
        if let (next, same) = takeNext(preferring: loop) { return .handOver(next, sameLoop: same) }
        queued.append((id, invocation, loop))
        return .queued
    }

    enum Redelivery {
        case handOver(Next, Invocation, sameLoop: Bool)
        case queued
        /// Completed meanwhile (answered, timed out) or the instance is gone: nothing to do.
        case dropped
    }

    /// An invocation handed out on a connection that died before the runtime got it: it goes
    /// out again, ahead of those queued after it.
    mutating func redeliver(_ id: String, on loop: Loop?) -> Redelivery {
        guard closed == nil, let invocation = inFlight[id] else { return .dropped }
        if let (next, same) = takeNext(preferring: loop) { return .handOver(next, invocation, sameLoop: same) }
        queued.prepend((id, invocation, loop))
        headPasses = 0
        return .queued
    }

    enum NextStep {
        /// Answer this `next` with this invocation now.
        case carry(Invocation)
        /// It waits for an invocation.
        case wait
        /// The instance is gone: it is left unanswered.
        case closed
    }

    /// A `next` arrived on `loop`; `first` tells whether it is the instance's first (the handler is loaded).
    mutating func nextRequested(_ next: Next, on loop: Loop) -> (first: Bool, step: NextStep) {
        let first = !sawNext
        sawNext = true
        if closed != nil { return (first, .closed) }
        if let invocation = takeQueued(for: loop) { return (first, .carry(invocation)) }
        arrivals &+= 1
        if let i = waiting.firstIndex(where: { $0.loop == loop }) {
            waiting[i].nexts.append((arrivals, next))
        } else {
            waiting.append(Waiting(loop: loop, nexts: [(arrivals, next)]))
        }
        return (first, .wait)
    }

    /// The connection of a waiting `next` went away; false when it was no longer waiting.
    mutating func nextAbandoned(_ next: Next) -> Bool {
        for i in waiting.indices {
            if let j = waiting[i].nexts.firstIndex(where: { $0.next === next }) {
                waiting[i].nexts.remove(at: j)
                return true
            }
        }
        return false
    }

    /// Takes the invocation `id` out of flight (and out of the queue); nil when unknown or done.
    mutating func complete(_ id: String) -> Invocation? {
        guard let invocation = inFlight.removeValue(forKey: id) else { return nil }
        if !queued.isEmpty, let i = queued.firstIndex(where: { $0.id == id }) {
            queued.remove(at: i)
            if i == 0 { headPasses = 0 }
        }
        return invocation
    }

    /// The instance is gone: returns what was in flight (to fail) and the `next`s that waited.
    mutating func close(_ kind: FunctionErrorKind, _ error: FunctionError) -> (inFlight: [Invocation], nexts: [Next]) {
        if closed == nil { closed = (kind, error) }
        let pending = Array(inFlight.values)
        inFlight.removeAll()
        queued.removeAll()
        let nexts = waiting.flatMap { $0.nexts.map(\.next) }
        waiting.removeAll()
        return (pending, nexts)
    }

    /// Number of `next`s waiting, over all loops.
    var waitingCount: Int { waiting.reduce(0) { $0 + $1.nexts.count } }

    /// The queued invocation for a `next` on `loop`: the oldest, unless one of the next few was
    /// delivered on `loop` and the oldest has not been passed over too often.
    private mutating func takeQueued(for loop: Loop) -> Invocation? {
        guard let head = queued.first else { return nil }
        if head.loop != loop, headPasses < Self.maxHeadPasses {
            for i in 1..<min(queued.count, Self.sameLoopWindow) where queued[i].loop == loop {
                headPasses += 1
                return queued.remove(at: i).invocation
            }
        }
        headPasses = 0
        return queued.removeFirst().invocation
    }

    /// A waiting `next`: on `loop` when one waits there, else the one that has waited longest.
    private mutating func takeNext(preferring loop: Loop?) -> (Next, Bool)? {
        if let loop, let i = waiting.firstIndex(where: { $0.loop == loop }), let (_, next) = waiting[i].nexts.popFirst() {
            return (next, true)
        }
        var oldest: Int?
        for i in waiting.indices {
            guard let head = waiting[i].nexts.first else { continue }
            if let o = oldest, waiting[o].nexts.first!.arrival <= head.arrival { continue }
            oldest = i
        }
        guard let oldest else { return nil }
        return (waiting[oldest].nexts.removeFirst().next, false)
    }
}
