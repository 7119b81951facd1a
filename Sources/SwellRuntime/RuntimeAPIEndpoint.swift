import CSwellSpawn
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// One instance's own Runtime API listener: a loopback port whose connections are spread
/// over the mailbox's event loops (see ``InstanceMailbox`` for why).
///
/// `AWS_LAMBDA_RUNTIME_API` is a plain `host:port`, so each instance gets a port of its own.
/// Ports on loopback can be found by any local process, so the port is not the boundary:
/// every connection is checked when it is accepted, and only a socket created by the uid the
/// instance runs as (asked of the kernel, see ``LoopbackPeer``) is served; any other is closed
/// before a byte is read. Connections per instance are capped as well.
public struct RuntimeAPIEndpoint: Sendable {
    public let channel: any Channel
    public let port: Int

    /// `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    public var address: String { "127.0.0.1:\(port)" }

    /// Starts listening on an ephemeral loopback port; connections go to the mailbox's loops in turn.
    /// - Parameters:
    ///   - peerUID: the only uid whose sockets may connect (the instance's own).
    ///   - maxConnections: connections served at once; more are closed at once.
    public static func bind(mailbox: InstanceMailbox, peerUID: uid_t, maxConnections: Int) async throws -> RuntimeAPIEndpoint {
        let counter = ConnectionCounter()
        let channel = try await ServerBootstrap(group: mailbox.group.next(), childGroup: mailbox.group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                guard LoopbackPeer.uid(of: channel) == peerUID, counter.open(limit: maxConnections) else {
                    return channel.eventLoop.makeFailedFuture(RuntimeAPIError.peerRefused)
                }
                channel.closeFuture.whenComplete { _ in counter.closed() }
                return channel.eventLoop.makeCompletedFuture {
                    try RuntimeAPIHandler.install(on: channel.pipeline.syncOperations, mailbox: mailbox)
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

enum RuntimeAPIError: Error {
    /// The connecting socket does not belong to the instance's uid, or the instance has too many connections.
    case peerRefused
}

/// Connections open on one endpoint.
final class ConnectionCounter: Sendable {
    private let count = Atomic<Int>(0)

    func open(limit: Int) -> Bool {
        if count.wrappingAdd(1, ordering: .relaxed).newValue > limit {
            count.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func closed() {
        count.wrappingSubtract(1, ordering: .relaxed)
    }
}

/// Who is on the other end of a loopback TCP connection.
public enum LoopbackPeer {
    /// The uid that created the peer's socket, or nil when it is not a loopback IPv4 peer or
    /// the kernel cannot tell (the connection is then refused).
    public static func uid(of channel: any Channel) -> uid_t? {
        guard case .v4(let remote)? = channel.remoteAddress, case .v4(let local)? = channel.localAddress else { return nil }
        var uid: UInt32 = 0
        let status = swell_loopback_peer_uid(
            remote.address.sin_addr.s_addr, UInt16(bigEndian: remote.address.sin_port),
            local.address.sin_addr.s_addr, UInt16(bigEndian: local.address.sin_port), &uid)
        return status == 0 ? uid_t(uid) : nil
    }
}
