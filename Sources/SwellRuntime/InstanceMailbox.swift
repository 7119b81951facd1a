import DequeModule
import NIOCore
import SwellModel
import Synchronization

/// The meeting point of an instance's Runtime API connections and the invocations routed to it.
///
/// Invocations wait here for a `next` request and `next` requests wait here for an
/// invocation; whichever comes second completes the pair. Each invocation completes exactly
/// once: by the runtime's response or error, by a timeout, or by the instance's death.
public final class InstanceMailbox: Sendable {
    /// Lifecycle events the owner of the instance wants to hear about.
    public struct Events: Sendable {
        /// The runtime asked for its first event: the handler is loaded.
        public var ready: @Sendable () -> Void
        /// The runtime reported that it cannot initialise.
        public var initError: @Sendable (FunctionError) -> Void

        public init(ready: @escaping @Sendable () -> Void, initError: @escaping @Sendable (FunctionError) -> Void) {
            self.ready = ready
            self.initError = initError
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

    public init(events: Events) {
        self.events = events
    }

    /// Hands an invocation to the runtime (now, or when it next asks).
    public func deliver(_ invocation: PendingInvocation) {
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
        case .closed(let kind, let error): invocation.completion(.failure(kind, error))
        }
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
        for inv in pending { inv.completion(.failure(kind, error)) }
        for next in nexts { next.fail(ChannelError.ioOnClosedChannel) }
    }
}
