import NIOCore

/// Owns the requests in flight on one connection: it numbers them with correlation ids,
/// frames them with request header v1, matches each response frame to its request,
/// fails a request that outlives its timeout (and then the connection, whose state is
/// unknown from then on), and fails every pending request when the connection ends.
///
/// All of its state is touched on the channel's event loop only.
final class KafkaChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        var api: String
        var promise: EventLoopPromise<ByteBuffer>
        var timeout: Scheduled<Void>?
    }

    private let clientID: String?
    private var context: ChannelHandlerContext?
    private var pending: [Int32: Pending] = [:]
    private var nextCorrelationID: Int32 = 1
    /// Set once the connection can carry no more requests.
    private var closedReason: KafkaError?

    init(clientID: String?) {
        self.clientID = clientID
    }

    var inFlightCount: Int { pending.count }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll(.connectionClosed("handler removed"))
        self.context = nil
    }

    /// Sends one request; `promise` receives the response body after the response header.
    /// Must be called on the event loop.
    func send(apiKey: Int16, version: Int16, body: ByteBuffer, api: String, timeout: TimeAmount,
              promise: EventLoopPromise<ByteBuffer>) {
        guard let context, closedReason == nil, context.channel.isActive else {
            promise.fail(closedReason ?? KafkaError.connectionClosed("connection is not open"))
            return
        }
        let correlationID = nextCorrelationID
        nextCorrelationID = nextCorrelationID == Int32.max ? 1 : nextCorrelationID + 1

        var frame = context.channel.allocator.buffer(capacity: 4 + 10 + (clientID?.utf8.count ?? 0) + body.readableBytes)
        frame.writeKafkaInt32(0) // size, set below
        KafkaHeaderCodec.writeRequestHeader(apiKey: apiKey, version: version, correlationID: correlationID,
                                            clientID: clientID, into: &frame)
        var body = body
        frame.writeBuffer(&body)
        frame.setInteger(Int32(frame.readableBytes - 4), at: frame.readerIndex)

        let scheduled = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard let entry = pending.removeValue(forKey: correlationID) else { return }
            entry.promise.fail(KafkaError.requestTimedOut(api: entry.api))
            // A late response would arrive out of step with the remaining requests: give up the connection.
            shutDown(.connectionClosed("\(entry.api) request timed out"))
        }
        pending[correlationID] = Pending(api: api, promise: promise, timeout: scheduled)

        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenFailure { [self] error in
            if let entry = pending.removeValue(forKey: correlationID) {
                entry.timeout?.cancel()
                entry.promise.fail(KafkaError.connectionClosed("write failed: \(error)"))
            }
        }
        context.writeAndFlush(wrapOutboundOut(frame), promise: written)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        guard let correlationID = try? KafkaHeaderCodec.readResponseHeader(from: &frame) else {
            shutDown(.malformedMessage("response frame without a correlation id"))
            return
        }
        guard let entry = pending.removeValue(forKey: correlationID) else {
            shutDown(.malformedMessage("response with unknown correlation id \(correlationID)"))
            return
        }
        entry.timeout?.cancel()
        entry.promise.succeed(frame)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(.connectionClosed("connection closed by the broker"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        shutDown(error as? KafkaError ?? .connectionClosed("\(error)"))
    }

    /// Fails everything in flight and closes the channel.
    private func shutDown(_ reason: KafkaError) {
        failAll(reason)
        context?.close(promise: nil)
    }

    private func failAll(_ reason: KafkaError) {
        if closedReason == nil { closedReason = reason }
        let entries = pending
        pending.removeAll()
        for entry in entries.values {
            entry.timeout?.cancel()
            entry.promise.fail(reason)
        }
    }
}
