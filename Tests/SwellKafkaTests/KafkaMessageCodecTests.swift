import NIOCore
import Testing
@testable import SwellKafka

/// Golden bytes for every request this client encodes, hand-computed from the protocol
/// guide (fields separated by spaces, `|` between structures), and response decoding
/// from hand-computed and captured (tansu) bytes.
@Suite struct KafkaMessageCodecTests {
    private func expectBody(_ request: some KafkaRequest, version: Int16, _ hex: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(hexString((try? request.encoded(version: version)) ?? ByteBuffer()) == hexString(hexBuffer(hex)), "v\(version)", sourceLocation: sourceLocation)
    }

    @Test func aVersionOutsideTheImplementedRangeIsAnErrorNotACrash() {
        #expect(throws: KafkaError.self) { try MetadataRequest(topics: ["t"]).encoded(version: 99) }
    }

    // MARK: Headers

    @Test func requestHeaderV1() {
        var buffer = ByteBuffer()
        KafkaHeaderCodec.writeRequestHeader(apiKey: 3, version: 8, correlationID: 7, clientID: "fx", into: &buffer)
        #expect(hexString(buffer) == "0003 0008 00000007 0002 6678".filter { $0 != " " })
        buffer.clear()
        KafkaHeaderCodec.writeRequestHeader(apiKey: 18, version: 0, correlationID: -2, clientID: nil, into: &buffer)
        #expect(hexString(buffer) == "00120000fffffffeffff")
    }

    @Test func responseHeaderV0() throws {
        var buffer = hexBuffer("0000002a ff")
        #expect(try KafkaHeaderCodec.readResponseHeader(from: &buffer) == 42)
        #expect(buffer.readableBytes == 1)
    }

    // MARK: ApiVersions

    @Test func apiVersions() throws {
        expectBody(ApiVersionsRequest(), version: 0, "")
        let response = try ApiVersionsRequest.decodeWholeResponse(hexBuffer("""
        0000 | 00000002 | 0000 0003 000b | 0012 0000 0003
        """), version: 0)
        #expect(response == .init(errorCode: .none, versions: [0: 3...11, 18: 0...3]))
        #expect(throws: KafkaError.self) {
            try ApiVersionsRequest.decodeWholeResponse(hexBuffer("0000 00000001 0000 0005 0003"), version: 0)
        }
    }

    // MARK: Metadata

    @Test func metadataRequests() {
        expectBody(MetadataRequest(topics: ["fx"]), version: 1, "00000001 0002 6678")
        expectBody(MetadataRequest(topics: nil), version: 1, "ffffffff")
        expectBody(MetadataRequest(topics: ["fx"]), version: 4, "00000001 0002 6678 | 00")
        expectBody(MetadataRequest(topics: ["fx"], allowAutoTopicCreation: true), version: 7, "00000001 0002 6678 | 01")
        // The bytes a broker (tansu) answered in the capture below.
        expectBody(MetadataRequest(topics: ["fx"]), version: 8, "00000001 0002 6678 | 00 | 00 00")
    }

    @Test func metadataV8ResponseCapturedFromTansu() throws {
        let response = try MetadataRequest.decodeWholeResponse(hexBuffer(CapturedFixtures.tansuMetadataV8), version: 8)
        #expect(response.brokers == [.init(nodeID: 111, host: "127.0.0.1", port: 19092, rack: nil)])
        #expect(response.clusterID == "tansu_cluster")
        #expect(response.controllerID == 111)
        #expect(response.topics == [.init(errorCode: .none, name: "fx", isInternal: false, partitions: [
            .init(errorCode: .none, partition: 0, leader: 111, leaderEpoch: 0, replicas: [111], isr: [111]),
        ])])
    }

    @Test func metadataV1Response() throws {
        let response = try MetadataRequest.decodeWholeResponse(hexBuffer("""
        00000002 | 00000001 0001 61 00002384 ffff | 00000002 0001 62 00002385 0002 7231
        | 00000001
        | 00000002
        | 0000 0001 74 00 | 00000002
            | 0006 00000000 00000002 00000002 00000002 00000001 00000001 00000002
            | 0000 00000001 00000001 00000000 00000000
        | 0003 0001 75 00 | 00000000
        """), version: 1)
        #expect(response.brokers.map(\.port) == [9092, 9093])
        #expect(response.brokers[1].rack == "r1")
        #expect(response.clusterID == nil)
        #expect(response.controllerID == 1)
        #expect(response.topics[0].partitions[0] == .init(errorCode: .notLeaderOrFollower, partition: 0, leader: 2, leaderEpoch: -1, replicas: [2, 1], isr: [2]))
        #expect(response.topics[0].partitions[1].replicas == [])
        #expect(response.topics[1].errorCode == .unknownTopicOrPartition)
    }

    @Test func metadataV5ResponseHasOfflineReplicas() throws {
        let response = try MetadataRequest.decodeWholeResponse(hexBuffer("""
        00000000 | 00000000 | ffff | ffffffff
        | 00000001 0000 0001 74 00 | 00000001 0000 00000003 00000001 00000000 00000000 00000001 00000009
        """), version: 5)
        #expect(response.topics[0].partitions[0].partition == 3)
        #expect(response.controllerID == -1)
    }

    @Test func truncatedMetadataIsMalformed() {
        let bytes = hexBytes(CapturedFixtures.tansuMetadataV8)
        for cut in [1, 10, bytes.count / 2, bytes.count - 1] {
            #expect(throws: KafkaError.self) {
                try MetadataRequest.decodeWholeResponse(ByteBuffer(bytes: bytes.prefix(cut)), version: 8)
            }
        }
        #expect(throws: KafkaError.self) { // stray bytes after the response
            try MetadataRequest.decodeWholeResponse(ByteBuffer(bytes: bytes + [0]), version: 8)
        }
    }

    // MARK: ListOffsets

    @Test func listOffsetsRequests() {
        let latest = ListOffsetsRequest(topic: "t", partitions: [.init(partition: 0, timestamp: -1)])
        expectBody(latest, version: 1, "ffffffff | 00000001 0001 74 | 00000001 00000000 ffffffffffffffff")
        expectBody(latest, version: 2, "ffffffff 00 | 00000001 0001 74 | 00000001 00000000 ffffffffffffffff")
        let two = ListOffsetsRequest(topic: "t", partitions: [.init(partition: 0, timestamp: -2), .init(partition: 3, timestamp: 1_700_000_000_000)])
        expectBody(two, version: 5, """
        ffffffff 00 | 00000001 0001 74 | 00000002
        | 00000000 ffffffff fffffffffffffffe | 00000003 ffffffff 0000018bcfe56800
        """)
    }

    @Test func listOffsetsResponses() throws {
        let v1 = try ListOffsetsRequest.decodeWholeResponse(hexBuffer("""
        00000001 0001 74 00000001 | 00000000 0000 ffffffffffffffff 0000000000000003
        """), version: 1)
        #expect(v1.topics == [.init(name: "t", partitions: [.init(partition: 0, errorCode: .none, timestamp: -1, offset: 3)])])
        let v5 = try ListOffsetsRequest.decodeWholeResponse(hexBuffer("""
        00000000 | 00000001 0001 74 00000002
        | 00000000 0000 ffffffffffffffff 0000000000000003 00000000
        | 00000001 0006 ffffffffffffffff ffffffffffffffff ffffffff
        """), version: 5)
        #expect(v5.topics[0].partitions[1] == .init(partition: 1, errorCode: .notLeaderOrFollower, timestamp: -1, offset: -1))
    }

    // MARK: Fetch

    @Test func fetchRequests() {
        let request = FetchRequest(maxWaitMs: 100, minBytes: 1, maxBytes: 1 << 20,
                                   topics: [.init(topic: "fx", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)])])
        expectBody(request, version: 4, """
        ffffffff 00000064 00000001 00100000 00 | 00000001 0002 6678 | 00000001 00000000 0000000000000000 00100000
        """)
        expectBody(request, version: 5, """
        ffffffff 00000064 00000001 00100000 00 | 00000001 0002 6678 | 00000001 00000000 0000000000000000 ffffffffffffffff 00100000
        """)
        expectBody(request, version: 7, """
        ffffffff 00000064 00000001 00100000 00 00000000 ffffffff | 00000001 0002 6678
        | 00000001 00000000 0000000000000000 ffffffffffffffff 00100000 | 00000000
        """)
        // The request tansu answered with `CapturedFixtures.tansuFetchV11`.
        expectBody(request, version: 11, """
        ffffffff 00000064 00000001 00100000 00 00000000 ffffffff | 00000001 0002 6678
        | 00000001 00000000 ffffffff 0000000000000000 ffffffffffffffff 00100000 | 00000000 | 0000
        """)
    }

    @Test func fetchV11ResponseCapturedFromTansu() throws {
        let response = try FetchRequest.decodeWholeResponse(hexBuffer(CapturedFixtures.tansuFetchV11), version: 11)
        #expect(response.errorCode == .none)
        let partition = try #require(response.topics.first?.partitions.first)
        #expect(response.topics[0].topic == "fx")
        #expect(partition.highWatermark == 3)
        #expect(partition.logStartOffset == 0)
        #expect(partition.abortedTransactions == nil) // tansu sends a null array
        let decoded = try RecordBatch.decodeRecordSet(try #require(partition.records), fromOffset: 0)
        #expect(decoded.records.map(\.offset) == [0, 1, 2])
        #expect(decoded.records.map { $0.key.map { String(decoding: $0, as: UTF8.self) } } == ["k0", "k1", nil])
        #expect(decoded.records.map { String(decoding: $0.value!, as: UTF8.self) } == ["gzip-0", "gzip-1", "gzip-2"])
        #expect(decoded.records[0].headers == [KafkaHeader(key: "h", value: Array("0".utf8))])
        #expect(decoded.records[0].timestamp == 0x01A1_FFFC_3994)
        #expect(decoded.nextOffset == 3)
    }

    @Test func fetchV11ResponseWithLibrdkafkaGzipBatch() throws {
        let response = try FetchRequest.decodeWholeResponse(hexBuffer(CapturedFixtures.tansuFetchV11Gzip), version: 11)
        let partition = try #require(response.topics.first?.partitions.first)
        #expect(partition.highWatermark == 6)
        let decoded = try RecordBatch.decodeRecordSet(try #require(partition.records), fromOffset: 4)
        #expect(decoded.records.map(\.offset) == [4, 5])
        #expect(decoded.nextOffset == 6)
    }

    @Test func fetchV4AndV7Responses() throws {
        let v4 = try FetchRequest.decodeWholeResponse(hexBuffer("""
        00000000 | 00000001 0001 74 00000001
        | 00000002 0001 ffffffffffffffff ffffffffffffffff | ffffffff | ffffffff
        """), version: 4)
        #expect(v4.topics[0].partitions[0].errorCode == .offsetOutOfRange)
        #expect(v4.topics[0].partitions[0].records == nil)
        #expect(v4.topics[0].partitions[0].logStartOffset == -1)
        let v7 = try FetchRequest.decodeWholeResponse(hexBuffer("""
        00000000 0000 00000000 | 00000001 0001 74 00000001
        | 00000000 0000 000000000000000a 000000000000000a 0000000000000002
        | 00000001 0000000000000005 0000000000000007 | 00000000
        """), version: 7)
        #expect(v7.topics[0].partitions[0].abortedTransactions == [.init(producerID: 5, firstOffset: 7)])
        #expect(v7.topics[0].partitions[0].records == ByteBuffer())
        #expect(v7.topics[0].partitions[0].logStartOffset == 2)
    }

    // MARK: Produce

    @Test func produceRequests() {
        let request = ProduceRequest(topic: "t", partitions: [.init(partition: 1, records: ByteBuffer(string: "abc"))], timeoutMs: 30000)
        let body = "ffff | ffff 00007530 | 00000001 0001 74 | 00000001 00000001 00000003 616263"
        for version: Int16 in 3...8 { expectBody(request, version: version, body) }
    }

    @Test func produceResponses() throws {
        let v3 = try ProduceRequest.decodeWholeResponse(hexBuffer("""
        00000001 0001 74 00000001 | 00000002 0000 000000000000002a ffffffffffffffff | 00000000
        """), version: 3)
        #expect(v3.topics == [.init(topic: "t", partitions: [.init(partition: 2, errorCode: .none, baseOffset: 42, logAppendTime: -1, logStartOffset: -1, errorMessage: nil)])])
        let v8 = try ProduceRequest.decodeWholeResponse(hexBuffer("""
        00000001 0001 74 00000001
        | 00000002 0006 ffffffffffffffff ffffffffffffffff 0000000000000000 | 00000001 00000000 ffff | 0005 6d6f766564
        | 00000000
        """), version: 8)
        #expect(v8.topics[0].partitions[0].errorCode == .notLeaderOrFollower)
        #expect(v8.topics[0].partitions[0].logStartOffset == 0)
        #expect(v8.topics[0].partitions[0].errorMessage == "moved")
    }

    // MARK: Group coordination

    @Test func findCoordinator() throws {
        expectBody(FindCoordinatorRequest(key: "g"), version: 1, "0001 67 00")
        expectBody(FindCoordinatorRequest(key: "g"), version: 2, "0001 67 00")
        let response = try FindCoordinatorRequest.decodeWholeResponse(hexBuffer("""
        00000000 0000 ffff 00000001 0009 3132372e302e302e31 00004a94
        """), version: 2)
        #expect(response == .init(errorCode: .none, errorMessage: nil, nodeID: 1, host: "127.0.0.1", port: 19092))
        let failed = try FindCoordinatorRequest.decodeWholeResponse(hexBuffer("00000000 000f 0003 6e6f70 ffffffff 0000 ffffffff"), version: 1)
        #expect(failed.errorCode == .coordinatorNotAvailable)
        #expect(failed.errorMessage == "nop")
    }

    @Test func offsetCommitRequests() {
        let request = OffsetCommitRequest(groupID: "g", topics: [.init(topic: "t", partitions: [.init(partition: 0, offset: 5, metadata: "")])])
        let v2 = "0001 67 ffffffff 0000 ffffffffffffffff | 00000001 0001 74 | 00000001 00000000 0000000000000005 0000"
        expectBody(request, version: 2, v2)
        expectBody(request, version: 4, v2)
        expectBody(request, version: 5, "0001 67 ffffffff 0000 | 00000001 0001 74 | 00000001 00000000 0000000000000005 0000")
        expectBody(request, version: 6, "0001 67 ffffffff 0000 | 00000001 0001 74 | 00000001 00000000 0000000000000005 ffffffff 0000")
        expectBody(request, version: 7, "0001 67 ffffffff 0000 ffff | 00000001 0001 74 | 00000001 00000000 0000000000000005 ffffffff 0000")
    }

    @Test func offsetCommitResponses() throws {
        let v2 = try OffsetCommitRequest.decodeWholeResponse(hexBuffer("00000001 0001 74 00000001 00000000 0000"), version: 2)
        #expect(v2.topics == [.init(topic: "t", partitions: [.init(partition: 0, errorCode: .none)])])
        let v7 = try OffsetCommitRequest.decodeWholeResponse(hexBuffer("00000000 | 00000001 0001 74 00000001 00000000 0010"), version: 7)
        #expect(v7.topics[0].partitions[0].errorCode == .notCoordinator)
    }

    @Test func offsetFetchRequests() {
        let request = OffsetFetchRequest(groupID: "g", topic: "t", partitions: [0, 1])
        for version: Int16 in 1...5 {
            expectBody(request, version: version, "0001 67 | 00000001 0001 74 | 00000002 00000000 00000001")
        }
    }

    @Test func offsetFetchResponses() throws {
        let v1 = try OffsetFetchRequest.decodeWholeResponse(hexBuffer("""
        00000001 0001 74 00000001 | 00000000 0000000000000005 0000 0000
        """), version: 1)
        #expect(v1 == .init(topics: [.init(topic: "t", partitions: [.init(partition: 0, committedOffset: 5, metadata: "", errorCode: .none)])], errorCode: .none))
        let v5 = try OffsetFetchRequest.decodeWholeResponse(hexBuffer("""
        00000000 | 00000001 0001 74 00000002
        | 00000000 0000000000000005 ffffffff 0000 0000
        | 00000001 ffffffffffffffff ffffffff ffff 0000
        | 000e
        """), version: 5)
        #expect(v5.errorCode == .coordinatorLoadInProgress)
        #expect(v5.topics[0].partitions[1] == .init(partition: 1, committedOffset: -1, metadata: nil, errorCode: .none))
    }
}
