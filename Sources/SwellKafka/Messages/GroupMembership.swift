import NIOCore

// The classic group membership APIs (non-flexible versions): JoinGroup, SyncGroup,
// Heartbeat and LeaveGroup. The member metadata and assignments they carry are opaque
// bytes here; ``KafkaConsumerProtocol`` reads and writes the consumer protocol's.

/// JoinGroup (key 11) v1...v5: become (or stay) a member of a group and learn the new
/// generation; the leader also receives every member's metadata.
struct JoinGroupRequest: KafkaRequest {
    static let apiKey = KafkaAPIKey.joinGroup
    static let supportedVersions: ClosedRange<Int16> = 1...5

    struct Offer: Sendable, Equatable {
        var name: String
        var metadata: ByteBuffer
    }

    var groupID: String
    var sessionTimeoutMs: Int32
    var rebalanceTimeoutMs: Int32
    /// Empty on the first join; the id the coordinator gave otherwise.
    var memberID: String
    var protocolType: String = "consumer"
    var protocols: [Offer]

    struct Member: Sendable, Equatable {
        var memberID: String
        var groupInstanceID: String?
        var metadata: ByteBuffer
    }

    struct Response: Sendable, Equatable {
        var errorCode: KafkaErrorCode
        var generationID: Int32
        var protocolName: String
        var leader: String
        var memberID: String
        /// Every member with its metadata: filled for the leader only.
        var members: [Member]
    }

    func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(groupID)
        buffer.writeKafkaInt32(sessionTimeoutMs)
        buffer.writeKafkaInt32(rebalanceTimeoutMs)
        buffer.writeKafkaString(memberID)
        if version >= 5 { buffer.writeKafkaNullableString(nil) } // group_instance_id: dynamic membership
        buffer.writeKafkaString(protocolType)
        buffer.writeKafkaArray(protocols) { buffer, p in
            buffer.writeKafkaString(p.name)
            buffer.writeKafkaNullableBytes(p.metadata)
        }
    }

    static func decodeResponse(from buffer: inout ByteBuffer, version: Int16) throws -> Response {
        if version >= 2 { _ = try buffer.readKafkaInt32() } // throttle_time_ms
        let errorCode = KafkaErrorCode(code: try buffer.readKafkaInt16())
        let generation = try buffer.readKafkaInt32()
        // The protocol name is null in some error answers.
        let protocolName = try buffer.readKafkaNullableString() ?? ""
        let leader = try buffer.readKafkaString()
        let memberID = try buffer.readKafkaString()
        let members = try buffer.readKafkaArray { buffer in
            let id = try buffer.readKafkaString()
            let instance = version >= 5 ? try buffer.readKafkaNullableString() : nil
            let metadata = try buffer.readKafkaNullableBytes() ?? ByteBuffer()
            return Member(memberID: id, groupInstanceID: instance, metadata: metadata)
        }
        return Response(errorCode: errorCode, generationID: generation, protocolName: protocolName,
                        leader: leader, memberID: memberID, members: members)
    }
}

/// SyncGroup (key 14) v0...v3: the leader hands in every member's assignment; every
/// member gets its own back.
struct SyncGroupRequest: KafkaRequest {
    static let apiKey = KafkaAPIKey.syncGroup
    static let supportedVersions: ClosedRange<Int16> = 0...3

    struct Assignment: Sendable, Equatable {
        var memberID: String
        var assignment: ByteBuffer
    }

    var groupID: String
    var generationID: Int32
    var memberID: String
    /// Filled by the leader only.
    var assignments: [Assignment]

    struct Response: Sendable, Equatable {
        var errorCode: KafkaErrorCode
        var assignment: ByteBuffer
    }

    func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(groupID)
        buffer.writeKafkaInt32(generationID)
        buffer.writeKafkaString(memberID)
        if version >= 3 { buffer.writeKafkaNullableString(nil) } // group_instance_id
        buffer.writeKafkaArray(assignments) { buffer, a in
            buffer.writeKafkaString(a.memberID)
            buffer.writeKafkaNullableBytes(a.assignment)
        }
    }

    static func decodeResponse(from buffer: inout ByteBuffer, version: Int16) throws -> Response {
        if version >= 1 { _ = try buffer.readKafkaInt32() } // throttle_time_ms
        let errorCode = KafkaErrorCode(code: try buffer.readKafkaInt16())
        let assignment = try buffer.readKafkaNullableBytes() ?? ByteBuffer()
        return Response(errorCode: errorCode, assignment: assignment)
    }
}

/// Heartbeat (key 12) v0...v3: a member is alive; the answer says when a rebalance began.
struct HeartbeatRequest: KafkaRequest {
    static let apiKey = KafkaAPIKey.heartbeat
    static let supportedVersions: ClosedRange<Int16> = 0...3

    var groupID: String
    var generationID: Int32
    var memberID: String

    struct Response: Sendable, Equatable {
        var errorCode: KafkaErrorCode
    }

    func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(groupID)
        buffer.writeKafkaInt32(generationID)
        buffer.writeKafkaString(memberID)
        if version >= 3 { buffer.writeKafkaNullableString(nil) } // group_instance_id
    }

    static func decodeResponse(from buffer: inout ByteBuffer, version: Int16) throws -> Response {
        if version >= 1 { _ = try buffer.readKafkaInt32() } // throttle_time_ms
        return Response(errorCode: KafkaErrorCode(code: try buffer.readKafkaInt16()))
    }
}

/// LeaveGroup (key 13) v0...v3: a member leaves at once (no session timeout to wait for).
struct LeaveGroupRequest: KafkaRequest {
    static let apiKey = KafkaAPIKey.leaveGroup
    static let supportedVersions: ClosedRange<Int16> = 0...3

    var groupID: String
    var memberID: String

    struct Response: Sendable, Equatable {
        /// The group-level error, or (v3) the first member's.
        var errorCode: KafkaErrorCode
    }

    func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeKafkaString(groupID)
        if version >= 3 {
            buffer.writeKafkaArray([memberID]) { buffer, id in
                buffer.writeKafkaString(id)
                buffer.writeKafkaNullableString(nil) // group_instance_id
            }
        } else {
            buffer.writeKafkaString(memberID)
        }
    }

    static func decodeResponse(from buffer: inout ByteBuffer, version: Int16) throws -> Response {
        if version >= 1 { _ = try buffer.readKafkaInt32() } // throttle_time_ms
        var errorCode = KafkaErrorCode(code: try buffer.readKafkaInt16())
        if version >= 3 {
            let members = try buffer.readKafkaArray { buffer in
                _ = try buffer.readKafkaString()
                _ = try buffer.readKafkaNullableString()
                return KafkaErrorCode(code: try buffer.readKafkaInt16())
            }
            if errorCode == .none, let first = members.first(where: { $0 != .none }) { errorCode = first }
        }
        return Response(errorCode: errorCode)
    }
}
