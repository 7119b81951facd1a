import NIOCore
import NIOPosix

/// One TCP connection to one broker, with the API versions negotiated on it.
///
/// Requests may be pipelined: any number can be in flight at once, each matched to its
/// response by correlation id. Closing the connection (either side) fails every pending
/// request with ``KafkaError/connectionClosed(_:)``; a request that gets no answer within
/// its timeout fails with ``KafkaError/requestTimedOut(api:)`` and closes the connection.
final class KafkaConnection: Sendable {
    let host: String
    let port: Int
    /// The broker's version range for each API key, from ApiVersions.
    let apiVersions: [Int16: ClosedRange<Int16>]
    private let channel: any Channel
    private let handler: NIOLoopBound<KafkaChannelHandler>
    private let requestTimeout: TimeAmount

    private init(host: String, port: Int, channel: any Channel, handler: NIOLoopBound<KafkaChannelHandler>,
                 apiVersions: [Int16: ClosedRange<Int16>], requestTimeout: TimeAmount) {
        self.host = host
        self.port = port
        self.channel = channel
        self.handler = handler
        self.apiVersions = apiVersions
        self.requestTimeout = requestTimeout
    }

    /// Connects and negotiates API versions (ApiVersions v0).
    static func connect(host: String, port: Int, clientID: String?, group: any EventLoopGroup,
                        connectTimeout: TimeAmount, requestTimeout: TimeAmount,
                        maxFrameSize: Int = 256 << 20) async throws -> KafkaConnection {
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder(maxFrameSize: maxFrameSize)))
                        try channel.pipeline.syncOperations.addHandler(KafkaChannelHandler(clientID: clientID))
                    }
                }
                .connect(host: host, port: port)
                .get()
        } catch {
            throw KafkaError.connectionFailed(host: host, port: port, reason: "\(error)")
        }
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: KafkaChannelHandler.self), eventLoop: channel.eventLoop)
        }.get()

        let probe = KafkaConnection(host: host, port: port, channel: channel, handler: handler,
                                    apiVersions: [:], requestTimeout: requestTimeout)
        do {
            let versions = try await probe.send(ApiVersionsRequest(), version: 0)
            guard versions.errorCode == .none else {
                throw KafkaError.broker(versions.errorCode, context: "ApiVersions")
            }
            return KafkaConnection(host: host, port: port, channel: channel, handler: handler,
                                   apiVersions: versions.versions, requestTimeout: requestTimeout)
        } catch {
            await probe.close()
            throw error
        }
    }

    /// Whether the connection can still carry requests.
    var isActive: Bool { channel.isActive }

    /// The version of `R` to use with this broker: the highest both implement.
    func version<R: KafkaRequest>(for request: R.Type) throws -> Int16 {
        try KafkaVersionNegotiation.choose(api: R.apiKey, ours: R.supportedVersions, broker: apiVersions[R.apiKey.rawValue])
    }

    /// Sends `request` at the negotiated version and decodes the response.
    /// `extraTimeout` extends the request timeout (a Fetch waits `maxWait` on the broker).
    func send<R: KafkaRequest>(_ request: R, extraTimeout: TimeAmount = .zero) async throws -> R.Response {
        try await send(request, version: try version(for: R.self), extraTimeout: extraTimeout)
    }

    /// Sends `request` at `version` and decodes the response.
    func send<R: KafkaRequest>(_ request: R, version: Int16, extraTimeout: TimeAmount = .zero) async throws -> R.Response {
        let body = try request.encoded(version: version)
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let handler = self.handler
        let timeout = requestTimeout + extraTimeout
        channel.eventLoop.execute {
            handler.value.send(apiKey: R.apiKey.rawValue, version: version, body: body,
                               api: R.apiKey.description, timeout: timeout, promise: promise)
        }
        let response = try await promise.futureResult.get()
        return try R.decodeWholeResponse(response, version: version)
    }

    /// Closes the connection; pending requests fail with ``KafkaError/connectionClosed(_:)``.
    func close() async {
        try? await channel.close()
    }
}
