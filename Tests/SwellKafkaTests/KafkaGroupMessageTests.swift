import NIOCore
import Testing
@testable import SwellKafka

/// Golden bytes of the group membership requests, hand-computed from the protocol guide
/// (fields separated by spaces), and decoding of their responses.
@Suite struct KafkaGroupMessageTests {
    private func expectBody(_ request: some KafkaRequest, version: Int16, _ hex: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(hexString((try? request.encoded(version: version)) ?? ByteBuffer()) == hexString(hexBuffer(hex)), "v\(version)", sourceLocation: sourceLocation)
    }

    let metadata = ByteBuffer(bytes: [0x61, 0x62])

    @Test func joinGroupRequest() {
        let request = JoinGroupRequest(groupID: "g", sessionTimeoutMs: 6000, rebalanceTimeoutMs: 10000, memberID: "",
                                       protocols: [.init(name: "range", metadata: metadata)])
        expectBody(request, version: 1, "0001 67 00001770 00002710 0000 0008 636f6e73756d6572 00000001 0005 72616e6765 00000002 6162")
        expectBody(request, version: 5, "0001 67 00001770 00002710 0000 ffff 0008 636f6e73756d6572 00000001 0005 72616e6765 00000002 6162")
        #expect(throws: KafkaError.self) { try request.encoded(version: 6) }  // flexible: not implemented
    }

    @Test func joinGroupResponse() throws {
        let v5 = try JoinGroupRequest.decodeWholeResponse(
            hexBuffer("00000000 0000 00000003 0005 72616e6765 0001 6d 0001 6d 00000001 0001 6d ffff 00000002 6162"), version: 5)
        #expect(v5 == .init(errorCode: .none, generationID: 3, protocolName: "range", leader: "m", memberID: "m",
                            members: [.init(memberID: "m", groupInstanceID: nil, metadata: metadata)]))
        let v1 = try JoinGroupRequest.decodeWholeResponse(hexBuffer("004f ffffffff ffff 0000 0004 6d2d3132 00000000"), version: 1)
        #expect(v1.errorCode == .memberIdRequired && v1.memberID == "m-12" && v1.protocolName == "" && v1.members.isEmpty)
        #expect(throws: KafkaError.self) { try JoinGroupRequest.decodeWholeResponse(hexBuffer("00000000 0000 0000"), version: 5) }
    }

    @Test func syncGroup() throws {
        let request = SyncGroupRequest(groupID: "g", generationID: 3, memberID: "m", assignments: [.init(memberID: "m", assignment: ByteBuffer(bytes: [0xff]))])
        expectBody(request, version: 0, "0001 67 00000003 0001 6d 00000001 0001 6d 00000001 ff")
        expectBody(request, version: 3, "0001 67 00000003 0001 6d ffff 00000001 0001 6d 00000001 ff")
        let response = try SyncGroupRequest.decodeWholeResponse(hexBuffer("00000000 0000 00000002 abcd"), version: 3)
        #expect(response == .init(errorCode: .none, assignment: ByteBuffer(bytes: [0xab, 0xcd])))
        let refused = try SyncGroupRequest.decodeWholeResponse(hexBuffer("001b 00000000"), version: 0)
        #expect(refused.errorCode == .rebalanceInProgress && refused.assignment.readableBytes == 0)
    }

    @Test func heartbeat() throws {
        let request = HeartbeatRequest(groupID: "g", generationID: 3, memberID: "m")
        expectBody(request, version: 0, "0001 67 00000003 0001 6d")
        expectBody(request, version: 3, "0001 67 00000003 0001 6d ffff")
        #expect(try HeartbeatRequest.decodeWholeResponse(hexBuffer("00000000 001b"), version: 3).errorCode == .rebalanceInProgress)
        #expect(try HeartbeatRequest.decodeWholeResponse(hexBuffer("0016"), version: 0).errorCode == .illegalGeneration)
    }

    @Test func leaveGroup() throws {
        let request = LeaveGroupRequest(groupID: "g", memberID: "m")
        expectBody(request, version: 0, "0001 67 0001 6d")
        expectBody(request, version: 3, "0001 67 00000001 0001 6d ffff")
        #expect(try LeaveGroupRequest.decodeWholeResponse(hexBuffer("0000"), version: 0).errorCode == .none)
        #expect(try LeaveGroupRequest.decodeWholeResponse(hexBuffer("00000000 0000 00000001 0001 6d ffff 0019"), version: 3).errorCode == .unknownMemberId)
    }

    @Test func offsetCommitCarriesTheGeneration() {
        let request = OffsetCommitRequest(groupID: "g", generationID: 5, memberID: "m",
                                          topics: [.init(topic: "t", partitions: [.init(partition: 1, offset: 42, metadata: "")])])
        expectBody(request, version: 7, "0001 67 00000005 0001 6d ffff 00000001 0001 74 00000001 00000001 000000000000002a ffffffff 0000")
    }

    @Test func newErrorCodesHaveTheirNames() {
        #expect(KafkaErrorCode(code: 79) == .memberIdRequired && KafkaErrorCode.memberIdRequired.name == "MEMBER_ID_REQUIRED")
        #expect(KafkaErrorCode(code: 23).name == "INCONSISTENT_GROUP_PROTOCOL")
        #expect(KafkaErrorCode(code: 82) == .fencedInstanceId && KafkaErrorCode(code: 26) == .invalidSessionTimeout)
    }
}
