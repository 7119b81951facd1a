import NIOCore
import NIOHTTP1
import NIOPosix

/// One instance's own Runtime API listener: a loopback port on the shared event loops.
///
/// `AWS_LAMBDA_RUNTIME_API` is a plain `host:port`, so each instance gets a port of its own;
/// a listener is cheap (one socket) and no instance can address another's events.
public struct RuntimeAPIEndpoint: Sendable {
    public let channel: any Channel
    public let port: Int

    /// `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    public var address: String { "127.0.0.1:\(port)" }

    /// Starts listening on an ephemeral loopback port.
    public static func bind(mailbox: InstanceMailbox, group: any EventLoopGroup) async throws -> RuntimeAPIEndpoint {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(RuntimeAPIHandler(mailbox: mailbox))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return RuntimeAPIEndpoint(channel: channel, port: channel.localAddress?.port ?? 0)
    }

    /// Stops listening (connections already open close when the process dies).
    public func close() {
        channel.close(promise: nil)
    }
}
