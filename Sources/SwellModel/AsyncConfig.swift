/// How a function's asynchronous invocations (tasks) are run: the `async` block.
///
/// ```yaml
/// async:
///   maxAttempts: 3
///   maxEventAge: 3600       # seconds
///   concurrency: 50         # async invocations in flight for this function
///   onSuccess: { function: archive }
///   onFailure: { webhook: "http://127.0.0.1:9000/failed" }
/// ```
public struct AsyncConfig: Sendable, Codable, Hashable {
    public static let attemptsRange = 1...100
    public static let eventAgeRange = 1...7 * 86_400
    public static let concurrencyRange = 1...10_000
    public static let retryDelayRange = 0...3600

    /// Attempts in all (1 = no retry).
    public var maxAttempts: Int
    /// Seconds after enqueue after which a task that has not succeeded is given up (`expired`).
    public var maxEventAge: Int
    /// Async invocations of this function in flight at once (nil: bounded by its instances only).
    public var concurrency: Int?
    /// First retry delay in seconds; doubles per attempt (with jitter) up to `maxRetryDelay`.
    public var retryDelay: Int
    public var maxRetryDelay: Int
    public var onSuccess: Destination?
    public var onFailure: Destination?

    public init(
        maxAttempts: Int = 3, maxEventAge: Int = 21_600, concurrency: Int? = nil, retryDelay: Int = 1, maxRetryDelay: Int = 300,
        onSuccess: Destination? = nil, onFailure: Destination? = nil
    ) {
        self.maxAttempts = maxAttempts
        self.maxEventAge = maxEventAge
        self.concurrency = concurrency
        self.retryDelay = retryDelay
        self.maxRetryDelay = maxRetryDelay
        self.onSuccess = onSuccess
        self.onFailure = onFailure
    }

    static func parse(_ r: FieldReader) throws(SwellError) -> AsyncConfig {
        guard let a = try r.object("async") else { return AsyncConfig() }
        try a.rejectUnknown(["maxAttempts", "maxEventAge", "concurrency", "retryDelay", "maxRetryDelay", "onSuccess", "onFailure"])
        let retryDelay = try a.int("retryDelay", range: retryDelayRange) ?? 1
        let maxRetryDelay = try a.int("maxRetryDelay", range: retryDelayRange) ?? 300
        guard retryDelay <= maxRetryDelay else {
            throw SwellError.invalid(a.field("retryDelay"), "must not exceed maxRetryDelay (\(retryDelay) > \(maxRetryDelay))")
        }
        return AsyncConfig(
            maxAttempts: try a.int("maxAttempts", range: attemptsRange) ?? 3,
            maxEventAge: try a.int("maxEventAge", range: eventAgeRange) ?? 21_600,
            concurrency: try a.int("concurrency", range: concurrencyRange),
            retryDelay: retryDelay, maxRetryDelay: maxRetryDelay,
            onSuccess: try a.value("onSuccess").map { v throws(SwellError) in try Destination.parse(v, path: a.field("onSuccess")) },
            onFailure: try a.value("onFailure").map { v throws(SwellError) in try Destination.parse(v, path: a.field("onFailure")) })
    }
}

/// Where the outcome of a task is sent.
public enum Destination: Sendable, Codable, Hashable {
    /// Another function of the same namespace, invoked asynchronously with the record as its event.
    case function(name: String, qualifier: String?)
    /// An HTTP(S) POST of the record (JSON, or CloudEvents 1.0 in HTTP binary mode).
    case webhook(url: String, cloudEvents: Bool)
    /// A Kafka topic (the record is the value, the task id the key).
    case kafka(brokers: [String], topic: String)
    /// A workflow of the same namespace: an execution starts with the record as its input.
    case workflow(name: String)

    static func parse(_ value: ConfigValue, path: String) throws(SwellError) -> Destination {
        let r = try FieldReader(value, path: path)
        try r.rejectUnknown(["function", "qualifier", "webhook", "format", "kafka", "workflow"])
        let kinds = ["function", "webhook", "kafka", "workflow"].filter { r.has($0) }
        guard kinds.count == 1 else {
            throw SwellError.invalid(path, "must name exactly one of function, webhook, kafka, workflow (got \(kinds.isEmpty ? "none" : kinds.joined(separator: ", ")))")
        }
        switch kinds[0] {
        case "workflow":
            let name = try r.string("workflow")!
            guard Names.isFunctionName(name) else { throw SwellError.invalid(r.field("workflow"), "is not a valid workflow name (got \"\(name)\")") }
            return .workflow(name: name)
        case "function":
            let name = try r.string("function")!
            guard Names.isFunctionName(name) else { throw SwellError.invalid(r.field("function"), "is not a valid function name (got \"\(name)\")") }
            let qualifier = try r.string("qualifier")
            if let q = qualifier, q != "$LATEST", !Names.isAliasName(q), Int(q) == nil {
                throw SwellError.invalid(r.field("qualifier"), "must be $LATEST, a version number or an alias (got \"\(q)\")")
            }
            return .function(name: name, qualifier: qualifier)
        case "webhook":
            let url = try r.string("webhook")!
            guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8, !url.contains(" ") else {
                throw SwellError.invalid(r.field("webhook"), "must be an http:// or https:// URL (got \"\(url)\")")
            }
            let format = try r.string("format") ?? "json"
            guard format == "json" || format == "cloudevents" else {
                throw SwellError.invalid(r.field("format"), "must be json or cloudevents (got \"\(format)\")")
            }
            return .webhook(url: url, cloudEvents: format == "cloudevents")
        default:
            guard let k = try r.object("kafka") else { throw SwellError.invalid(r.field("kafka"), "must be a mapping with brokers and topic") }
            try k.rejectUnknown(["brokers", "topic"])
            guard let topic = try k.string("topic"), !topic.isEmpty else { throw SwellError.invalid(k.field("topic"), "is required") }
            guard case .array(let items)? = k.value("brokers"), !items.isEmpty else {
                throw SwellError.invalid(k.field("brokers"), "must be a non-empty list of host:port")
            }
            var brokers: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let b) = item, b.contains(":") else {
                    throw SwellError.invalid("\(k.field("brokers"))[\(i)]", "must be host:port")
                }
                brokers.append(b)
            }
            return .kafka(brokers: brokers, topic: topic)
        }
    }
}

extension AsyncConfig {
    enum CodingKeys: String, CodingKey {
        case maxAttempts, maxEventAge, concurrency, retryDelay, maxRetryDelay, onSuccess, onFailure
    }

    /// Writes every field, absent ones as null, in the manifest's shape.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(maxAttempts, forKey: .maxAttempts)
        try c.encode(maxEventAge, forKey: .maxEventAge)
        try c.encode(concurrency, forKey: .concurrency)
        try c.encode(retryDelay, forKey: .retryDelay)
        try c.encode(maxRetryDelay, forKey: .maxRetryDelay)
        try c.encode(onSuccess, forKey: .onSuccess)
        try c.encode(onFailure, forKey: .onFailure)
    }
}

extension Destination {
    /// The destination in the manifest's shape.
    public var configValue: ConfigValue {
        switch self {
        case .function(let name, let qualifier):
            var o: [String: ConfigValue] = ["function": .string(name)]
            if let qualifier { o["qualifier"] = .string(qualifier) }
            return .object(o)
        case .webhook(let url, let cloudEvents):
            return ["webhook": .string(url), "format": cloudEvents ? "cloudevents" : "json"]
        case .kafka(let brokers, let topic):
            return ["kafka": ["brokers": .array(brokers.map { .string($0) }), "topic": .string(topic)]]
        case .workflow(let name):
            return ["workflow": .string(name)]
        }
    }

    public init(from decoder: any Decoder) throws {
        let value = try ConfigValue(from: decoder)
        do {
            self = try Destination.parse(value, path: "destination")
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        try configValue.encode(to: encoder)
    }
}
