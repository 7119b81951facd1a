import NIOCore
import NIOPosix
import SwellModel
import Synchronization

/// The meeting point of an instance's Runtime API connections and the invocations routed to it.
///
/// Invocations wait here for a `next` request and `next` requests wait here for an
/// invocation; whichever comes second completes the pair. Each invocation completes exactly
/// once: by the runtime's response or error, by a timeout, or by the instance's death.
///
/// The instance's connections are spread over the event loops of `group`. An invocation
/// delivered on an event loop (a function URL's request task runs on the loop that read it)
/// goes to a `next` waiting on that same loop when there is one: the hand-over is a plain call
/// there, its timer is armed there, and the runtime's answer comes back on that thread, so
/// the request never changes threads. Otherwise it goes to the longest-waiting `next` on
/// another loop (one task on that loop) or waits in the queue. The choice is ``MailboxState``'s.
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

    private let state = Mutex(MailboxState<RuntimeNext, PendingInvocation, ObjectIdentifier>())
    private let events: Events
    /// The event loops of the instance's Runtime API connections (and of timers armed off any loop).
    public let group: any EventLoopGroup

    public init(group: any EventLoopGroup, events: Events) {
        self.group = group
        self.events = events
    }

    /// The event loop the caller runs on, if it is one of NIO's.
    private static var currentLoop: (any EventLoop)? { MultiThreadedEventLoopGroup.currentEventLoop }

    /// Hands an invocation to the runtime (now, or when it next asks) and arms its timeout.
    public func deliver(_ invocation: PendingInvocation) {
        let current = Self.currentLoop
        let step = state.withLock { $0.deliver(invocation.requestID, invocation, on: current.map(ObjectIdentifier.init)) }
        switch step {
        case .handOver(let next, _):
            hand(invocation, to: next, arm: true)
        case .queued:
            arm(invocation, on: current ?? group.next())
        case .closed(let kind, let error):
            invocation.disarm()
            invocation.completion(.failure(kind, error))
        }
    }

    /// Gives `invocation` to the waiting `next`: on its loop now when the caller runs there, else as a task on that loop.
    private func hand(_ invocation: PendingInvocation, to next: RuntimeNext, arm: Bool) {
        if next.loop.inEventLoop {
            if arm { self.arm(invocation, on: next.loop) }
            next.receive(invocation)
        } else {
            next.loop.execute {
                if arm { self.arm(invocation, on: next.loop) }
                next.receive(invocation)
            }
        }
    }

    private func arm(_ invocation: PendingInvocation, on loop: any EventLoop) {
        invocation.armed(loop.scheduleTask(in: invocation.timeout) { [weak self] in
            self?.timeOut(invocation)
        })
    }

    private func timeOut(_ invocation: PendingInvocation) {
        let seconds = Int(invocation.timeout.nanoseconds / 1_000_000_000)
        let error = FunctionError(errorType: "Sandbox.Timedout", errorMessage: "Task timed out after \(seconds).00 seconds")
        complete(invocation.requestID, with: .failure(.timeout, error)) {
            events.timedOut(invocation.requestID, seconds)
        }
    }

    /// `next`s waiting for an invocation, on all loops and on `loop`.
    var parked: Int { state.withLock { $0.waitingCount } }
    func parked(on loop: any EventLoop) -> Int {
        state.withLock { s in s.waiting.first { $0.loop == ObjectIdentifier(loop) }?.nexts.count ?? 0 }
    }

    /// Whether `requestID` is in flight on this instance.
    public func isInFlight(_ requestID: String) -> Bool {
        state.withLock { $0.inFlight[requestID] != nil }
    }

    /// A `next` request arrived on `next.loop` (the caller runs there): returns the invocation
    /// it carries now, or nil when it waits (``RuntimeNext/receive(_:)`` is called later).
    func nextRequested(_ next: RuntimeNext) -> PendingInvocation? {
        let loop = ObjectIdentifier(next.loop)
        var first = false
        let carried: PendingInvocation? = state.withLock { s in
            let (isFirst, step) = s.nextRequested(next, on: loop)
            first = isFirst
            if case .carry(let invocation) = step { return invocation }
            return nil
        }
        if first { events.ready() }
        return carried
    }

    /// The connection carrying a waiting `next` went away.
    func nextAbandoned(_ next: RuntimeNext) {
        _ = state.withLock { $0.nextAbandoned(next) }
    }

    /// An invocation handed out on a connection that failed before the runtime got it: hand it out again.
    func redeliver(_ invocation: PendingInvocation) {
        let current = Self.currentLoop
        switch state.withLock({ $0.redeliver(invocation.requestID, on: current.map(ObjectIdentifier.init)) }) {
        case .handOver(let next, let invocation, _): hand(invocation, to: next, arm: false)
        case .queued, .dropped: break
        }
    }

    /// Completes the invocation `requestID` with `result`; false when it is unknown or already done.
    /// - Parameter before: runs after the invocation is taken out of flight and before its
    ///   completion resumes the caller (a timeout kills the instance here, so that the
    ///   caller already sees the instance as killed).
    @discardableResult
    public func complete(_ requestID: String, with result: InvocationResult, before: () -> Void = {}) -> Bool {
        guard let inv = state.withLock({ $0.complete(requestID) }) else { return false }
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

    /// Fails every invocation in flight and every future one: the instance is gone. Waiting
    /// `next`s stay unanswered (their connections die with the instance).
    public func close(_ kind: FunctionErrorKind, _ error: FunctionError) {
        let (pending, _) = state.withLock { $0.close(kind, error) }
        for inv in pending {
            inv.disarm()
            inv.completion(.failure(kind, error))
        }
    }
}
