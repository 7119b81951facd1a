import NIOCore
import SwellModel
import Synchronization

/// The outcome of handing one event to an instance.
public enum InvocationResult: Sendable {
    /// The runtime posted a response: the bytes the handler returned.
    case success(ByteBuffer)
    /// The invocation failed: how, and the structured error.
    case failure(FunctionErrorKind, FunctionError)
}

/// One event on its way to, or inside, an instance.
public final class PendingInvocation: Sendable {
    public let requestID: String
    public let payload: ByteBuffer
    /// Epoch milliseconds after which the invocation times out.
    public let deadlineEpochMs: Int64
    public let functionARN: String
    public let traceID: String
    public let clientContext: String?
    /// How long it may take from its hand-over to the instance to its answer.
    public let timeout: TimeAmount
    let completion: @Sendable (InvocationResult) -> Void
    /// Its timeout timer (on the instance's event loop) once armed; `done` once it completed.
    private let timer = Mutex<(scheduled: Scheduled<Void>?, done: Bool)>((nil, false))

    public init(
        requestID: String, payload: ByteBuffer, deadlineEpochMs: Int64, functionARN: String, traceID: String,
        clientContext: String? = nil, timeout: TimeAmount, completion: @escaping @Sendable (InvocationResult) -> Void
    ) {
        self.timeout = timeout
        self.requestID = requestID
        self.payload = payload
        self.deadlineEpochMs = deadlineEpochMs
        self.functionARN = functionARN
        self.traceID = traceID
        self.clientContext = clientContext
        self.completion = completion
    }

    /// Keeps the timeout timer so that completion can cancel it (at once if already completed).
    func armed(_ scheduled: Scheduled<Void>) {
        let done = timer.withLock { t in
            if !t.done { t.scheduled = scheduled }
            return t.done
        }
        if done { scheduled.cancel() }
    }

    /// Marks it completed and cancels its timer.
    func disarm() {
        timer.withLock { t in
            t.done = true
            return t.scheduled.take()
        }?.cancel()
    }
}
