/// An error code a Kafka broker returns, as listed in the Kafka protocol guide.
///
/// Codes this client has no name for are kept as ``unknown(_:)``. ``isRetriable``
/// follows the broker's own classification, with one deliberate choice:
/// `UNKNOWN_TOPIC_OR_PARTITION` is retriable, because it is what a broker answers while
/// a topic that was just created propagates.
public enum KafkaErrorCode: Sendable, Hashable, CustomStringConvertible {
    case unknownServerError
    case none
    case offsetOutOfRange
    case corruptMessage
    case unknownTopicOrPartition
    case invalidFetchSize
    case leaderNotAvailable
    case notLeaderOrFollower
    case requestTimedOut
    case brokerNotAvailable
    case replicaNotAvailable
    case messageTooLarge
    case offsetMetadataTooLarge
    case networkException
    case coordinatorLoadInProgress
    case coordinatorNotAvailable
    case notCoordinator
    case invalidTopic
    case recordListTooLarge
    case notEnoughReplicas
    case notEnoughReplicasAfterAppend
    case invalidRequiredAcks
    case illegalGeneration
    case inconsistentGroupProtocol
    case invalidGroupId
    case unknownMemberId
    case invalidSessionTimeout
    case rebalanceInProgress
    case invalidCommitOffsetSize
    case topicAuthorizationFailed
    case groupAuthorizationFailed
    case clusterAuthorizationFailed
    case invalidTimestamp
    case unsupportedVersion
    case topicAlreadyExists
    case invalidPartitions
    case notController
    case invalidRequest
    case unsupportedForMessageFormat
    case policyViolation
    case kafkaStorageError
    case fencedLeaderEpoch
    case unknownLeaderEpoch
    case unsupportedCompressionType
    case memberIdRequired
    case groupMaxSizeReached
    case fencedInstanceId
    case invalidRecord
    case throttlingQuotaExceeded
    case unknownTopicId
    /// A code this client has no name for.
    case unknown(Int16)

    private static let table: [(KafkaErrorCode, Int16, String, Bool)] = [
        (.unknownServerError, -1, "UNKNOWN_SERVER_ERROR", false),
        (.none, 0, "NONE", false),
        (.offsetOutOfRange, 1, "OFFSET_OUT_OF_RANGE", false),
        (.corruptMessage, 2, "CORRUPT_MESSAGE", true),
        (.unknownTopicOrPartition, 3, "UNKNOWN_TOPIC_OR_PARTITION", true),
        (.invalidFetchSize, 4, "INVALID_FETCH_SIZE", false),
        (.leaderNotAvailable, 5, "LEADER_NOT_AVAILABLE", true),
        (.notLeaderOrFollower, 6, "NOT_LEADER_OR_FOLLOWER", true),
        (.requestTimedOut, 7, "REQUEST_TIMED_OUT", true),
        (.brokerNotAvailable, 8, "BROKER_NOT_AVAILABLE", false),
        (.replicaNotAvailable, 9, "REPLICA_NOT_AVAILABLE", true),
        (.messageTooLarge, 10, "MESSAGE_TOO_LARGE", false),
        (.offsetMetadataTooLarge, 12, "OFFSET_METADATA_TOO_LARGE", false),
        (.networkException, 13, "NETWORK_EXCEPTION", true),
        (.coordinatorLoadInProgress, 14, "COORDINATOR_LOAD_IN_PROGRESS", true),
        (.coordinatorNotAvailable, 15, "COORDINATOR_NOT_AVAILABLE", true),
        (.notCoordinator, 16, "NOT_COORDINATOR", true),
        (.invalidTopic, 17, "INVALID_TOPIC_EXCEPTION", false),
        (.recordListTooLarge, 18, "RECORD_LIST_TOO_LARGE", false),
        (.notEnoughReplicas, 19, "NOT_ENOUGH_REPLICAS", true),
        (.notEnoughReplicasAfterAppend, 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true),
        (.invalidRequiredAcks, 21, "INVALID_REQUIRED_ACKS", false),
        (.illegalGeneration, 22, "ILLEGAL_GENERATION", false),
        (.inconsistentGroupProtocol, 23, "INCONSISTENT_GROUP_PROTOCOL", false),
        (.invalidGroupId, 24, "INVALID_GROUP_ID", false),
        (.unknownMemberId, 25, "UNKNOWN_MEMBER_ID", false),
        (.invalidSessionTimeout, 26, "INVALID_SESSION_TIMEOUT", false),
        (.rebalanceInProgress, 27, "REBALANCE_IN_PROGRESS", false),
        (.invalidCommitOffsetSize, 28, "INVALID_COMMIT_OFFSET_SIZE", false),
        (.topicAuthorizationFailed, 29, "TOPIC_AUTHORIZATION_FAILED", false),
        (.groupAuthorizationFailed, 30, "GROUP_AUTHORIZATION_FAILED", false),
        (.clusterAuthorizationFailed, 31, "CLUSTER_AUTHORIZATION_FAILED", false),
        (.invalidTimestamp, 32, "INVALID_TIMESTAMP", false),
        (.unsupportedVersion, 35, "UNSUPPORTED_VERSION", false),
        (.topicAlreadyExists, 36, "TOPIC_ALREADY_EXISTS", false),
        (.invalidPartitions, 37, "INVALID_PARTITIONS", false),
        (.notController, 41, "NOT_CONTROLLER", true),
        (.invalidRequest, 42, "INVALID_REQUEST", false),
        (.unsupportedForMessageFormat, 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false),
        (.policyViolation, 44, "POLICY_VIOLATION", false),
        (.kafkaStorageError, 56, "KAFKA_STORAGE_ERROR", true),
        (.fencedLeaderEpoch, 74, "FENCED_LEADER_EPOCH", true),
        (.unknownLeaderEpoch, 75, "UNKNOWN_LEADER_EPOCH", true),
        (.unsupportedCompressionType, 76, "UNSUPPORTED_COMPRESSION_TYPE", false),
        (.memberIdRequired, 79, "MEMBER_ID_REQUIRED", false),
        (.groupMaxSizeReached, 81, "GROUP_MAX_SIZE_REACHED", false),
        (.fencedInstanceId, 82, "FENCED_INSTANCE_ID", false),
        (.invalidRecord, 87, "INVALID_RECORD", false),
        (.throttlingQuotaExceeded, 89, "THROTTLING_QUOTA_EXCEEDED", true),
        (.unknownTopicId, 100, "UNKNOWN_TOPIC_ID", true),
    ]

    private static let byCode: [Int16: Int] = {
        var map: [Int16: Int] = [:]
        for (index, entry) in table.enumerated() { map[entry.1] = index }
        return map
    }()

    /// The code as the broker sent it.
    public init(code: Int16) {
        if let index = Self.byCode[code] {
            self = Self.table[index].0
        } else {
            self = .unknown(code)
        }
    }

    private var entry: (KafkaErrorCode, Int16, String, Bool)? {
        if case .unknown = self { return nil }
        return Self.table.first { $0.0 == self }
    }

    /// The numeric code on the wire.
    public var code: Int16 {
        if case let .unknown(code) = self { return code }
        return entry?.1 ?? -1
    }

    /// The protocol guide's name, e.g. `NOT_LEADER_OR_FOLLOWER`.
    public var name: String {
        if case let .unknown(code) = self { return "UNKNOWN_CODE_\(code)" }
        return entry?.2 ?? "UNKNOWN"
    }

    /// Whether the same request may succeed later (usually after a metadata refresh).
    public var isRetriable: Bool { entry?.3 ?? false }

    /// Whether the error means the client's view of partition leaders is stale.
    var invalidatesMetadata: Bool {
        switch self {
        case .notLeaderOrFollower, .leaderNotAvailable, .unknownTopicOrPartition, .fencedLeaderEpoch,
             .unknownLeaderEpoch, .replicaNotAvailable, .kafkaStorageError, .notController, .unknownTopicId:
            true
        default:
            false
        }
    }

    /// Whether the error means the group coordinator moved or is not ready.
    var invalidatesCoordinator: Bool {
        self == .notCoordinator || self == .coordinatorNotAvailable
    }

    public var description: String { name }
}
