import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import SwellKafka

/// A broker stand-in on 127.0.0.1 that answers ApiVersions and, for FindCoordinator,
/// echoes the requested key as the coordinator's host, as its `mode` says.
private final class FakeBroker: Sendable {
    enum Mode: Sendable {
        /// Answer each request at once.
        case immediate
        /// Hold requests until `count` arrived, then answer them newest first.
        case reversed(count: Int)
        /// Never answer.
        case silent
        /// Close the connection on the first request after ApiVersions.
        case close
        /// Serve Metadata v1 (itself, node 1, leads every partition 0 of any topic) and
        /// ListOffsets v1, answering NOT_LEADER_OR_FOLLOWER to the first `failures`
        /// ListOffsets requests, then offset 42.
        case leaderMoves(failures: Int)
    }

    /// Requests seen, by API key.
    let counts = Counts()

    final class Counts: Sendable {
        private let storage = Mutex<[Int16: Int]>([:])
        func increment(_ key: Int16) -> Int { storage.withLock { $0[key, default: 0] += 1; return $0[key]! } }
        subscript(key: KafkaAPIKey) -> Int { storage.withLock { $0[key.rawValue] ?? 0 } }
    }

    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

    init(mode: Mode) async throws {
        let counts = counts
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder(maxFrameSize: 1 << 20)))
                    try channel.pipeline.syncOperations.addHandler(FakeBrokerHandler(mode: mode, counts: counts))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    func stop() async {
        try? await channel.close()
    }
}

private final class FakeBrokerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let mode: FakeBroker.Mode
    let counts: FakeBroker.Counts
    var held: [(Int32, String)] = []

    init(mode: FakeBroker.Mode, counts: FakeBroker.Counts) {
        self.mode = mode
        self.counts = counts
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        let apiKey = try! frame.readKafkaInt16()
        _ = try! frame.readKafkaInt16()
        let correlationID = try! frame.readKafkaInt32()
        _ = try! frame.readKafkaNullableString()
        if apiKey == KafkaAPIKey.apiVersions.rawValue {
            var body = ByteBuffer()
            body.writeKafkaInt16(0)
            let versions: [(KafkaAPIKey, Int16, Int16)] = [(.apiVersions, 0, 3), (.findCoordinator, 0, 2), (.metadata, 0, 1), (.listOffsets, 0, 1)]
            body.writeKafkaArray(versions) { buffer, entry in
                buffer.writeKafkaInt16(entry.0.rawValue)
                buffer.writeKafkaInt16(entry.1)
                buffer.writeKafkaInt16(entry.2)
            }
            respond(context: context, correlationID: correlationID, body: body)
            return
        }
        let seen = counts.increment(apiKey)
        if case let .leaderMoves(failures) = mode, apiKey != KafkaAPIKey.findCoordinator.rawValue {
            var body = ByteBuffer()
            if apiKey == KafkaAPIKey.metadata.rawValue {
                let topics = try! frame.readKafkaArray { try $0.readKafkaString() }
                body.writeKafkaArray([Int32(1)]) { buffer, node in
                    buffer.writeKafkaInt32(node)
                    buffer.writeKafkaString("127.0.0.1")
                    buffer.writeKafkaInt32(Int32(context.channel.localAddress!.port!))
                    buffer.writeKafkaNullableString(nil)
                }
                body.writeKafkaInt32(1) // controller
                body.writeKafkaArray(topics) { buffer, topic in
                    buffer.writeKafkaInt16(0)
                    buffer.writeKafkaString(topic)
                    buffer.writeKafkaBool(false)
                    buffer.writeKafkaArray([Int32(0)]) { buffer, partition in
                        buffer.writeKafkaInt16(0)
                        buffer.writeKafkaInt32(partition)
                        buffer.writeKafkaInt32(1) // leader
                        buffer.writeKafkaArray([Int32(1)]) { $0.writeKafkaInt32($1) }
                        buffer.writeKafkaArray([Int32(1)]) { $0.writeKafkaInt32($1) }
                    }
                }
            } else { // ListOffsets v1
                _ = try! frame.readKafkaInt32() // replica
                let topic = try! frame.readKafkaArray { buffer in try buffer.readKafkaString() }.first ?? ""
                body.writeKafkaArray([topic]) { buffer, topic in
                    buffer.writeKafkaString(topic)
                    buffer.writeKafkaArray([Int32(0)]) { buffer, partition in
                        buffer.writeKafkaInt32(partition)
                        buffer.writeKafkaInt16(seen <= failures ? 6 : 0)
                        buffer.writeKafkaInt64(-1)
                        buffer.writeKafkaInt64(seen <= failures ? -1 : 42)
                    }
                }
            }
            respond(context: context, correlationID: correlationID, body: body)
            return
        }
        let key = try! frame.readKafkaString()
        switch mode {
        case .immediate, .leaderMoves:
            respond(context: context, correlationID: correlationID, key: key)
        case let .reversed(count):
            held.append((correlationID, key))
            if held.count == count {
                for (id, key) in held.reversed() { respond(context: context, correlationID: id, key: key) }
                held.removeAll()
            }
        case .silent:
            break
        case .close:
            context.close(promise: nil)
        }
    }

    private func respond(context: ChannelHandlerContext, correlationID: Int32, key: String) {
        var body = ByteBuffer()
        body.writeKafkaInt32(0) // throttle
        body.writeKafkaInt16(0) // error
        body.writeKafkaNullableString(nil)
        body.writeKafkaInt32(1)
        body.writeKafkaString(key)
        body.writeKafkaInt32(9092)
        respond(context: context, correlationID: correlationID, body: body)
    }

    private func respond(context: ChannelHandlerContext, correlationID: Int32, body: ByteBuffer) {
        var frame = ByteBuffer()
        frame.writeKafkaInt32(Int32(4 + body.readableBytes))
        frame.writeKafkaInt32(correlationID)
        frame.writeImmutableBuffer(body)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}

@Suite struct KafkaConnectionTests {
    private func connect(_ broker: FakeBroker, timeout: TimeAmount = .seconds(5)) async throws -> KafkaConnection {
        try await KafkaConnection.connect(host: "127.0.0.1", port: broker.port, clientID: "test",
                                          group: MultiThreadedEventLoopGroup.singleton,
                                          connectTimeout: .seconds(2), requestTimeout: timeout)
    }

    @Test func negotiatesVersionsOnConnect() async throws {
        let broker = try await FakeBroker(mode: .immediate)
        let connection = try await connect(broker)
        #expect(connection.apiVersions[10] == 0...2)
        #expect(try connection.version(for: FindCoordinatorRequest.self) == 2)
        #expect(throws: KafkaError.unsupportedAPI("Fetch")) { try connection.version(for: FetchRequest.self) }
        let response = try await connection.send(FindCoordinatorRequest(key: "hello"))
        #expect(response.host == "hello")
        await connection.close()
        await broker.stop()
    }

    @Test func pipelinedResponsesAreMatchedByCorrelationID() async throws {
        let broker = try await FakeBroker(mode: .reversed(count: 8))
        let connection = try await connect(broker)
        try await withThrowingTaskGroup(of: (String, String).self) { group in
            for index in 0..<8 {
                group.addTask {
                    let key = "group-\(index)"
                    return (key, try await connection.send(FindCoordinatorRequest(key: key)).host)
                }
            }
            for try await (key, host) in group { #expect(key == host) }
        }
        await connection.close()
        await broker.stop()
    }

    @Test func closedConnectionFailsPendingRequests() async throws {
        let broker = try await FakeBroker(mode: .close)
        let connection = try await connect(broker)
        await #expect {
            _ = try await connection.send(FindCoordinatorRequest(key: "x"))
        } throws: { error in
            if case .connectionClosed? = error as? KafkaError { return true }
            return false
        }
        // Later requests fail at once, with the same typed error.
        await #expect {
            _ = try await connection.send(FindCoordinatorRequest(key: "y"))
        } throws: { error in
            if case .connectionClosed? = error as? KafkaError { return true }
            return false
        }
        #expect(!connection.isActive)
        await broker.stop()
    }

    @Test func requestTimeoutFailsTheRequestAndTheConnection() async throws {
        let broker = try await FakeBroker(mode: .silent)
        let connection = try await connect(broker, timeout: .milliseconds(200))
        let first = Task { _ = try await connection.send(FindCoordinatorRequest(key: "a")) }
        let second = Task { _ = try await connection.send(FindCoordinatorRequest(key: "b"), extraTimeout: .seconds(10)) }
        await #expect(throws: KafkaError.requestTimedOut(api: "FindCoordinator")) { try await first.value }
        await #expect {
            try await second.value
        } throws: { error in
            if case .connectionClosed? = error as? KafkaError { return true }
            return false
        }
        await broker.stop()
    }

    @Test func connectFailureIsTyped() async throws {
        let broker = try await FakeBroker(mode: .immediate)
        let port = broker.port
        await broker.stop()
        await #expect {
            _ = try await KafkaConnection.connect(host: "127.0.0.1", port: port, clientID: nil, group: MultiThreadedEventLoopGroup.singleton,
                                                  connectTimeout: .seconds(1), requestTimeout: .seconds(1))
        } throws: { error in
            if case .connectionFailed? = error as? KafkaError { return true }
            return false
        }
    }

    @Test func clientReportsUnreachableBootstrapServers() async throws {
        let client = KafkaClient(configuration: .init(bootstrapServers: ["127.0.0.1:1"], connectTimeout: .seconds(1), maxAttempts: 2,
                                                      retryBackoff: .milliseconds(1)))
        await #expect {
            _ = try await client.metadata(topics: ["t"])
        } throws: { error in
            if case .noBrokerAvailable? = error as? KafkaError { return true }
            return false
        }
        await client.close()
        await #expect(throws: KafkaError.clientClosed) { _ = try await client.metadata(topics: ["t"]) }
    }

    @Test func leaderChangeIsRetriedAfterAMetadataRefresh() async throws {
        let broker = try await FakeBroker(mode: .leaderMoves(failures: 2))
        let client = KafkaClient(configuration: .init(bootstrapServers: ["127.0.0.1:\(broker.port)"], retryBackoff: .milliseconds(1)))
        #expect(try await client.listOffsets(topic: "t", partition: 0, at: .latest) == 42)
        #expect(broker.counts[.listOffsets] == 3)
        #expect(broker.counts[.metadata] == 3) // the first lookup, then one refresh per retry
        await client.close()
        await broker.stop()
    }

    @Test func leaderErrorsGiveUpAfterMaxAttempts() async throws {
        let broker = try await FakeBroker(mode: .leaderMoves(failures: 100))
        let client = KafkaClient(configuration: .init(bootstrapServers: ["127.0.0.1:\(broker.port)"], maxAttempts: 3, retryBackoff: .milliseconds(1)))
        await #expect {
            _ = try await client.listOffsets(topic: "t", partition: 0, at: .latest)
        } throws: { error in
            guard case let .broker(code, context)? = error as? KafkaError else { return false }
            return code == .notLeaderOrFollower && context == "ListOffsets t/0"
        }
        #expect(broker.counts[.listOffsets] == 3)
        await #expect(throws: KafkaError.unknownPartition(topic: "t", partition: 7)) {
            _ = try await client.listOffsets(topic: "t", partition: 7, at: .latest)
        }
        await client.close()
        await broker.stop()
    }

    @Test func bootstrapAddressesParse() throws {
        #expect(try KafkaClient.Address(parsing: "localhost:9092") == .init(host: "localhost", port: 9092))
        #expect(try KafkaClient.Address(parsing: " [::1]:19092 ") == .init(host: "::1", port: 19092))
        #expect(throws: KafkaError.self) { try KafkaClient.Address(parsing: "localhost") }
        #expect(throws: KafkaError.self) { try KafkaClient.Address(parsing: "host:0") }
        #expect(throws: KafkaError.self) { try KafkaClient.Address(parsing: ":9092") }
    }
}
