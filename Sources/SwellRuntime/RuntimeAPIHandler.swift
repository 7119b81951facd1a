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
/// Every response is written as head, body and end in one flush (one `writev`), on a socket
/// with `TCP_NODELAY`, so that no warm invoke waits for Nagle's algorithm.
final class RuntimeAPIHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private static let prefix = "/2018-06-01/runtime/"
    private let mailbox: InstanceMailbox
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var tooLarge = false
    private var waitingNext: EventLoopPromise<PendingInvocation>?

    init(mailbox: InstanceMailbox) {
        self.mailbox = mailbox
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
            tooLarge = false
        case .body(var chunk):
            guard !tooLarge else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > Limits.maxPayloadBytes {
                tooLarge = true
                body = nil
                return
            }
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard let head else { return }
            self.head = nil
            route(context: context, head: head, body: body ?? context.channel.allocator.buffer(capacity: 0))
            body = nil
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let waiting = waitingNext {
            waitingNext = nil
            mailbox.nextAbandoned(waiting)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func route(context: ChannelHandlerContext, head: HTTPRequestHead, body: ByteBuffer) {
        let uri = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard uri.hasPrefix(Self.prefix) else { return respond(context, .notFound, errorType: "UnknownPath", message: "no such Runtime API path: \(uri)") }
        let path = uri.dropFirst(Self.prefix.count).split(separator: "/", omittingEmptySubsequences: false)

        switch (head.method, path.count, path.first) {
        case (.GET, 2, "invocation") where path[1] == "next":
            next(context: context)
        case (.POST, 3, "invocation") where path[2] == "response":
            let id = String(path[1])
            if tooLarge {
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
        case (.POST, 3, "invocation") where path[2] == "error":
            let id = String(path[1])
            let error = Self.decodeError(body, header: head.headers.first(name: "Lambda-Runtime-Function-Error-Type"))
            if mailbox.complete(id, with: .failure(.unhandled, error)) {
                respondAccepted(context)
            } else {
                respond(context, .badRequest, errorType: "InvalidRequestID", message: "unknown or finished request id \(id)")
            }
        case (.POST, 2, "init") where path[1] == "error":
            mailbox.initErrorReported(Self.decodeError(body, header: head.headers.first(name: "Lambda-Runtime-Function-Error-Type")))
            respondAccepted(context)
        default:
            respond(context, .notFound, errorType: "UnknownPath", message: "no such Runtime API call: \(head.method) \(uri)")
        }
    }

    private func next(context: ChannelHandlerContext) {
        let promise = context.eventLoop.makePromise(of: PendingInvocation.self)
        waitingNext = promise
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        promise.futureResult.hop(to: context.eventLoop).whenComplete { result in
            let (handler, context) = loopBound.value
            handler.waitingNext = nil
            guard case .success(let invocation) = result else { return }
            handler.writeInvocation(context: context, invocation)
        }
        mailbox.nextRequested(promise)
    }

    private func writeInvocation(context: ChannelHandlerContext, _ inv: PendingInvocation) {
        guard context.channel.isActive else {
            mailbox.redeliver(inv)
            return
        }
        var headers = HTTPHeaders()
        headers.reserveCapacity(8)
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(inv.payload.readableBytes))
        headers.add(name: "Lambda-Runtime-Aws-Request-Id", value: inv.requestID)
        headers.add(name: "Lambda-Runtime-Deadline-Ms", value: String(inv.deadlineEpochMs))
        headers.add(name: "Lambda-Runtime-Invoked-Function-Arn", value: inv.functionARN)
        headers.add(name: "Lambda-Runtime-Trace-Id", value: inv.traceID)
        if let cc = inv.clientContext { headers.add(name: "Lambda-Runtime-Client-Context", value: cc) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(inv.payload))), promise: nil)
        let mailbox = self.mailbox
        let done = context.eventLoop.makePromise(of: Void.self)
        done.futureResult.whenFailure { _ in mailbox.redeliver(inv) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
    }

    private static let acceptedBody = ByteBuffer(string: #"{"status":"OK"}"#)

    private func respondAccepted(_ context: ChannelHandlerContext) {
        write(context, status: .accepted, body: Self.acceptedBody)
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, errorType: String, message: String) {
        let json = #"{"errorType":"\#(errorType)","errorMessage":\#(JSONText.quote(message))}"#
        write(context, status: status, body: ByteBuffer(string: json))
    }

    private func write(_ context: ChannelHandlerContext, status: HTTPResponseStatus, body: ByteBuffer) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
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
