import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Limits of the HTTP listener (API, function URLs): how long a connection may idle or take
/// to send a request, and how many connections may be open at once.
///
/// ```swift
/// var listener = ListenerConfiguration()
/// listener.idleTimeout = .seconds(5)
/// ```
public struct ListenerConfiguration: Sendable {
    /// A connection with no request in progress and no bytes received for this long is closed.
    public var idleTimeout: Duration
    /// Time from a request's first byte to the end of its head (request line and headers).
    public var headerTimeout: Duration
    /// Time from the end of a request's head to the end of its body.
    public var bodyTimeout: Duration
    /// Most connections open at once (nil: derived from the process's file limit). At the cap,
    /// a new connection replaces the connection idle for longest; when every connection is
    /// busy with a request, the new one gets `503` and is closed.
    public var maxConnections: Int?

    public init(idleTimeout: Duration = .seconds(60), headerTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(60), maxConnections: Int? = nil) {
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.maxConnections = maxConnections
    }

    /// The connection cap for a process whose soft file limit is `fileLimit`: half of what is left
    /// after 1024 descriptors for instances' pipes, sockets and databases, between 64 and 16,384.
    public static func defaultMaxConnections(fileLimit: Int) -> Int {
        min(16_384, max(64, (fileLimit - 1024) / 2))
    }
}

/// The open-file limit of this process.
public enum FileLimit {
    /// Raises the soft `RLIMIT_NOFILE` towards `target` (never above the hard limit) and returns
    /// the soft limit in force afterwards.
    @discardableResult
    public static func raise(to target: Int = 65_536) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        let wanted = min(rlim_t(target), limit.rlim_max)
        if limit.rlim_cur < wanted {
            var raised = limit
            raised.rlim_cur = wanted
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return Int(wanted) }
        }
        return Int(min(limit.rlim_cur, rlim_t(Int.max)))
    }
}

/// What one connection is doing and when it must be closed, as a value: events in, the
/// current deadline out. Instants are durations since any fixed origin.
struct ConnectionDeadlines: Sendable, Equatable {
    enum Phase: Sendable, Equatable {
        /// Between requests, no byte of the next one seen yet.
        case idle
        /// The next request's head is arriving.
        case head
        /// A head arrived; its body is arriving.
        case body
        /// The request is read; the response is being produced (no deadline: the invocation's own timeout applies).
        case responding
    }

    /// Why a connection was closed.
    enum Expiry: String, Sendable, Equatable {
        case idle, header, body
    }

    let idleTimeout: Duration
    let headerTimeout: Duration
    let bodyTimeout: Duration
    private(set) var phase: Phase = .idle
    /// When the connection is closed unless the phase changes first.
    private(set) var deadline: Duration?
    private var inFlight = 0
    private var bytesAfterEnd = false

    init(_ configuration: ListenerConfiguration, now: Duration) {
        idleTimeout = configuration.idleTimeout
        headerTimeout = configuration.headerTimeout
        bodyTimeout = configuration.bodyTimeout
        deadline = now + idleTimeout
    }

    /// Whether a request is being read or answered (such a connection is never evicted for a new one).
    var busy: Bool { phase == .body || phase == .responding }

    mutating func bytesReceived(now: Duration) {
        switch phase {
        case .idle:
            phase = .head
            deadline = now + headerTimeout
        case .responding:
            bytesAfterEnd = true
        case .head, .body:
            break
        }
    }

    mutating func headReceived(now: Duration) {
        inFlight += 1
        bytesAfterEnd = false
        phase = .body
        deadline = now + bodyTimeout
    }

    mutating func endReceived(now: Duration) {
        if inFlight > 0 {
            phase = .responding
            deadline = nil
        } else {
            // Answered before its body was read (e.g. 401, 413): idle as soon as the body is in.
            phase = .idle
            deadline = now + idleTimeout
        }
    }

    mutating func responseEnded(now: Duration) {
        inFlight = max(0, inFlight - 1)
        guard inFlight == 0, phase == .responding else { return }
        if bytesAfterEnd {
            // The next request started arriving while this one was answered.
            bytesAfterEnd = false
            phase = .head
            deadline = now + headerTimeout
        } else {
            phase = .idle
            deadline = now + idleTimeout
        }
    }

    /// The reason to close the connection at `now`, or nil while its deadline is ahead.
    func expired(now: Duration) -> Expiry? {
        guard let deadline, now >= deadline else { return nil }
        switch phase {
        case .idle: return .idle
        case .head: return .header
        case .body: return .body
        case .responding: return nil
        }
    }
}

/// The open connections of a listener with a cap, as a value: a new connection at the cap
/// replaces the one idle for longest, or is refused when all are busy.
struct ConnectionTable<ID: Hashable & Sendable>: Sendable {
    enum Admission: Sendable, Equatable {
        case accept
        /// Accepted in place of this idle connection, which the caller closes.
        case acceptEvicting(ID)
        case refuse
    }

    let limit: Int
    /// Each open connection: busy or not, and the stamp of its latest idle period.
    private var entries: [ID: (busy: Bool, stamp: UInt64)] = [:]
    /// Idle periods in the order they began; entries whose stamp is stale are skipped.
    private var idleOrder: [(id: ID, stamp: UInt64)] = []
    private var idleHead = 0
    private var nextStamp: UInt64 = 0

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    var count: Int { entries.count }

    mutating func opened(_ id: ID) -> Admission {
        if entries.count < limit {
            markIdle(id)
            return .accept
        }
        while idleHead < idleOrder.count {
            let candidate = idleOrder[idleHead]
            idleHead += 1
            if let entry = entries[candidate.id], !entry.busy, entry.stamp == candidate.stamp {
                entries[candidate.id] = nil
                markIdle(id)
                return .acceptEvicting(candidate.id)
            }
        }
        compact()
        return .refuse
    }

    mutating func becameBusy(_ id: ID) {
        guard entries[id] != nil else { return }
        entries[id]!.busy = true
    }

    mutating func becameIdle(_ id: ID) {
        guard let entry = entries[id], entry.busy else { return }
        markIdle(id)
    }

    mutating func closed(_ id: ID) {
        entries[id] = nil
    }

    private mutating func markIdle(_ id: ID) {
        nextStamp += 1
        entries[id] = (false, nextStamp)
        idleOrder.append((id, nextStamp))
        if idleOrder.count - idleHead > 2 * entries.count + 1024 { compact() }
    }

    /// Drops stale entries of the idle order (connections closed, busy or idle again since).
    private mutating func compact() {
        idleOrder = idleOrder[idleHead...].filter { item in entries[item.id].map { !$0.busy && $0.stamp == item.stamp } ?? false }
        idleHead = 0
    }
}

/// The open connections of one listener, shared by its event loops.
final class ConnectionRegistry: Sendable {
    private struct State {
        var table: ConnectionTable<ObjectIdentifier>
        var channels: [ObjectIdentifier: any Channel] = [:]
    }

    private let state: Mutex<State>
    let logger: Logger
    private let evicted = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)

    init(limit: Int, logger: Logger) {
        state = Mutex(State(table: ConnectionTable(limit: limit)))
        self.logger = logger
    }

    /// Registers a new connection; false when it must be refused.
    func opened(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let (admission, victim): (ConnectionTable<ObjectIdentifier>.Admission, (any Channel)?) = state.withLock { s in
            let a = s.table.opened(id)
            switch a {
            case .accept:
                s.channels[id] = channel
                return (a, nil)
            case .acceptEvicting(let old):
                s.channels[id] = channel
                return (a, s.channels.removeValue(forKey: old))
            case .refuse:
                return (a, nil)
            }
        }
        switch admission {
        case .accept:
            return true
        case .acceptEvicting:
            let n = evicted.wrappingAdd(1, ordering: .relaxed).newValue
            if n == 1 || n % 1000 == 0 {
                logger.warning("connection cap reached: closing the longest idle connections for new ones", metadata: ["evicted": "\(n)"])
            }
            victim?.close(promise: nil)
            return true
        case .refuse:
            let n = refused.wrappingAdd(1, ordering: .relaxed).newValue
            if n == 1 || n % 1000 == 0 {
                logger.warning("connection cap reached with every connection busy: refusing new ones", metadata: ["refused": "\(n)"])
            }
            return false
        }
    }

    func busy(_ id: ObjectIdentifier, _ busy: Bool) {
        state.withLock { s in
            if busy { s.table.becameBusy(id) } else { s.table.becameIdle(id) }
        }
    }

    func closed(_ id: ObjectIdentifier) {
        state.withLock { s in
            s.table.closed(id)
            s.channels[id] = nil
        }
    }

    var count: Int { state.withLock { $0.table.count } }
}

/// The deadlines of one connection and the timer that enforces them; used on the channel's
/// event loop only, by the two handlers below.
final class ConnectionGuard {
    private static let origin = ContinuousClock.now
    private var deadlines: ConnectionDeadlines
    private var timer: Scheduled<Void>?
    private var timerDeadline: Duration?
    private var wasBusy = false
    private let registry: ConnectionRegistry
    private let id: ObjectIdentifier
    private weak var channel: (any Channel)?
    let admitted: Bool
    /// Whether the latest request head keeps the connection open (HTTP/1.1 without `Connection: close`, or HTTP/1.0 with keep-alive).
    var requestKeepAlive = true

    init(channel: any Channel, configuration: ListenerConfiguration, registry: ConnectionRegistry) {
        self.registry = registry
        self.channel = channel
        id = ObjectIdentifier(channel)
        deadlines = ConnectionDeadlines(configuration, now: Self.now)
        admitted = registry.opened(channel)
        if admitted {
            channel.closeFuture.whenComplete { [registry, id] _ in registry.closed(id) }
        }
    }

    static var now: Duration { ContinuousClock.now - origin }

    func start() { update() }

    func bytesReceived() {
        deadlines.bytesReceived(now: Self.now)
        update()
    }

    func headReceived() {
        deadlines.headReceived(now: Self.now)
        update()
    }

    func endReceived() {
        deadlines.endReceived(now: Self.now)
        update()
    }

    func responseEnded() {
        deadlines.responseEnded(now: Self.now)
        update()
    }

    func stop() {
        timer?.cancel()
        timer = nil
    }

    /// Tells the registry when the connection turns busy or idle, and keeps the timer at or before the deadline.
    private func update() {
        if deadlines.busy != wasBusy {
            wasBusy = deadlines.busy
            registry.busy(id, wasBusy)
        }
        guard let deadline = deadlines.deadline, let channel else { return }
        if let scheduled = timerDeadline, scheduled <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = channel.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: .init(deadline - Self.now)) { [self] in
            self.fired()
        }
    }

    private func fired() {
        timer = nil
        timerDeadline = nil
        if let reason = deadlines.expired(now: Self.now) {
            registry.logger.debug("closing connection", metadata: ["reason": "\(reason.rawValue) timeout"])
            channel?.close(promise: nil)
            return
        }
        update()
    }
}

/// First handler of a connection: sees every byte received (a request's head begins) and
/// answers `503` to a connection over the cap.
final class ConnectionBytesHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let connection: ConnectionGuard

    init(_ connection: ConnectionGuard) {
        self.connection = connection
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if connection.admitted { connection.start() }
        if context.channel.isActive { refuseIfOverTheCap(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuseIfOverTheCap(context: context)
        context.fireChannelActive()
    }

    private var refused = false

    private func refuseIfOverTheCap(context: ChannelHandlerContext) {
        guard !connection.admitted, !refused else { return }
        refused = true
        let refusal = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\nretry-after: 1\r\n\r\n"
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: refusal))).whenComplete { _ in channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        connection.stop()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard connection.admitted else { return }
        connection.bytesReceived()
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.stop()
        context.fireChannelInactive()
    }
}

/// Sits after the HTTP/1 decoder: sees where each request's head and end are and where each response ends.
final class ConnectionPartsHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let connection: ConnectionGuard

    init(_ connection: ConnectionGuard) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            connection.requestKeepAlive = head.isKeepAlive
            connection.headReceived()
        case .body: break
        case .end: connection.endReceived()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { connection.responseEnded() }
        context.write(data, promise: promise)
    }
}

@available(*, unavailable)
extension ConnectionGuard: Sendable {}
@available(*, unavailable)
extension ConnectionBytesHandler: Sendable {}
@available(*, unavailable)
extension ConnectionPartsHandler: Sendable {}

/// Hummingbird's HTTP/1 child channel with Swell's deadlines and connection cap in front,
/// and function URLs served by `FunctionURLFront` ahead of the application.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let configuration: ListenerConfiguration
    let registry: ConnectionRegistry
    var functionURLs: FunctionURLService?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            let connection = ConnectionGuard(channel: channel, configuration: configuration, registry: registry)
            try channel.pipeline.syncOperations.addHandler(ConnectionBytesHandler(connection), position: .first)
            let bound = NIOLoopBound(connection, eventLoop: channel.eventLoop)
            return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
                let decoder = try channel.pipeline.syncOperations.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
                try channel.pipeline.syncOperations.addHandler(ConnectionPartsHandler(bound.value), position: .after(decoder.handler))
                if let functionURLs {
                    // After the connection-state handler (graceful shutdown counts its requests too), before the application.
                    let state = try channel.pipeline.syncOperations.context(handlerType: HTTPConnectionStateHandler.self)
                    try channel.pipeline.syncOperations.addHandler(
                        FunctionURLFront(service: functionURLs, connection: bound.value), position: .after(state.handler))
                }
                return value
            }
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with Swell's listener limits (timeouts and connection cap).
    static func guardedHTTP1(
        _ configuration: ListenerConfiguration, maxConnections: Int, logger: Logger, functionURLs: FunctionURLService? = nil
    ) -> HTTPServerBuilder {
        let registry = ConnectionRegistry(limit: maxConnections, logger: logger)
        return HTTPServerBuilder { responder in
            GuardedHTTP1Channel(
                inner: HTTP1Channel(responder: responder), configuration: configuration, registry: registry, functionURLs: functionURLs)
        }
    }
}
