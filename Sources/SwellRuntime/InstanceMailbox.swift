import DequeModule
import NIOCore
import SwellModel
import Synchronization

/// The meeting point of an instance's Runtime API connections and the invocations routed to it.
///
/// Invocations wait here for a `next` request and `next` requests wait here for an
/// invocation; whichever comes second completes the pair. Each invocation completes exactly
/// once: by the runtime's response or error, by a timeout, or by the instance's death.
///
/// Every connection of the instance and every timeout timer live on one event loop, `loop`:
/// handing an invocation over from another thread costs one task on that loop, which both
/// arms the invocation's timer and writes it to the waiting `next`.
public final class InstanceMailbox: Sendable {
    /// Lifecycle events the owner of the instance wants to hear about.
    public struct Events: Sendable {
        /// The runtime asked for its first event: the handler is loaded.
        public var ready: @Sendable () -> Void
        /// The runtime reported that it cannot initialise.
        public var initError: @Sendable (FunctionError) -> Void
        /// An invocation ran out of time (request id, seconds): its instance must die before
        /// its caller hears of it.
        public var timedOut: @Sendable (String, Int) -> Void

        public init(
            ready: @escaping @Sendable () -> Void, initError: @escaping @Sendable (FunctionError) -> Void,
            timedOut: @escaping @Sendable (String, Int) -> Void = { _, _ in }
        ) {
            self.ready = ready
            self.initError = initError
            self.timedOut = timedOut
        }
    }

    struct State {
        var waitingNexts: Deque<EventLoopPromise<PendingInvocation>> = []
        var queued: Deque<PendingInvocation> = []
        var inFlight: [String: PendingInvocation] = [:]
        var sawNext = false
        var closed: (FunctionErrorKind, FunctionError)?
    }

    private let state = Mutex(State())
    private let events: Events
    /// The event loop of the instance's Runtime API connections and timers.
    public let loop: any EventLoop

    public init(loop: any EventLoop, events: Events) {
        self.loop = loop
        self.events = events
    }

    /// Hands an invocation to the runtime (now, or when it next asks) and arms its timeout.
    public func deliver(_ invocation: PendingInvocation) {
        if loop.inEventLoop {
            deliverOnLoop(invocation)
        } else {
            loop.execute { self.deliverOnLoop(invocation) }
        }
    }

    private func deliverOnLoop(_ invocation: PendingInvocation) {
        invocation.armed(loop.scheduleTask(in: invocation.timeout) { [weak self] in
            self?.timeOut(invocation)
        })
        enum Step { case handOver(EventLoopPromise<PendingInvocation>), queued, closed(FunctionErrorKind, FunctionError) }
        let step: Step = state.withLock { s in
            if let closed = s.closed { return .closed(closed.0, closed.1) }
            s.inFlight[invocation.requestID] = invocation
            if let next = s.waitingNexts.popFirst() { return .handOver(next) }
            s.queued.append(invocation)
            return .queued
        }
        switch step {
        case .handOver(let promise): promise.succeed(invocation)
        case .queued: break
        case .closed(let kind, let error):
            invocation.disarm()
            invocation.completion(.failure(kind, error))
        }
    }

    private func timeOut(_ invocation: PendingInvocation) {
        let seconds = Int(invocation.timeout.nanoseconds / 1_000_000_000)
        let error = FunctionError(errorType: "Sandbox.Timedout", errorMessage: "Task timed out after \(seconds).00 seconds")
        complete(invocation.requestID, with: .failure(.timeout, error)) {
            events.timedOut(invocation.requestID, seconds)
        }
    }

    /// Whether `requestID` is in flight on this instance.
    public func isInFlight(_ requestID: String) -> Bool {
        state.withLock { $0.inFlight[requestID] != nil }
    }

    /// A `next` request arrived; `promise` is fulfilled with the invocation it should carry.
    func nextRequested(_ promise: EventLoopPromise<PendingInvocation>) {
        let (first, ready): (Bool, PendingInvocation?) = state.withLock { s in
            let first = !s.sawNext
            s.sawNext = true
            if s.closed != nil { return (first, nil) }
            if let inv = s.queued.popFirst() { return (first, inv) }
            s.waitingNexts.append(promise)
            return (first, nil)
        }
        if first { events.ready() }
        if let ready { promise.succeed(ready) }
    }

    /// The connection carrying a waiting `next` went away.
    func nextAbandoned(_ promise: EventLoopPromise<PendingInvocation>) {
        let removed = state.withLock { s in
            if let i = s.waitingNexts.firstIndex(where: { $0.futureResult === promise.futureResult }) {
                s.waitingNexts.remove(at: i)
                return true
            }
            return false
        }
        if removed { promise.fail(ChannelError.ioOnClosedChannel) }
    }

    /// An invocation handed out on a connection that failed before the runtime got it: hand it out again.
    func redeliver(_ invocation: PendingInvocation) {
        let next: EventLoopPromise<PendingInvocation>? = state.withLock { s in
            guard s.inFlight[invocation.requestID] != nil, s.closed == nil else { return nil }
            if let next = s.waitingNexts.popFirst() { return next }
            s.queued.append(invocation)
            return nil
        }
        next?.succeed(invocation)
    }

    /// Completes the invocation `requestID` with `result`; false when it is unknown or already done.
    /// - Parameter before: runs after the invocation is taken out of flight and before its
    ///   completion resumes the caller (a timeout kills the instance here, so that the
    ///   caller already sees the instance as killed).
    @discardableResult
    public func complete(_ requestID: String, with result: InvocationResult, before: () -> Void = {}) -> Bool {
        let inv: PendingInvocation? = state.withLock { s in
            guard let inv = s.inFlight.removeValue(forKey: requestID) else { return nil }
            if let i = s.queued.firstIndex(where: { $0 === inv }) { s.queued.remove(at: i) }
            return inv
        }
        guard let inv else { return false }
        inv.disarm()
        before()
        inv.completion(result)
        return true
    }

    func initErrorReported(_ error: FunctionError) {
        events.initError(error)
    }

    /// The request in flight when exactly one is (for attributing unmarked log lines).
    public var soleInFlightRequestID: String? {
        state.withLock { s in s.inFlight.count == 1 ? s.inFlight.first!.key : nil }
    }

    /// Fails every invocation in flight and every future one: the instance is gone.
    public func close(_ kind: FunctionErrorKind, _ error: FunctionError) {
        let (pending, nexts): ([PendingInvocation], [EventLoopPromise<PendingInvocation>]) = state.withLock { s in
            if s.closed == nil { s.closed = (kind, error) }
            let pending = Array(s.inFlight.values)
            s.inFlight.removeAll()
            s.queued.removeAll()
            let nexts = Array(s.waitingNexts)
            s.waitingNexts.removeAll()
            return (pending, nexts)
        }
        for inv in pending {
            inv.disarm()
            inv.completion(.failure(kind, error))
        }
        for next in nexts { next.fail(ChannelError.ioOnClosedChannel) }
    }
}
