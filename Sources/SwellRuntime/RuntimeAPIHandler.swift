import Foundation
import NIOCore
import NIOHTTP1
import SwellModel

/// Serves the AWS Lambda Runtime API (2018-06-01) for one instance on one connection.
///
/// - `GET  /2018-06-01/runtime/invocation/next`
/// - `POST /2018-06-01/runtime/invocation/{id}/response`
/// - `POST /2018-06-01/runtime/invocation/{id}/error`
/// - `POST /2018-06-01/runtime/init/error`
///
/// Responses are encoded here, straight into bytes (no header objects, no response encoder):
/// status line and headers in one buffer, the payload as it came, both in one flush (one
/// `writev`) on a socket with `TCP_NODELAY`, so that no warm invoke waits for Nagle's
/// algorithm. What is answered while a read is being handled is flushed once at its end: a
/// runtime that posts its result with the next `next` in one write (Swell's bootstraps do)
/// gets the 202 and, when one is queued, its next invocation in one `writev`. Requests are decoded by ``RuntimeAPIRequestParser`` (HTTP/1.1 sized for this
/// protocol: Content-Length and chunked bodies, `Expect: 100-continue`, keep-alive); a
/// malformed request is answered 400 (an oversized head 431) and the connection closed. A
/// runtime that sends a request while its `next` is still open breaks the protocol and loses
/// the connection.
final class RuntimeAPIHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let prefix = "/2018-06-01/runtime/"
    private let mailbox: InstanceMailbox
    private var parser = RuntimeAPIRequestParser(maxBodyBytes: Limits.maxPayloadBytes)
    /// Bytes read and not yet decoded.
    private var unread = ByteBuffer()
    /// The connection is being closed: nothing more is read.
    private var closing = false
    /// Set while the handler is in the pipeline: the connection's context, and what stands
    /// for its `next` in the mailbox (one per connection, so that a `next` allocates nothing).
    private var context: ChannelHandlerContext?
    private var token: RuntimeNext?
    /// Whether a `next` waits for an invocation.
    private var waitingNext = false
    /// Whether the connection stays open after the current response.
    private var keepAlive = true
    /// Inside `channelRead`: writes wait for the flush at its end.
    private var reading = false
    private var flushPending = false

    init(mailbox: InstanceMailbox) {
        self.mailbox = mailbox
    }

    /// Adds the Runtime API's handler to a connection's pipeline (it decodes its own requests).
    static func install(on pipeline: ChannelPipeline.SynchronousOperations, mailbox: InstanceMailbox) throws {
        try pipeline.addHandler(RuntimeAPIHandler(mailbox: mailbox))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        token = RuntimeNext(self, loop: context.eventLoop)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        abandonNext()
        self.context = nil
        token = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var chunk = unwrapInboundIn(data)
        if unread.readableBytes == 0 { unread = chunk } else { unread.writeBuffer(&chunk) }
        reading = true
        defer {
            reading = false
            if flushPending {
                flushPending = false
                context.flush()
            }
        }
        while !closing, let event = parser.next(&unread) {
            switch event {
            case .continueExpected:
                if waitingNext { return close(context) }
                send(context, ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n"))
            case .request(let request):
                if waitingNext { return close(context) }
                keepAlive = request.keepAlive
                route(context: context, request)
                if !request.keepAlive { closing = true }
            case .failed(let failure):
                closing = true
                keepAlive = false
                switch failure {
                case .headerTooLarge:
                    respond(context, .requestHeaderFieldsTooLarge, errorType: "RequestHeaderFieldsTooLarge",
                            message: "header section over \(parser.maxHeaderBytes) bytes")
                case .malformed(let reason):
                    respond(context, .badRequest, errorType: "InvalidRequest", message: "malformed HTTP request: \(reason)")
                }
            }
        }
        if unread.readableBytes == 0 {
            unread = ByteBuffer()
        } else if unread.readerIndex > 0 {
            unread.discardReadBytes()
        }
    }

    private func close(_ context: ChannelHandlerContext) {
        closing = true
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        abandonNext()
        context.fireChannelInactive()
    }

    private func abandonNext() {
        guard waitingNext, let token else { return }
        waitingNext = false
        mailbox.nextAbandoned(token)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func route(context: ChannelHandlerContext, _ request: RuntimeAPIRequest) {
        let body = request.body
        let uri = request.target.firstIndex(of: "?").map { request.target[..<$0] } ?? request.target[...]
        guard uri.hasPrefix(Self.prefix) else { return respond(context, .notFound, errorType: "UnknownPath", message: "no such Runtime API path: \(uri)") }

        switch (request.method, RuntimeAPIPath(uri.dropFirst(Self.prefix.count))) {
        case ("GET", .next):
            next(context: context)
        case ("POST", .response(let id)):
            if request.bodyTooLarge {
                mailbox.complete(id, with: .failure(.responseTooLarge, FunctionError(
                    errorType: "Function.ResponseSizeTooLarge",
                    errorMessage: "Response payload size exceeded maximum allowed payload size (\(Limits.maxPayloadBytes) bytes).")))
                return respond(context, .payloadTooLarge, errorType: "RequestEntityTooLarge", message: "response over \(Limits.maxPayloadBytes) bytes")
            }
            if mailbox.complete(id, with: .success(body)) {
                respondAccepted(context)
            } else {
                respond(context, .badRequest, errorType: "InvalidRequestID", message: "unknown or finished request id \(id)")
            }
        case ("POST", .error(let id)):
            let error = Self.decodeError(body, header: request.errorType)
            if mailbox.complete(id, with: .failure(.unhandled, error)) {
                respondAccepted(context)
            } else {
                respond(context, .badRequest, errorType: "InvalidRequestID", message: "unknown or finished request id \(id)")
            }
        case ("POST", .initError):
            mailbox.initErrorReported(Self.decodeError(body, header: request.errorType))
            respondAccepted(context)
        default:
            respond(context, .notFound, errorType: "UnknownPath", message: "no such Runtime API call: \(request.method) \(uri)")
        }
    }

    private func next(context: ChannelHandlerContext) {
        guard let token else { return }
        waitingNext = true
        if let invocation = mailbox.nextRequested(token) { received(invocation) }
    }

    /// The mailbox hands the waiting `next` its invocation (on this connection's loop).
    fileprivate func received(_ inv: PendingInvocation) {
        waitingNext = false
        guard let context, context.channel.isActive else {
            mailbox.redeliver(inv)
            return
        }
        var head = context.channel.allocator.buffer(capacity: 320 + inv.functionARN.utf8.count + inv.traceID.utf8.count)
        head.writeStaticString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ")
        head.writeDecimal(inv.payload.readableBytes)
        head.writeStaticString("\r\nLambda-Runtime-Aws-Request-Id: ")
        head.writeHeaderValue(inv.requestID)
        head.writeStaticString("\r\nLambda-Runtime-Deadline-Ms: ")
        head.writeDecimal(Int(inv.deadlineEpochMs))
        head.writeStaticString("\r\nLambda-Runtime-Invoked-Function-Arn: ")
        head.writeHeaderValue(inv.functionARN)
        head.writeStaticString("\r\nLambda-Runtime-Trace-Id: ")
        head.writeHeaderValue(inv.traceID)
        if let cc = inv.clientContext {
            head.writeStaticString("\r\nLambda-Runtime-Client-Context: ")
            head.writeHeaderValue(cc)
        }
        head.writeStaticString("\r\n\r\n")
        context.write(wrapOutboundOut(head), promise: nil)
        let mailbox = self.mailbox
        let done = context.eventLoop.makePromise(of: Void.self)
        done.futureResult.whenFailure { _ in mailbox.redeliver(inv) }
        send(context, inv.payload, promise: done)
    }

    /// Writes `buffer`, flushed now or, inside `channelRead`, at its end.
    private func send(_ context: ChannelHandlerContext, _ buffer: ByteBuffer, promise: EventLoopPromise<Void>? = nil) {
        if reading {
            context.write(wrapOutboundOut(buffer), promise: promise)
            flushPending = true
        } else {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
        }
    }

    private static let acceptedBody = ByteBuffer(string: #"{"status":"OK"}"#)

    private func respondAccepted(_ context: ChannelHandlerContext) {
        write(context, status: "202 Accepted", body: Self.acceptedBody)
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, errorType: String, message: String) {
        let json = #"{"errorType":"\#(errorType)","errorMessage":\#(JSONText.quote(message))}"#
        write(context, status: "\(status.code) \(status.reasonPhrase)", body: ByteBuffer(string: json))
    }

    private func write(_ context: ChannelHandlerContext, status: String, body: ByteBuffer) {
        var buffer = context.channel.allocator.buffer(capacity: 96 + body.readableBytes)
        buffer.writeString("HTTP/1.1 ")
        buffer.writeString(status)
        buffer.writeStaticString("\r\nContent-Type: application/json\r\nContent-Length: ")
        buffer.writeDecimal(body.readableBytes)
        if !keepAlive { buffer.writeStaticString("\r\nConnection: close") }
        buffer.writeStaticString("\r\n\r\n")
        buffer.writeImmutableBuffer(body)
        if keepAlive {
            send(context, buffer)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Reads a runtime's error report; tolerates bodies that are not the documented JSON.
    static func decodeError(_ body: ByteBuffer, header: String?) -> FunctionError {
        let data = Data(body.readableBytesView)
        if let decoded = try? JSONDecoder().decode(LenientError.self, from: data) {
            return FunctionError(
                errorType: decoded.errorType ?? header ?? "Unhandled",
                errorMessage: decoded.errorMessage ?? "",
                stackTrace: decoded.stackTrace ?? [])
        }
        return FunctionError(errorType: header ?? "Unhandled", errorMessage: String(decoding: data.prefix(4096), as: UTF8.self))
    }

    struct LenientError: Decodable {
        var errorType: String?
        var errorMessage: String?
        var stackTrace: [String]?

        enum CodingKeys: String, CodingKey { case errorType, errorMessage, stackTrace }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            errorType = try? c.decodeIfPresent(String.self, forKey: .errorType)
            errorMessage = try? c.decodeIfPresent(String.self, forKey: .errorMessage)
            if let lines = try? c.decodeIfPresent([String].self, forKey: .stackTrace) {
                stackTrace = lines
            } else if let one = try? c.decodeIfPresent(String.self, forKey: .stackTrace) {
                stackTrace = one.split(separator: "\n").map(String.init)
            }
        }
    }
}

@available(*, unavailable)
extension RuntimeAPIHandler: Sendable {}

/// A Runtime API call, from the path after `/2018-06-01/runtime/` (no query).
enum RuntimeAPIPath: Equatable {
    case next
    case response(String)
    case error(String)
    case initError
    case unknown

    init(_ path: Substring) {
        switch path {
        case "invocation/next": self = .next
        case "init/error": self = .initError
        default:
            // invocation/{id}/response or invocation/{id}/error, the id without a slash.
            let rest = path.dropFirst("invocation/".count)
            guard path.hasPrefix("invocation/"), let slash = rest.firstIndex(of: "/") else { self = .unknown; return }
            let id = rest[..<slash], call = rest[rest.index(after: slash)...]
            switch call {
            case "response": self = .response(String(id))
            case "error": self = .error(String(id))
            default: self = .unknown
            }
        }
    }
}

/// A connection's waiting `next`, as the mailbox holds it: the connection's loop, and its
/// handler (touched on that loop only).
final class RuntimeNext: Sendable {
    let loop: any EventLoop
    private let handler: NIOLoopBound<RuntimeAPIHandler>

    fileprivate init(_ handler: RuntimeAPIHandler, loop: any EventLoop) {
        self.loop = loop
        self.handler = NIOLoopBound(handler, eventLoop: loop)
    }

    /// Writes `invocation` as the answer to the waiting `next`, or gives it back to the
    /// mailbox when the connection is gone. Call on `loop`.
    func receive(_ invocation: PendingInvocation) {
        handler.value.received(invocation)
    }
}

/// Minimal JSON text helpers for hand-written bodies.
public enum JSONText {
    /// A JSON string literal for `s`.
    public static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
