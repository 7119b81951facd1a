import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import SwellModel
import Synchronization
import Testing
@testable import SwellRuntime

/// The mailbox over several event loops: the same-loop hand-over with real sockets, and
/// redelivery from a connection on one loop to a `next` waiting on another.
struct MailboxLoopTests {
    final class Results: Sendable {
        /// Request id → whether its completion ran on the loop that delivered it.
        let sameLoop = Mutex<[String: Bool]>([:])
        let outcomes = Mutex<[String: InvocationResult]>([:])
    }

    /// Plays a runtime on one connection: asks for `next`, answers each invocation with `"ok"`, asks again.
    final class FakeRuntime: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        private var pending = ByteBuffer()

        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(NIOAny(ByteBuffer(string: "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var chunk = unwrapInboundIn(data)
            pending.writeBuffer(&chunk)
            while let message = takeMessage() {
                guard let range = message.range(of: "Lambda-Runtime-Aws-Request-Id: ") else { continue }
                let id = message[range.upperBound...].prefix { !$0.isNewline }
                let post = "POST /2018-06-01/runtime/invocation/\(id)/response HTTP/1.1\r\nContent-Length: 4\r\n\r\n\"ok\""
                    + "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n"
                context.writeAndFlush(NIOAny(ByteBuffer(string: post)), promise: nil)
            }
        }

        /// One whole response (head and Content-Length body) off the front of what was read.
        private func takeMessage() -> String? {
            let text = String(buffer: pending)
            guard let end = text.range(of: "\r\n\r\n") else { return nil }
            let head = text[..<end.upperBound]
            let length = head.range(of: "Content-Length: ").map { Int(head[$0.upperBound...].prefix { $0.isNumber }) ?? 0 } ?? 0
            let headBytes = head.utf8.count
            guard pending.readableBytes >= headBytes + length else { return nil }
            let message = pending.readString(length: headBytes + length)
            pending.discardReadBytes()
            return message
        }
    }

    /// `count` fake runtimes connected to `endpoint`, each asking for its first `next`.
    private func connectRuntimes(_ count: Int, to endpoint: RuntimeAPIEndpoint, on clients: any EventLoopGroup) async throws -> [any Channel] {
        var channels: [any Channel] = []
        for _ in 0..<count {
            channels.append(try await ClientBootstrap(group: clients)
                .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(FakeRuntime()) } }
                .connect(host: "127.0.0.1", port: endpoint.port).get())
        }
        return channels
    }

    @Test func aBurstOnBothLoopsCompletesEveryInvocationOnce() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        let mailbox = InstanceMailbox(group: group, events: .init(ready: {}, initError: { _ in }))
        let endpoint = try await RuntimeAPIEndpoint.bind(mailbox: mailbox, peerUID: geteuid(), maxConnections: 8)
        let clients = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // Four connections over two loops: two `next`s wait on each.
        let channels = try await connectRuntimes(4, to: endpoint, on: clients)
        let results = Results()
        // Wait until all four `next`s are parked.
        let parked = try await waitUntil { await self.parkedNexts(mailbox, loops) == 4 }
        #expect(parked)

        let rounds = 40
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for i in 0..<rounds {
                let loop = loops[i % 2]
                tasks.addTask {
                    let id = "req-\(i)"
                    try await loop.submit {
                        mailbox.deliver(PendingInvocation(
                            requestID: id, payload: ByteBuffer(string: "{}"), deadlineEpochMs: 1, functionARN: "arn",
                            traceID: "t", timeout: .seconds(30)
                        ) { result in
                            let same = MultiThreadedEventLoopGroup.currentEventLoop === loop
                            results.sameLoop.withLock { $0[id] = same }
                            results.outcomes.withLock { $0[id] = result }
                        })
                    }.get()
                }
            }
            try await tasks.waitForAll()
        }
        let allDone = try await waitUntil { results.outcomes.withLock { $0.count } == rounds }
        #expect(allDone)
        let outcomes = results.outcomes.withLock { $0 }
        for (id, result) in outcomes {
            guard case .success(let body) = result else { Issue.record("\(id) failed: \(result)"); continue }
            #expect(String(buffer: body) == "\"ok\"")
        }
        #expect(try await waitUntil { mailbox.parked == 4 })
        for ch in channels { try? await ch.close() }
        endpoint.close()
        try await clients.shutdownGracefully()
        try await group.shutdownGracefully()
    }

    /// One delivery at a time, waiting for each answer: with a `next` waiting on every loop,
    /// every invocation stays on its loop.
    @Test func sequentialDeliveriesNeverCrossLoops() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        let mailbox = InstanceMailbox(group: group, events: .init(ready: {}, initError: { _ in }))
        let endpoint = try await RuntimeAPIEndpoint.bind(mailbox: mailbox, peerUID: geteuid(), maxConnections: 8)
        let clients = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channels = try await connectRuntimes(2, to: endpoint, on: clients)
        #expect(try await waitUntil { await self.parkedNexts(mailbox, loops) == 2 })
        let perLoop = await parkedPerLoop(mailbox, loops)
        #expect(perLoop == [1, 1], "connections not spread over the loops: \(perLoop)")
        let results = Results()
        for i in 0..<20 {
            let loop = loops[i % 2]
            let id = "seq-\(i)"
            try await loop.submit {
                mailbox.deliver(PendingInvocation(
                    requestID: id, payload: ByteBuffer(string: "{}"), deadlineEpochMs: 1, functionARN: "arn",
                    traceID: "t", timeout: .seconds(30)
                ) { result in
                    results.sameLoop.withLock { $0[id] = MultiThreadedEventLoopGroup.currentEventLoop === loop }
                    results.outcomes.withLock { $0[id] = result }
                })
            }.get()
            #expect(try await waitUntil { results.outcomes.withLock { $0[id] != nil } && mailbox.parked == 2 })
        }
        #expect(results.sameLoop.withLock { $0.values.allSatisfy { $0 } && $0.count == 20 })
        for ch in channels { try? await ch.close() }
        endpoint.close()
        try await clients.shutdownGracefully()
        try await group.shutdownGracefully()
    }

    /// A broken socket: every write fails.
    final class FailingWrites: ChannelOutboundHandler, Sendable {
        typealias OutboundIn = ByteBuffer
        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    @Test func anInvocationWhoseConnectionFailsGoesToANextOnAnotherLoopExactlyOnce() throws {
        let broken = EmbeddedChannel(), healthy = EmbeddedChannel()
        let mailbox = InstanceMailbox(group: broken.embeddedEventLoop, events: .init(ready: {}, initError: { _ in }))
        try broken.pipeline.syncOperations.addHandler(FailingWrites())
        for ch in [broken, healthy] {
            try RuntimeAPIHandler.install(on: ch.pipeline.syncOperations, mailbox: mailbox)
            try ch.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        }
        // The broken connection's `next` waited first, so it is handed the invocation first.
        try broken.writeInbound(ByteBuffer(string: "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n"))
        try healthy.writeInbound(ByteBuffer(string: "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n"))
        #expect(mailbox.parked == 2)
        let results = Results()
        mailbox.deliver(PendingInvocation(
            requestID: "req-r", payload: ByteBuffer(string: "{}"), deadlineEpochMs: 1, functionARN: "arn", traceID: "t", timeout: .seconds(30)
        ) { r in results.outcomes.withLock { $0["req-r", default: .failure(.unhandled, FunctionError(errorType: "twice", errorMessage: ""))] = r } })
        var written = ""
        while let b = try healthy.readOutbound(as: ByteBuffer.self) { written += String(buffer: b) }
        #expect(written.contains("Lambda-Runtime-Aws-Request-Id: req-r\r\n"))
        #expect(mailbox.parked == 0)
        try healthy.writeInbound(ByteBuffer(string: "POST /2018-06-01/runtime/invocation/req-r/response HTTP/1.1\r\nContent-Length: 1\r\n\r\n1"))
        guard case .success(let body)? = results.outcomes.withLock({ $0["req-r"] }) else { Issue.record("not completed"); return }
        #expect(String(buffer: body) == "1")
        #expect(!mailbox.isInFlight("req-r"))
    }

    private func parkedNexts(_ mailbox: InstanceMailbox, _ loops: [any EventLoop]) async -> Int {
        mailbox.parked
    }

    private func parkedPerLoop(_ mailbox: InstanceMailbox, _ loops: [any EventLoop]) async -> [Int] {
        loops.map { mailbox.parked(on: $0) }
    }

    private func waitUntil(_ condition: @Sendable () async throws -> Bool) async throws -> Bool {
        for _ in 0..<500 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }
}
