import Foundation
import SwellModel

/// Where a trigger stands, as `GET …/triggers` and `swell triggers get` show it.
public struct TriggerStatus: Sendable, Encodable {
    /// `running`: delivering events; `paused`: stopped by the user (or created disabled);
    /// `failing`: cannot deliver right now (the error says why) and retrying with backoff.
    public enum State: String, Sendable, Encodable {
        case running, paused, failing
    }

    public var namespace: String
    /// The function the trigger belongs to (nil for a workflow's trigger).
    public var function: String?
    /// The workflow the trigger belongs to (nil for a function's trigger).
    public var workflow: String?
    public var name: String
    public var type: String
    public var qualifier: String
    public var state: State
    /// The last problem, kept until the trigger delivers again.
    public var error: String?
    public var errorAt: Date?
    public var config: TriggerConfig
    public var counters: TriggerCounters
    public var kafka: KafkaTriggerStatus?
    public var timer: TimerTriggerStatus?

    enum CodingKeys: String, CodingKey {
        case namespace, function, workflow, name, type, qualifier, state, error, errorAt, config, counters, kafka, timer
    }

    /// Writes every field; absent ones as null, as the API documents them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(namespace, forKey: .namespace)
        try c.encode(function, forKey: .function)
        if let workflow { try c.encode(workflow, forKey: .workflow) }
        try c.encode(name, forKey: .name)
        try c.encode(type, forKey: .type)
        try c.encode(qualifier, forKey: .qualifier)
        try c.encode(state, forKey: .state)
        try c.encode(error, forKey: .error)
        try c.encode(errorAt, forKey: .errorAt)
        try c.encode(config, forKey: .config)
        try c.encode(counters, forKey: .counters)
        try c.encode(kafka, forKey: .kafka)
        try c.encode(timer, forKey: .timer)
    }

    public init(id: TriggerID, config: TriggerConfig, state: State, counters: TriggerCounters = TriggerCounters()) {
        namespace = id.namespace
        switch id.kind {
        case .function: function = id.function
        case .workflow: workflow = id.function
        }
        name = id.name
        type = config.type
        qualifier = config.qualifier
        self.state = state
        self.config = config
        self.counters = counters
    }
}

/// What a trigger has done since the server started.
public struct TriggerCounters: Sendable, Encodable, Hashable {
    /// Events received (Kafka records fetched, timer fires, matching notification records).
    public var events = 0
    /// Invocations started (Kafka) or tasks enqueued (timer, object store).
    public var invocations = 0
    /// Kafka batches that succeeded.
    public var succeeded = 0
    /// Kafka attempts that failed (each retry counts).
    public var failedAttempts = 0
    /// Kafka records produced to the dead-letter topic.
    public var deadLettered = 0
    /// Kafka results produced to the result topic.
    public var results = 0

    public init() {}
}

/// A Kafka trigger's partitions, offsets and lag.
public struct KafkaTriggerStatus: Sendable, Encodable {
    public struct Partition: Sendable, Encodable {
        public var topic: String
        public var partition: Int32
        /// The next offset to fetch.
        public var position: Int64
        /// The offset committed to the consumer group (every record before it is done).
        public var committed: Int64?
        /// The partition's high watermark at the last fetch (-1: not known yet).
        public var highWatermark: Int64
        /// Records not yet committed: high watermark - committed offset.
        public var lag: Int64?
        /// Fetched records not done yet.
        public var outstanding: Int

        enum CodingKeys: String, CodingKey { case topic, partition, position, committed, highWatermark, lag, outstanding }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(topic, forKey: .topic)
            try c.encode(partition, forKey: .partition)
            try c.encode(position, forKey: .position)
            try c.encode(committed, forKey: .committed)
            try c.encode(highWatermark, forKey: .highWatermark)
            try c.encode(lag, forKey: .lag)
            try c.encode(outstanding, forKey: .outstanding)
        }
    }

    public var groupId: String
    public var partitions: [Partition]
    public var lag: Int64
    public var inFlight: Int
    /// Records completed per second over the last 10 seconds.
    public var recordsPerSecond: Double
}

/// A timer's last and next fire.
public struct TimerTriggerStatus: Sendable, Encodable {
    public var lastFire: Date?
    public var nextFire: Date?

    enum CodingKeys: String, CodingKey { case lastFire, nextFire }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(lastFire, forKey: .lastFire)
        try c.encode(nextFire, forKey: .nextFire)
    }
}
