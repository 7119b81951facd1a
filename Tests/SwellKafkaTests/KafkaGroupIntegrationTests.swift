import Foundation
import Logging
import Testing
@testable import SwellKafka

private let groupBroker = ProcessInfo.processInfo.environment["SWELL_KAFKA_BROKER"]

/// Records what a member was told.
private actor Recorder: KafkaGroupHandler {
    var current: KafkaPartitionSet = [:]
    var generation: Int32 = -1
    var revokes = 0
    var failures: [String] = []

    func revoke(_ partitions: KafkaPartitionSet) async {
        revokes += 1
        current = [:]
    }

    func assign(_ partitions: KafkaPartitionSet, generation: Int32) async {
        current = partitions
        self.generation = generation
    }

    func groupFailure(_ message: String?) async {
        if let message { failures.append(message) }
    }

    var partitions: Set<Int32> { Set(current.values.flatMap { $0 }) }
}

/// Polls `predicate` every 100 ms until it holds or `seconds` pass.
private func eventually(_ seconds: Double, _ predicate: () async -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if await predicate() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return await predicate()
}

/// The consumer group protocol against a real broker (tansu): members split a topic's
/// partitions with the range assignor, one leaving or dying hands its partitions over, and
/// commits carry the generation.
@Suite(.enabled(if: groupBroker != nil, "set SWELL_KAFKA_BROKER=host:port (tests/kafka_tools/start_tansu.sh)"), .serialized)
struct KafkaGroupIntegrationTests {
    let settings = KafkaGroupMembership.Settings(sessionTimeout: 6, rebalanceTimeout: 10, heartbeatInterval: 0.5, retryBackoff: 0.3)

    private func client() -> KafkaClient {
        KafkaClient(configuration: .init(bootstrapServers: [groupBroker ?? "127.0.0.1:9092"], clientID: "swellkafka-group-tests", maxAttempts: 3))
    }

    private func makeTopic() async throws -> String {
        let topic = "swellkafka-group-\(UInt32.random(in: 0...UInt32.max))"
        let admin = client()
        // Produce-free creation: the topic must exist with 4 partitions; kafka_tool.py creates it.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let tool = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tests/kafka_tools/kafka_tool.py")
        process.arguments = ["python3", tool.path, "--broker", groupBroker!, "create-topic", topic, "4"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        _ = try await admin.metadata(topics: [topic])
        await admin.close()
        return topic
    }

    @Test func twoMembersSplitThePartitionsAndALeaverHandsItsOnesOver() async throws {
        let topic = try await makeTopic()
        let group = "g-\(topic)"
        let (clientA, clientB) = (client(), client())
        let a = KafkaGroupMember(client: clientA, group: group, topics: [topic], settings: settings, logger: Logger(label: "a"))
        let b = KafkaGroupMember(client: clientB, group: group, topics: [topic], settings: settings, logger: Logger(label: "b"))
        let (ra, rb) = (Recorder(), Recorder())
        let runA = Task { await a.run(handler: ra) }
        #expect(await eventually(20) { await ra.partitions == [0, 1, 2, 3] })
        let first = await ra.generation
        // A commit with the current generation is accepted; a made-up generation is refused.
        #expect(try await a.commit([topic: [0: 0]]))
        let (_, memberA, _) = await a.identity
        #expect(try await clientA.commitOffsets(group: group, generation: first + 100, memberID: memberA, offsets: [topic: [0: 0]]) == .illegalGeneration)

        let runB = Task { await b.run(handler: rb) }
        let split = await eventually(25) {
            let (pa, pb) = (await ra.partitions, await rb.partitions)
            return pa.count == 2 && pb.count == 2 && pa.union(pb) == [0, 1, 2, 3]
        }
        let (currentA, currentB) = (await ra.current, await rb.current)
        #expect(split, "A \(currentA) B \(currentB)")
        let (genA, genB) = (await ra.generation, await rb.generation)
        #expect(genA > first && genA == genB)
        #expect(await ra.revokes >= 1)
        // A range split: each member owns two consecutive partitions.
        let pa = await ra.partitions.sorted()
        #expect(pa == [0, 1] || pa == [2, 3])

        // B leaves (LeaveGroup): A takes everything without waiting for a session timeout.
        let left = Date()
        runB.cancel()
        await runB.value
        #expect(await eventually(15) { await ra.partitions == [0, 1, 2, 3] })
        #expect(Date().timeIntervalSince(left) < 12)
        runA.cancel()
        await runA.value
        await clientA.close()
        await clientB.close()
    }

    @Test func aMemberThatStopsHeartbeatingIsEvictedAndItsPartitionsTakenOver() async throws {
        let topic = try await makeTopic()
        let group = "g-\(topic)"
        let (clientA, clientB) = (client(), client())
        let a = KafkaGroupMember(client: clientA, group: group, topics: [topic], settings: settings, logger: Logger(label: "a"))
        let b = KafkaGroupMember(client: clientB, group: group, topics: [topic], settings: settings, logger: Logger(label: "b"))
        let (ra, rb) = (Recorder(), Recorder())
        let runA = Task { await a.run(handler: ra) }
        #expect(await eventually(20) { await ra.partitions == [0, 1, 2, 3] })
        let runB = Task { await b.run(handler: rb) }
        let split = await eventually(25) {
            let (pa, pb) = (await ra.partitions, await rb.partitions)
            return pa.count == 2 && pb.count == 2
        }
        #expect(split)
        // B dies: its connections close and it never sends LeaveGroup.
        await clientB.close()
        let died = Date()
        #expect(await eventually(25) { await ra.partitions == [0, 1, 2, 3] })
        let takeover = Date().timeIntervalSince(died)
        #expect(takeover < 20, "takeover took \(takeover) s")
        print("group takeover after a silent member: \(String(format: "%.1f", takeover)) s")
        runB.cancel()
        runA.cancel()
        await runB.value
        await runA.value
        await clientA.close()
    }
}
