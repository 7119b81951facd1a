import NIOCore
import SwellModel

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
    let completion: @Sendable (InvocationResult) -> Void

    public init(
        requestID: String, payload: ByteBuffer, deadlineEpochMs: Int64, functionARN: String, traceID: String,
        clientContext: String? = nil, completion: @escaping @Sendable (InvocationResult) -> Void
    ) {
        self.requestID = requestID
        self.payload = payload
        self.deadlineEpochMs = deadlineEpochMs
        self.functionARN = functionARN
        self.traceID = traceID
        self.clientContext = clientContext
        self.completion = completion
    }
}
