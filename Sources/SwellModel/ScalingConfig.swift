/// How a function's instances scale: the `scaling` block of a function.
///
/// ```yaml
/// scaling:
///   minInstances: 0
///   maxInstances: 100
///   keepAlive: 60           # seconds idle before an instance stops
///   schedule:               # provisioned windows
///     - { cron: "0 50 18 * * MON-FRI", timezone: Asia/Shanghai, minInstances: 20, duration: 7200 }
/// ```
public struct ScalingConfig: Sendable, Codable, Hashable {
    public static let instancesRange = 0...1000
    public static let keepAliveRange = 1...86_400
    public static let maxScheduleRules = 20

    /// Instances kept running even when idle.
    public var minInstances: Int
    /// Most instances of one version at once.
    public var maxInstances: Int
    /// Seconds an idle instance is kept before it stops.
    public var keepAlive: Int
    /// Windows during which more instances are kept warm.
    public var schedule: [ScheduleRule]

    public init(minInstances: Int = 0, maxInstances: Int = 100, keepAlive: Int = 60, schedule: [ScheduleRule] = []) {
        self.minInstances = minInstances
        self.maxInstances = maxInstances
        self.keepAlive = keepAlive
        self.schedule = schedule
    }

    /// Reads the `scaling` block; `r` is the function entry.
    static func parse(_ r: FieldReader) throws(SwellError) -> ScalingConfig {
        guard let s = try r.object("scaling") else { return ScalingConfig() }
        try s.rejectUnknown(["minInstances", "maxInstances", "keepAlive", "schedule"])
        let minInstances = try s.int("minInstances", range: instancesRange) ?? 0
        let maxInstances = try s.int("maxInstances", range: 1...instancesRange.upperBound) ?? 100
        guard minInstances <= maxInstances else {
            throw SwellError.invalid(s.field("minInstances"), "must not exceed maxInstances (\(minInstances) > \(maxInstances))")
        }
        let keepAlive = try s.int("keepAlive", range: keepAliveRange) ?? 60
        var rules: [ScheduleRule] = []
        if let list = s.value("schedule") {
            guard case .array(let items) = list else {
                throw SwellError.invalid(s.field("schedule"), "must be a list (got \(list.kindName))")
            }
            guard items.count <= maxScheduleRules else {
                throw SwellError.invalid(s.field("schedule"), "may hold at most \(maxScheduleRules) rules (got \(items.count))")
            }
            for (i, item) in items.enumerated() {
                let rule = try ScheduleRule.parse(item, path: "\(s.field("schedule"))[\(i)]")
                guard rule.minInstances <= maxInstances else {
                    throw SwellError.invalid("\(s.field("schedule"))[\(i)].minInstances", "must not exceed maxInstances (\(rule.minInstances) > \(maxInstances))")
                }
                rules.append(rule)
            }
        }
        return ScalingConfig(minInstances: minInstances, maxInstances: maxInstances, keepAlive: keepAlive, schedule: rules)
    }
}

/// A provisioned window: from each time `cron` fires (in `timezone`) for `duration`
/// seconds, keep at least `minInstances` instances.
public struct ScheduleRule: Sendable, Codable, Hashable {
    public static let durationRange = 60...7 * 86_400

    public var cron: String
    public var timezone: String
    public var minInstances: Int
    public var duration: Int

    public init(cron: String, timezone: String = "UTC", minInstances: Int, duration: Int) {
        self.cron = cron
        self.timezone = timezone
        self.minInstances = minInstances
        self.duration = duration
    }

    static func parse(_ value: ConfigValue, path: String) throws(SwellError) -> ScheduleRule {
        let r = try FieldReader(value, path: path)
        try r.rejectUnknown(["cron", "timezone", "minInstances", "duration"])
        guard let cron = try r.string("cron") else { throw SwellError.invalid(r.field("cron"), "is required (e.g. \"0 50 18 * * MON-FRI\")") }
        let timezone = try r.string("timezone") ?? "UTC"
        guard let minInstances = try r.int("minInstances", range: 1...ScalingConfig.instancesRange.upperBound) else {
            throw SwellError.invalid(r.field("minInstances"), "is required")
        }
        guard let duration = try r.int("duration", range: durationRange) else {
            throw SwellError.invalid(r.field("duration"), "is required (seconds the window lasts)")
        }
        let rule = ScheduleRule(cron: cron, timezone: timezone, minInstances: minInstances, duration: duration)
        _ = try rule.compiled(path: path)
        return rule
    }
}
