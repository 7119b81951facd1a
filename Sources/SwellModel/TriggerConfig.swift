import Foundation

/// An event source bound to a function: the entries of its `triggers` list.
///
/// ```yaml
/// triggers:
///   - type: kafka
///     brokers: [127.0.0.1:19092]
///     topics: [homework]
///     concurrency: 64
///     ordering: key
///   - type: timer
///     cron: "*/10 * * * * *"
///     payload: { job: sweep }
///   - type: object-store
///     bucket: photos
///     events: ["s3:ObjectCreated:*"]
/// ```
///
/// Triggers belong to the function, not to a version (like its URL): each one invokes
/// `qualifier` (default `$LATEST`). Its `name` is unique within the function; without one
/// it is named after its type (`kafka`, then `kafka-2`, … for further triggers of a type).
public struct TriggerConfig: Sendable, Hashable {
    public static let maxTriggers = 20

    public var name: String
    public var qualifier: String
    /// Created paused (`enabled: false`); `swell triggers resume` starts it.
    public var enabled: Bool
    public var source: Source

    public enum Source: Sendable, Hashable {
        case kafka(KafkaTriggerConfig)
        case timer(TimerTriggerConfig)
        case objectStore(ObjectStoreTriggerConfig)

        /// The `type` as the manifest writes it.
        public var type: String {
            switch self {
            case .kafka: "kafka"
            case .timer: "timer"
            case .objectStore: "object-store"
            }
        }
    }

    public init(name: String, qualifier: String = "$LATEST", enabled: Bool = true, source: Source) {
        self.name = name
        self.qualifier = qualifier
        self.enabled = enabled
        self.source = source
    }

    public var type: String { source.type }

    /// Reads the `triggers` list of a function entry; `r` is the entry.
    static func parseList(_ r: FieldReader) throws(SwellError) -> [TriggerConfig] {
        guard let list = r.value("triggers") else { return [] }
        let path = r.field("triggers")
        guard case .array(let items) = list else { throw SwellError.invalid(path, "must be a list (got \(list.kindName))") }
        guard items.count <= maxTriggers else { throw SwellError.invalid(path, "may hold at most \(maxTriggers) triggers (got \(items.count))") }
        var result: [TriggerConfig] = []
        var perType: [String: Int] = [:]
        var names: Set<String> = []
        for (i, item) in items.enumerated() {
            let itemPath = "\(path)[\(i)]"
            var trigger = try parse(item, path: itemPath, defaultName: "")
            if trigger.name.isEmpty {
                let n = perType[trigger.type, default: 0] + 1
                perType[trigger.type] = n
                trigger.name = n == 1 ? trigger.type : "\(trigger.type)-\(n)"
            }
            guard names.insert(trigger.name).inserted else {
                throw SwellError.invalid("\(itemPath).name", "another trigger of this function is already named \"\(trigger.name)\"")
            }
            result.append(trigger)
        }
        return result
    }

    /// Reads the `triggers` list of a workflow entry (`r` is the entry): the fields of a
    /// function's triggers, each one starting an execution per event. A Kafka trigger's
    /// `resultTopic` and `deadLetterTopic` are refused: an execution's start has no result to
    /// produce, and a failed start is the platform's fault, retried, never the records'.
    public static func parseWorkflowList(_ r: FieldReader) throws(SwellError) -> [TriggerConfig] {
        let list = try parseList(r)
        for (i, trigger) in list.enumerated() {
            guard case .kafka(let k) = trigger.source else { continue }
            for (field, value) in [("resultTopic", k.resultTopic), ("deadLetterTopic", k.deadLetterTopic)] where value != nil {
                throw SwellError.invalid("\(r.field("triggers"))[\(i)].\(field)", "is not allowed on a workflow's trigger (its executions have no result; a start that fails is retried)")
            }
        }
        return list
    }

    /// Parses one trigger entry.
    public static func parse(_ value: ConfigValue, path: String, defaultName: String) throws(SwellError) -> TriggerConfig {
        let r = try FieldReader(value, path: path)
        guard let type = try r.string("type") else {
            throw SwellError.invalid(r.field("type"), "is required (one of: kafka, timer, object-store)")
        }
        let common: Set<String> = ["type", "name", "qualifier", "enabled"]
        let source: Source
        switch type {
        case "kafka":
            try r.rejectUnknown(common.union(KafkaTriggerConfig.fields))
            source = .kafka(try KafkaTriggerConfig.parse(r))
        case "timer":
            try r.rejectUnknown(common.union(TimerTriggerConfig.fields))
            source = .timer(try TimerTriggerConfig.parse(r))
        case "object-store":
            try r.rejectUnknown(common.union(ObjectStoreTriggerConfig.fields))
            source = .objectStore(try ObjectStoreTriggerConfig.parse(r))
        default:
            throw SwellError.invalid(r.field("type"), "must be one of kafka, timer, object-store (got \"\(type)\")")
        }
        let name = try r.string("name") ?? defaultName
        if !name.isEmpty, !Names.isAliasName(name) {
            throw SwellError.invalid(r.field("name"), "trigger names are 1-64 characters of a-z A-Z 0-9 - _ starting with a letter (got \"\(name)\")")
        }
        let qualifier = try r.string("qualifier") ?? "$LATEST"
        if qualifier != "$LATEST", !Names.isAliasName(qualifier), Int(qualifier) == nil {
            throw SwellError.invalid(r.field("qualifier"), "must be $LATEST, a version number or an alias (got \"\(qualifier)\")")
        }
        return TriggerConfig(name: name, qualifier: qualifier, enabled: try r.bool("enabled") ?? true, source: source)
    }

    /// The trigger in the manifest's shape, every setting spelled out.
    public var configValue: ConfigValue {
        var o: [String: ConfigValue] = ["type": .string(type), "name": .string(name), "qualifier": .string(qualifier), "enabled": .bool(enabled)]
        switch source {
        case .kafka(let k): k.write(into: &o)
        case .timer(let t): t.write(into: &o)
        case .objectStore(let s): s.write(into: &o)
        }
        return .object(o)
    }
}

extension TriggerConfig: Codable {
    public init(from decoder: any Decoder) throws {
        let value = try ConfigValue(from: decoder)
        do {
            self = try TriggerConfig.parse(value, path: "trigger", defaultName: "")
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        try configValue.encode(to: encoder)
    }
}

/// Which records of a Kafka trigger may run at the same time.
public enum KafkaOrdering: String, Sendable, Hashable, CaseIterable {
    /// Any records, as concurrency allows.
    case none
    /// Records with the same key run one batch at a time, in offset order; keyless records are unordered.
    case key
    /// Records of one partition run one batch at a time, in offset order (a classic consumer).
    case partition
}

/// A Kafka topic source: batches of records pushed to the function, offsets committed only
/// up to the lowest record not yet done.
public struct KafkaTriggerConfig: Sendable, Hashable {
    public static let concurrencyRange = 1...1000
    public static let batchSizeRange = 1...10_000
    public static let maxWaitRange = 0.0...300.0
    public static let attemptsRange = 1...100
    static let fields: Set<String> = [
        "brokers", "topics", "startPosition", "concurrency", "ordering", "batchSize", "maxWait", "resultTopic",
        "deadLetterTopic", "maxAttempts", "retryDelay", "maxRetryDelay", "groupId",
    ]

    public var brokers: [String]
    public var topics: [String]
    /// Where a partition without a committed offset starts: `earliest` or `latest`.
    public var startFromEarliest: Bool
    /// Invocations in flight at once, independent of the partition count.
    public var concurrency: Int
    public var ordering: KafkaOrdering
    /// Most records per invocation.
    public var batchSize: Int
    /// Seconds to wait for a batch to fill before sending it as it is.
    public var maxWait: Double
    /// Where the function's return value is produced (keyed with the source record's key).
    public var resultTopic: String?
    /// Where records go after `maxAttempts` failed attempts. Without one, a failing batch is retried until it succeeds.
    public var deadLetterTopic: String?
    public var maxAttempts: Int
    /// First retry delay in seconds, doubling (with jitter) up to `maxRetryDelay`.
    public var retryDelay: Double
    public var maxRetryDelay: Double
    /// The consumer group whose committed offsets the trigger keeps (default `swell-NAMESPACE-FUNCTION-TRIGGER`).
    public var groupID: String?

    public init(
        brokers: [String], topics: [String], startFromEarliest: Bool = false, concurrency: Int = 16, ordering: KafkaOrdering = .partition,
        batchSize: Int = 1, maxWait: Double = 0.05, resultTopic: String? = nil, deadLetterTopic: String? = nil, maxAttempts: Int = 3,
        retryDelay: Double = 1, maxRetryDelay: Double = 60, groupID: String? = nil
    ) {
        self.brokers = brokers
        self.topics = topics
        self.startFromEarliest = startFromEarliest
        self.concurrency = concurrency
        self.ordering = ordering
        self.batchSize = batchSize
        self.maxWait = maxWait
        self.resultTopic = resultTopic
        self.deadLetterTopic = deadLetterTopic
        self.maxAttempts = maxAttempts
        self.retryDelay = retryDelay
        self.maxRetryDelay = maxRetryDelay
        self.groupID = groupID
    }

    /// Kafka's legal topic names: 1-249 characters of a-z A-Z 0-9 . _ -, not `.` or `..`.
    public static func isTopicName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 249 && s != "." && s != ".."
            && s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }

    static func parse(_ r: FieldReader) throws(SwellError) -> KafkaTriggerConfig {
        let brokers = try hostPorts(r, "brokers")
        let topics = try stringList(r, "topics", check: isTopicName, what: "a Kafka topic name (a-z A-Z 0-9 . _ -)")
        let start = try r.string("startPosition") ?? "latest"
        guard start == "earliest" || start == "latest" else {
            throw SwellError.invalid(r.field("startPosition"), "must be earliest or latest (got \"\(start)\")")
        }
        let orderingName = try r.string("ordering") ?? "partition"
        guard let ordering = KafkaOrdering(rawValue: orderingName) else {
            throw SwellError.invalid(r.field("ordering"), "must be none, key or partition (got \"\(orderingName)\")")
        }
        let maxWait = try r.number("maxWait") ?? 0.05
        guard maxWaitRange.contains(maxWait) else {
            throw SwellError.invalid(r.field("maxWait"), "must be between 0 and 300 seconds (got \(maxWait))")
        }
        func topic(_ key: String) throws(SwellError) -> String? {
            guard let t = try r.string(key) else { return nil }
            guard isTopicName(t) else { throw SwellError.invalid(r.field(key), "must be a Kafka topic name (a-z A-Z 0-9 . _ -) (got \"\(t)\")") }
            guard !topics.contains(t) else { throw SwellError.invalid(r.field(key), "must not be one of the source topics (\(t) would feed itself)") }
            return t
        }
        let retryDelay = try r.number("retryDelay") ?? 1
        let maxRetryDelay = try r.number("maxRetryDelay") ?? 60
        guard maxRetryDelay >= 0, maxRetryDelay <= 3600 else {
            throw SwellError.invalid(r.field("maxRetryDelay"), "must be between 0 and 3600 seconds (got \(maxRetryDelay))")
        }
        guard retryDelay >= 0, retryDelay <= maxRetryDelay else {
            throw SwellError.invalid(r.field("retryDelay"), "must be between 0 and maxRetryDelay (\(maxRetryDelay)) seconds (got \(retryDelay))")
        }
        var groupID: String?
        if let g = try r.string("groupId") {
            guard !g.isEmpty, g.utf8.count <= 255 else { throw SwellError.invalid(r.field("groupId"), "must be 1-255 characters") }
            groupID = g
        }
        return KafkaTriggerConfig(
            brokers: brokers, topics: topics, startFromEarliest: start == "earliest",
            concurrency: try r.int("concurrency", range: concurrencyRange) ?? 16, ordering: ordering,
            batchSize: try r.int("batchSize", range: batchSizeRange) ?? 1, maxWait: maxWait,
            resultTopic: try topic("resultTopic"), deadLetterTopic: try topic("deadLetterTopic"),
            maxAttempts: try r.int("maxAttempts", range: attemptsRange) ?? 3,
            retryDelay: retryDelay, maxRetryDelay: maxRetryDelay, groupID: groupID)
    }

    func write(into o: inout [String: ConfigValue]) {
        o["brokers"] = .array(brokers.map { .string($0) })
        o["topics"] = .array(topics.map { .string($0) })
        o["startPosition"] = startFromEarliest ? "earliest" : "latest"
        o["concurrency"] = .int(concurrency)
        o["ordering"] = .string(ordering.rawValue)
        o["batchSize"] = .int(batchSize)
        o["maxWait"] = .double(maxWait)
        o["resultTopic"] = resultTopic.map { .string($0) } ?? .null
        o["deadLetterTopic"] = deadLetterTopic.map { .string($0) } ?? .null
        o["maxAttempts"] = .int(maxAttempts)
        o["retryDelay"] = .double(retryDelay)
        o["maxRetryDelay"] = .double(maxRetryDelay)
        o["groupId"] = groupID.map { .string($0) } ?? .null
    }
}

/// What a missed timer fire (while the server was down) turns into.
public enum MissedFirePolicy: String, Sendable, Hashable {
    /// Forget fires that were due while down.
    case skip
    /// Fire once for all of them (with the latest missed time).
    case once
}

/// A cron schedule: every fire is an async task with the idempotency key trigger + scheduled time.
public struct TimerTriggerConfig: Sendable, Hashable {
    static let fields: Set<String> = ["cron", "timezone", "payload", "missedFires"]

    public var cron: String
    public var timezone: String
    /// The event each fire sends (`{}` when absent).
    public var payload: ConfigValue
    public var missedFires: MissedFirePolicy

    public init(cron: String, timezone: String = "UTC", payload: ConfigValue = .object([:]), missedFires: MissedFirePolicy = .skip) {
        self.cron = cron
        self.timezone = timezone
        self.payload = payload
        self.missedFires = missedFires
    }

    /// The compiled schedule and zone.
    public func compiled(path: String) throws(SwellError) -> (CronExpression, TimeZone) {
        (try CronExpression(parsing: cron, field: "\(path).cron"), try CronExpression.timeZone(named: timezone, field: "\(path).timezone"))
    }

    static func parse(_ r: FieldReader) throws(SwellError) -> TimerTriggerConfig {
        guard let cron = try r.string("cron") else { throw SwellError.invalid(r.field("cron"), "is required (e.g. \"*/10 * * * * *\")") }
        let missedName = try r.string("missedFires") ?? "skip"
        guard let missed = MissedFirePolicy(rawValue: missedName) else {
            throw SwellError.invalid(r.field("missedFires"), "must be skip or once (got \"\(missedName)\")")
        }
        let config = TimerTriggerConfig(cron: cron, timezone: try r.string("timezone") ?? "UTC", payload: r.value("payload") ?? .object([:]), missedFires: missed)
        _ = try config.compiled(path: r.path)
        return config
    }

    func write(into o: inout [String: ConfigValue]) {
        o["cron"] = .string(cron)
        o["timezone"] = .string(timezone)
        o["payload"] = payload
        o["missedFires"] = .string(missedFires.rawValue)
    }
}

/// S3-style event notifications (`POST /v1/namespaces/NS/object-events`) that match a bucket,
/// a key prefix and suffix and an event type pattern; each matching record becomes an async task.
public struct ObjectStoreTriggerConfig: Sendable, Hashable {
    static let fields: Set<String> = ["bucket", "events", "prefix", "suffix"]

    public var bucket: String
    /// Event name patterns such as `s3:ObjectCreated:*` (a trailing `*` matches any rest).
    public var events: [String]
    public var prefix: String
    public var suffix: String

    public init(bucket: String, events: [String] = ["s3:ObjectCreated:*"], prefix: String = "", suffix: String = "") {
        self.bucket = bucket
        self.events = events
        self.prefix = prefix
        self.suffix = suffix
    }

    /// Whether a notification record for `bucket`, object `key` and event `eventName` matches.
    /// Event names are compared with or without the `s3:` prefix (AWS sends `ObjectCreated:Put`).
    public func matches(bucket: String, key: String, eventName: String) -> Bool {
        guard bucket == self.bucket, key.hasPrefix(prefix), key.hasSuffix(suffix) else { return false }
        let name = eventName.hasPrefix("s3:") ? eventName : "s3:" + eventName
        return events.contains { pattern in
            pattern.hasSuffix("*") ? name.hasPrefix(String(pattern.dropLast())) : name == pattern
        }
    }

    static func parse(_ r: FieldReader) throws(SwellError) -> ObjectStoreTriggerConfig {
        guard let bucket = try r.string("bucket"), !bucket.isEmpty, bucket.utf8.count <= 255 else {
            throw SwellError.invalid(r.field("bucket"), "is required (the bucket whose events start the function)")
        }
        var events = ["s3:ObjectCreated:*"]
        if r.has("events") {
            events = try stringList(r, "events", check: { $0.hasPrefix("s3:") && $0.count > 3 }, what: "an S3 event name such as s3:ObjectCreated:* or s3:ObjectRemoved:Delete")
        }
        return ObjectStoreTriggerConfig(bucket: bucket, events: events, prefix: try r.string("prefix") ?? "", suffix: try r.string("suffix") ?? "")
    }

    func write(into o: inout [String: ConfigValue]) {
        o["bucket"] = .string(bucket)
        o["events"] = .array(events.map { .string($0) })
        o["prefix"] = .string(prefix)
        o["suffix"] = .string(suffix)
    }
}

/// A required, non-empty list of strings that each pass `check`.
func stringList(_ r: FieldReader, _ key: String, check: (String) -> Bool, what: String) throws(SwellError) -> [String] {
    guard let value = r.value(key) else { throw SwellError.invalid(r.field(key), "is required: a list of \(what)") }
    guard case .array(let items) = value, !items.isEmpty else {
        throw SwellError.invalid(r.field(key), "must be a non-empty list of \(what) (got \(value.kindName))")
    }
    var result: [String] = []
    for (i, item) in items.enumerated() {
        guard case .string(let s) = item else { throw SwellError.invalid("\(r.field(key))[\(i)]", "must be \(what) (got \(item.kindName))") }
        guard check(s) else { throw SwellError.invalid("\(r.field(key))[\(i)]", "must be \(what) (got \"\(s)\")") }
        guard !result.contains(s) else { throw SwellError.invalid("\(r.field(key))[\(i)]", "\"\(s)\" is listed twice") }
        result.append(s)
    }
    return result
}

/// `host:port` entries.
func hostPorts(_ r: FieldReader, _ key: String) throws(SwellError) -> [String] {
    try stringList(r, key, check: { s in
        guard let colon = s.lastIndex(of: ":"), colon != s.startIndex, let port = Int(s[s.index(after: colon)...]) else { return false }
        return (1...65535).contains(port)
    }, what: "host:port")
}
