import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

#if canImport(Glibc)
import Glibc
#endif
import SwellModel
import SwellRuntime

/// The function a request path names, matched as the router matches `fn/:ns/:name` and
/// `fn/:ns/:name/**`: path components split at `/` with empty ones skipped, nothing decoded.
struct FunctionURLTarget: Sendable, Equatable {
    var namespace: String
    var name: String
    /// The components after the name, joined by `/` (the function's `rawPath` is `/` + this).
    var rest: String

    /// The target of `path` (the request target, query included), or nil when the path is no
    /// function URL or the method is not one function URLs answer.
    init?(method: HTTPRequest.Method, path: String?) {
        guard let path, path.utf8.starts(with: "/fn/".utf8), FunctionURLRoutes.methods.contains(method) else { return nil }
        let end = path.firstIndex { $0 == "?" || $0 == "#" } ?? path.endIndex
        var components = path[path.index(path.startIndex, offsetBy: 4)..<end].split(separator: "/", omittingEmptySubsequences: true)[...]
        guard components.count >= 2 else { return nil }
        namespace = String(components.removeFirst())
        name = String(components.removeFirst())
        rest = components.joined(separator: "/")
    }

    init(namespace: String, name: String, rest: String) {
        self.namespace = namespace
        self.name = name
        self.rest = rest
    }

    /// The route's path as the router names it (the tracing span's name).
    var routePath: String { rest.isEmpty ? "/fn/{ns}/{name}" : "/fn/{ns}/{name}/**" }
}

/// What the front answers itself, recognised from a request's head: function URLs, and the
/// synchronous invoke API (`POST /v1/namespaces/{ns}/functions/{name}/invoke`), the other
/// request on the hot path. Anything else passes through to the application.
enum FrontTarget: Sendable, Equatable {
    case functionURL(FunctionURLTarget)
    /// Answered by the application's own responder (router, middlewares, route) from the
    /// front's task, so authentication, audit and errors are the application's.
    case invokeAPI

    init?(method: HTTPRequest.Method, path: String?, invokeAPI: Bool) {
        if let target = FunctionURLTarget(method: method, path: path) {
            self = .functionURL(target)
        } else if invokeAPI, method == .post, let path, Self.isInvokeAPI(path) {
            self = .invokeAPI
        } else {
            return nil
        }
    }

    /// Whether `path` is `/v1/namespaces/{ns}/functions/{name}/invoke` (a query allowed). Only a
    /// hint: the application's router decides what the request is.
    static func isInvokeAPI(_ path: String) -> Bool {
        guard path.utf8.starts(with: "/v1/namespaces/".utf8) else { return false }
        let end = path.firstIndex { $0 == "?" || $0 == "#" } ?? path.endIndex
        let c = path[..<end].split(separator: "/", omittingEmptySubsequences: true)
        return c.count == 6 && c[0] == "v1" && c[1] == "namespaces" && c[3] == "functions" && c[5] == "invoke"
    }
}

/// The order of one connection's requests, as a value: which handler each inbound part goes
/// to (the function-URL front or the application behind it), and which parts must wait.
///
/// A request is complete when its end was received and its response's end written. Parts of
/// the next request wait until then (HTTP/1.1 answers in order), and are released in order.
/// A request whose response was written before its body was read (an early 401 or 413) gets
/// the rest of its body delivered to the same handler.
struct RequestSequencer<Item> {
    enum Route: Sendable, Equatable {
        /// The application (Hummingbird) answers.
        case pass
        /// The front answers.
        case serve
    }

    enum Part: Sendable, Equatable {
        /// A request's head; `close`: the connection ends after its response.
        case head(Route, close: Bool)
        case body
        case end
        /// An error or event of the connection: delivered in order, to the request being read.
        case other
    }

    private struct Current {
        var route: Route
        var close: Bool
        var inboundEnded = false
        var responseEnded = false
    }

    private var current: Current?
    private var held = CircularBuffer<(Item, Part)>()
    /// A request that closes the connection is complete: nothing more is delivered.
    private(set) var closed = false

    /// Whether parts are waiting (reading more from the connection should wait too).
    var isHolding: Bool { !held.isEmpty }

    /// The handler of the request being read or answered, if any.
    var currentRoute: Route? { current?.route }

    private var blocked: Bool { closed || current?.inboundEnded == true }

    /// An inbound item: where to deliver it now, or nil while it waits (or is dropped, after a closing request).
    mutating func received(_ item: Item, _ part: Part) -> (Item, Route)? {
        if closed { return nil }
        if !held.isEmpty || blocked {
            held.append((item, part))
            return nil
        }
        return route(item, part)
    }

    /// The current request's response ended: the items released by it, in order.
    mutating func responseEnded() -> [(Item, Route)] {
        guard current != nil else { return [] }
        current!.responseEnded = true
        guard current!.inboundEnded else { return [] }
        complete()
        var out: [(Item, Route)] = []
        while !blocked, let (item, part) = held.popFirst() {
            out.append(route(item, part))
        }
        return out
    }

    private mutating func route(_ item: Item, _ part: Part) -> (Item, Route) {
        switch part {
        case .head(let route, let close):
            current = Current(route: route, close: close)
            return (item, route)
        case .body, .other:
            return (item, current?.route ?? .pass)
        case .end:
            guard let c = current else { return (item, .pass) }
            current!.inboundEnded = true
            if c.responseEnded { complete() }
            return (item, c.route)
        }
    }

    private mutating func complete() {
        if current?.close == true {
            closed = true
            held.removeAll()
        }
        current = nil
    }
}

/// `Date` header values, formatted once a second.
enum HTTPDate {
    private static let cache = Mutex<(second: Int64, text: String)>((-1, ""))
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static var now: String {
        let second = Int64(time(nil))
        if let hit = cache.withLock({ $0.second == second ? $0.text : nil }) { return hit }
        let text = format(epochSeconds: second)
        cache.withLock { $0 = (second, text) }
        return text
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110's IMF-fixdate).
    static func format(epochSeconds: Int64) -> String {
        let days = Int(epochSeconds.floorDiv(86400))
        let rem = Int(epochSeconds - Int64(days) * 86400)
        let (year, month, day) = CronCalendar.civil(fromDays: days)
        let weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(self.days[weekday]), \(two(day)) \(months[month - 1]) \(year) \(two(rem / 3600)):\(two(rem / 60 % 60)):\(two(rem % 60)) GMT"
    }
}

extension Int64 {
    fileprivate func floorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}

extension SwellServer {
    /// A server span per request, continuing a caller's W3C traceparent (the router's and the function-URL front's).
    static func requestTracing() -> TracingMiddleware<SwellRequestContext> {
        TracingMiddleware(recordingHeaders: [.userAgent, .contentType], redactingQueryParameters: ["key"])
    }
}

/// The application's part of a function-URL front: what answers a request it took.
struct FunctionURLService: Sendable {
    let routes: FunctionURLRoutes
    let logger: Logger
    /// The `Server` header of responses (the application's server name).
    let serverName: String?
    /// The application's responder, for the invoke API (nil: the front takes function URLs only).
    var application: RouterResponder<SwellRequestContext>? = nil

    /// The application's answer to a request the front took (the invoke API): what the
    /// application would have answered, an error included.
    func respond(_ request: Request, context: SwellRequestContext) async -> Response {
        guard let application else { return Response(status: .notFound) }
        do {
            return try await application.respond(to: request, context: context)
        } catch {
            // The router's error middleware answers every error it knows; the rest is a 500, as the application makes it.
            return Response(status: .internalServerError)
        }
    }
}

/// Serves function-URL requests (`/fn/{ns}/{name}/…`) on the connection's event loop, in front
/// of the application: it reads the request, answers it through the same route code and
/// middlewares as the router (one task per request, no per-part hops through the
/// application's async channel), and writes the response in one flush. Every other request
/// passes through untouched; `RequestSequencer` keeps the answers in order.
final class FunctionURLFront: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    enum Item {
        case head(HTTPRequest, FrontTarget?, keepAlive: Bool)
        case body(ByteBuffer)
        case end(HTTPFields?)
        case error(any Error)
        case event(Any)
    }

    /// The function-URL request being read or answered.
    private struct Served {
        var id: UInt64
        var head: HTTPRequest
        var target: FrontTarget
        var keepAlive: Bool
        var body: ByteBuffer
        var inboundEnded = false
        /// The route runs (or ran) for it.
        var task: Task<Void, Never>?
        /// Its response is written (its body may still be arriving, to be dropped).
        var answered = false
        /// Answer then close (the body could not be read).
        var failure: SwellError?

        var started: Bool { task != nil }
    }

    private let service: FunctionURLService
    private let connection: ConnectionGuard
    private var sequencer = RequestSequencer<Item>()
    private var served: Served?
    private var nextID: UInt64 = 0
    private var readPending = false
    private var context: ChannelHandlerContext?
    /// The connection's loop as a task executor: a request's task runs where it was read.
    private var executor: EventLoopTaskExecutor?

    init(service: FunctionURLService, connection: ConnectionGuard) {
        self.service = service
        self.connection = connection
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.executor = EventLoopTaskExecutor(context.eventLoop)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        served?.task?.cancel()
        self.context = nil
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let target = FrontTarget(method: head.method, path: head.path, invokeAPI: service.application != nil)
            let keepAlive = connection.requestKeepAlive
            let close = target == nil ? Self.asksToClose(head) : !keepAlive || Self.asksToClose(head)
            receive(.head(head, target, keepAlive: keepAlive), .head(target == nil ? .pass : .serve, close: close), context: context)
        case .body(let buffer):
            receive(.body(buffer), .body, context: context)
        case .end(let trailers):
            receive(.end(trailers), .end, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        receive(.error(error), .other, context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            // The client hung up (or half-closed): a request waiting for an instance gives its place back.
            served?.task?.cancel()
        }
        receive(.event(event), .other, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        served?.task?.cancel()
        context.fireChannelInactive()
    }

    /// Whether the application (Hummingbird) ends the connection after this request.
    private static func asksToClose(_ head: HTTPRequest) -> Bool {
        head.headerFields[.connection]?.lowercased() == "close"
    }

    private func receive(_ item: Item, _ part: RequestSequencer<Item>.Part, context: ChannelHandlerContext) {
        if let (item, route) = sequencer.received(item, part) { deliver(item, route, context: context) }
    }

    private func deliver(_ item: Item, _ route: RequestSequencer<Item>.Route, context: ChannelHandlerContext) {
        switch route {
        case .pass: forward(item, context: context)
        case .serve: serve(item, context: context)
        }
    }

    private func forward(_ item: Item, context: ChannelHandlerContext) {
        switch item {
        case .head(let head, _, _): context.fireChannelRead(wrapInboundOut(.head(head)))
        case .body(let buffer): context.fireChannelRead(wrapInboundOut(.body(buffer)))
        case .end(let trailers): context.fireChannelRead(wrapInboundOut(.end(trailers)))
        case .error(let error): context.fireErrorCaught(error)
        case .event(let event): context.fireUserInboundEventTriggered(event)
        }
    }

    private func serve(_ item: Item, context: ChannelHandlerContext) {
        switch item {
        case .head(let head, let target, let keepAlive):
            nextID &+= 1
            served = Served(id: nextID, head: head, target: target!, keepAlive: keepAlive, body: ByteBuffer())
        case .body(var buffer):
            guard var s = served, !s.started else { return }
            served = nil  // the body is appended to without a copy
            let room = Limits.maxPayloadBytes + 1 - s.body.readableBytes
            if buffer.readableBytes >= room {
                // Over the limit: the route answers (413, or the 404/401 it checks first); the rest is read and dropped.
                if let slice = buffer.readSlice(length: room) { s.body.writeImmutableBuffer(slice) }
                served = s
                start(context: context)
                return
            }
            if s.body.readableBytes == 0 { s.body = buffer } else { s.body.writeBuffer(&buffer) }
            served = s
        case .end:
            guard served != nil else { return }
            served!.inboundEnded = true
            if !served!.started {
                start(context: context)
            } else if served!.answered {
                served = nil
            }
        case .error(let error):
            // The request cannot be read to its end: answered (400 if not yet), then the connection closes.
            guard let s = served else { return }
            if !s.started {
                served!.failure = SwellError(.invalidRequest, "the request body could not be read: \(error)")
                served!.keepAlive = false
                start(context: context)
            } else if s.answered {
                served = nil
                context.close(promise: nil)
            } else {
                served!.keepAlive = false
            }
        case .event(let event):
            if let e = event as? ChannelEvent, e == .inputClosed, let s = served, !s.started || s.answered {
                // The body will never end.
                served = nil
                context.close(promise: nil)
            }
        }
    }

    /// Answers the request read so far: one task runs the route, the response is written on the event loop.
    private func start(context: ChannelHandlerContext) {
        guard let s = served else { return }
        let service = service
        let channel = context.channel
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let id = s.id
        let request = Request(head: s.head, body: .init(buffer: s.body))
        let target = s.target
        let failure = s.failure
        served!.body = ByteBuffer()
        served!.task = Task(executorPreference: executor) {
            let response: Response
            if let failure {
                response = (try? failure.response(from: request, context: SwellRequestContext(source: .init(channel: channel, logger: service.logger))))
                    ?? Response(status: .badRequest)
            } else {
                let context = SwellRequestContext(source: .init(channel: channel, logger: service.logger))
                switch target {
                case .functionURL(let target):
                    response = await service.routes.respondAsRouted(request, to: target, context: context)
                case .invokeAPI:
                    response = await service.respond(request, context: context)
                }
            }
            let written = await ResponseBytes.collect(response)
            if loop.inEventLoop {
                bound.value.respond(id: id, written)
            } else {
                loop.execute { bound.value.respond(id: id, written) }
            }
        }
    }

    private func respond(id: UInt64, _ response: ResponseBytes) {
        guard let context, let s = served, s.id == id else { return }
        var head = response.head
        head.headerFields[.date] = HTTPDate.now
        if let name = service.serverName { head.headerFields[.server] = name }
        head.headerFields[.contentLength] = String(response.body.readableBytes)
        let close = !s.keepAlive || Self.asksToClose(s.head)
        if close {
            head.headerFields[.connection] = "close"
        } else if s.head.headerFields[.connection]?.lowercased() == "keep-alive" {
            // An HTTP/1.0 client keeps the connection only when told so.
            head.headerFields[.connection] = "keep-alive"
        }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if response.body.readableBytes > 0 { context.write(wrapOutboundOut(.body(response.body)), promise: nil) }
        if close {
            served = nil
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            _ = sequencer.responseEnded()
            return
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        // An early answer (body over the limit): the rest of the body is still read, and dropped.
        if s.inboundEnded { served = nil } else { served!.answered = true }
        responseEnded(context: context)
    }

    private func responseEnded(context: ChannelHandlerContext) {
        let released = sequencer.responseEnded()
        for (item, route) in released { deliver(item, route, context: context) }
        // Outside a read: the application's async channel hands what it was given over at a read's completion.
        if released.contains(where: { $0.1 == .pass }) { context.fireChannelReadComplete() }
        if readPending, !sequencer.isHolding {
            readPending = false
            context.read()
        }
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let isEnd: Bool
        if case .end = unwrapOutboundIn(data) { isEnd = true } else { isEnd = false }
        context.write(data, promise: promise)
        if isEnd { responseEnded(context: context) }
    }

    func read(context: ChannelHandlerContext) {
        if sequencer.isHolding {
            // Requests are waiting for earlier answers: read no more until they are taken.
            readPending = true
        } else {
            context.read()
        }
    }
}

@available(*, unavailable)
extension FunctionURLFront: Sendable {}

/// A response collected into one buffer (function-URL responses are bounded by the payload limit).
struct ResponseBytes: Sendable {
    var head: HTTPResponse
    var body: ByteBuffer

    static func collect(_ response: Response) async -> ResponseBytes {
        let collector = Collector()
        do {
            try await response.body.write(CollectingWriter(collector: collector))
        } catch {
            return ResponseBytes(head: HTTPResponse(status: .internalServerError), body: ByteBuffer())
        }
        return ResponseBytes(head: response.head, body: collector.buffer)
    }

    private final class Collector {
        var buffer = ByteBuffer()
    }

    private struct CollectingWriter: ResponseBodyWriter {
        let collector: Collector

        mutating func write(_ buffer: ByteBuffer) async throws {
            if collector.buffer.readableBytes == 0 {
                collector.buffer = buffer
            } else {
                var b = buffer
                collector.buffer.writeBuffer(&b)
            }
        }

        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}
