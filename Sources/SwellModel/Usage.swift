import Foundation

/// One hour of one function version: the unit that metering stores and adds to.
public struct UsageKey: Sendable, Hashable, Comparable {
    /// Start of the hour, in seconds since the epoch (a multiple of 3600, UTC).
    public var hour: Int64
    public var namespace: String
    public var function: String
    /// `$LATEST` or a version number.
    public var version: String

    public init(hour: Int64, namespace: String, function: String, version: String) {
        self.hour = hour
        self.namespace = namespace
        self.function = function
        self.version = version
    }

    public static func < (a: UsageKey, b: UsageKey) -> Bool {
        (a.hour, a.namespace, a.function, a.version) < (b.hour, b.namespace, b.function, b.version)
    }
}

/// Hour bucketing, in UTC.
public enum UsageHour {
    /// The start of the hour holding `date`, in seconds since the epoch.
    public static func start(of date: Date) -> Int64 {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        return seconds - ((seconds % 3600) + 3600) % 3600
    }

    /// The start of the day (UTC) holding an hour.
    public static func day(of hour: Int64) -> Int64 {
        hour - ((hour % 86_400) + 86_400) % 86_400
    }

    /// `2026-12-01T13:00Z`.
    public static func hourLabel(_ hour: Int64) -> String {
        let c = CivilDate(epochSeconds: hour)
        return "\(c.dateLabel)T\(c.hour < 10 ? "0" : "")\(c.hour):00Z"
    }

    /// `2026-12-01`.
    public static func dayLabel(_ hour: Int64) -> String {
        CivilDate(epochSeconds: hour).dateLabel
    }

    /// The UTC date and hour of seconds since the epoch.
    struct CivilDate {
        var dateLabel: String
        var hour: Int64

        init(epochSeconds: Int64) {
            let days = Int64((Double(epochSeconds) / 86_400).rounded(.down))
            hour = (epochSeconds - days * 86_400) / 3600
            let (y, m, d) = CronCalendar.civil(fromDays: Int(days))
            func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
            dateLabel = "\(y)-\(two(m))-\(two(d))"
        }
    }
}

/// What one hour of one function version used.
public struct UsageCounters: Sendable, Hashable {
    public var invocations: Int64 = 0
    public var errors: Int64 = 0
    public var coldStarts: Int64 = 0
    /// Sum of billed durations (run time rounded up to 1 ms).
    public var billedMs: Int64 = 0
    /// Sum of billed duration × memory, in MB·ms (exact; GB-seconds = this / 1024 / 1000).
    public var mbMs: Int64 = 0
    /// Most instances of the version alive at once during the hour.
    public var peakInstances: Int64 = 0
    /// The largest memory size (MB) the version had during the hour.
    public var memoryMB: Int64 = 0
    /// Run durations.
    public var latency = LatencyHistogram()
    /// MB-hours an always-on fleet sized for the peak would have run: for one version's hour
    /// `peakInstances × memoryMB`; for a roll-up (a namespace's hour, a function's day) the sum
    /// of its versions' hours.
    public var alwaysOnMBHours: Int64 = 0

    public init() {}

    /// - Parameter alwaysOnMBHours: nil for one version's hour (`peakInstances × memoryMB`).
    public init(
        invocations: Int64, errors: Int64, coldStarts: Int64, billedMs: Int64, mbMs: Int64, peakInstances: Int64, memoryMB: Int64,
        latency: LatencyHistogram = LatencyHistogram(), alwaysOnMBHours: Int64? = nil
    ) {
        self.invocations = invocations
        self.errors = errors
        self.coldStarts = coldStarts
        self.billedMs = billedMs
        self.mbMs = mbMs
        self.peakInstances = peakInstances
        self.memoryMB = memoryMB
        self.latency = latency
        self.alwaysOnMBHours = alwaysOnMBHours ?? peakInstances * memoryMB
    }

    /// GB-seconds of compute.
    public var gbSeconds: Double { Double(mbMs) / 1024 / 1000 }

    /// GB-hours an always-on fleet sized for each hour's peak would have run.
    public var alwaysOnGBHours: Double { Double(alwaysOnMBHours) / 1024 }

    /// Adds another delta of the same hour and version: sums, and the larger peak and memory
    /// (and the always-on figure that follows from them).
    public mutating func merge(_ other: UsageCounters) {
        addTotals(other)
        peakInstances = max(peakInstances, other.peakInstances)
        memoryMB = max(memoryMB, other.memoryMB)
        alwaysOnMBHours = peakInstances * memoryMB
    }

    /// Adds the additive figures of another row (counts, durations, latency), not its peak,
    /// memory or always-on figure.
    public mutating func addTotals(_ other: UsageCounters) {
        invocations += other.invocations
        errors += other.errors
        coldStarts += other.coldStarts
        billedMs += other.billedMs
        mbMs += other.mbMs
        latency.merge(other.latency)
    }
}

/// One stored row: an hour of a function version and what it used.
public struct UsageRecord: Sendable, Hashable {
    public var key: UsageKey
    public var counters: UsageCounters

    public init(key: UsageKey, counters: UsageCounters) {
        self.key = key
        self.counters = counters
    }
}

/// Instances of one function version alive at one moment (summed over its pools by the sampler).
public struct InstanceSample: Sendable, Hashable {
    public var namespace: String
    public var function: String
    public var version: String
    public var instances: Int
    public var memoryMB: Int

    public init(namespace: String, function: String, version: String, instances: Int, memoryMB: Int) {
        self.namespace = namespace
        self.function = function
        self.version = version
        self.instances = instances
        self.memoryMB = memoryMB
    }
}

/// Usage collected in memory between two writes: invocations add to their hour, instance
/// samples raise its peak. A pure value; the meter keeps it behind a lock and writes what
/// `take()` returns.
public struct UsageAccumulator: Sendable {
    public private(set) var pending: [UsageKey: UsageCounters] = [:]

    public init() {}

    /// Adds one invocation to the hour it started in.
    public mutating func add(_ record: InvocationRecord) {
        let key = UsageKey(
            hour: UsageHour.start(of: record.startedAt), namespace: record.namespace, function: record.function, version: record.version)
        let billed = Int64(record.billedMs)
        let memory = Int64(record.memoryMB)
        let isError = record.errorType != nil
        let cold = record.coldStart
        let duration = record.durationMs
        update(key) { c in
            c.invocations += 1
            if isError { c.errors += 1 }
            if cold { c.coldStarts += 1 }
            c.billedMs += billed
            c.mbMs += billed * memory
            c.memoryMB = max(c.memoryMB, memory)
            // An invocation ran on an instance, however briefly it lived.
            c.peakInstances = max(c.peakInstances, 1)
            c.latency.record(milliseconds: duration)
        }
    }

    /// Raises each version's peak for the hour of `time` to what the sample saw (versions with
    /// several samples in one call are added up first).
    public mutating func observe(_ samples: [InstanceSample], at time: Date) {
        let hour = UsageHour.start(of: time)
        var totals: [UsageKey: (instances: Int64, memory: Int64)] = [:]
        for s in samples where s.instances > 0 {
            let key = UsageKey(hour: hour, namespace: s.namespace, function: s.function, version: s.version)
            let t = totals[key] ?? (0, 0)
            totals[key] = (t.instances + Int64(s.instances), max(t.memory, Int64(s.memoryMB)))
        }
        for (key, t) in totals {
            update(key) { c in
                c.peakInstances = max(c.peakInstances, t.instances)
                c.memoryMB = max(c.memoryMB, t.memory)
            }
        }
    }

    /// Merges a whole record (one that could not be written, handed back).
    public mutating func merge(_ record: UsageRecord) {
        update(record.key) { $0.merge(record.counters) }
    }

    /// Everything collected since the last call, and forgets it.
    public mutating func take() -> [UsageRecord] {
        defer { pending = [:] }
        return pending.map { UsageRecord(key: $0.key, counters: $0.value) }.sorted { $0.key < $1.key }
    }

    private static func modify(_ c: inout UsageCounters, _ body: (inout UsageCounters) -> Void) {
        body(&c)
        c.alwaysOnMBHours = c.peakInstances * c.memoryMB
    }

    private mutating func update(_ key: UsageKey, _ body: (inout UsageCounters) -> Void) {
        // One hash look-up: the body and the always-on figure on the same entry.
        Self.modify(&pending[key, default: UsageCounters()], body)
    }
}

/// Prices that turn usage into cost: per GB-second and per million requests (pay per use),
/// and per GB-hour of an always-on machine (the comparison).
public struct PriceTable: Sendable, Hashable, Codable {
    public var perGBSecond: Double
    public var perMillionRequests: Double
    public var alwaysOnPerGBHour: Double

    public init(perGBSecond: Double, perMillionRequests: Double, alwaysOnPerGBHour: Double) {
        self.perGBSecond = perGBSecond
        self.perMillionRequests = perMillionRequests
        self.alwaysOnPerGBHour = alwaysOnPerGBHour
    }

    /// An example, not a quote: the list prices of a public function service (x86, first tier)
    /// and a general-purpose virtual machine's price per GB of memory per hour.
    public static let defaults = PriceTable(perGBSecond: 0.0000166667, perMillionRequests: 0.20, alwaysOnPerGBHour: 0.0125)

    public static let fields = ["perGBSecond", "perMillionRequests", "alwaysOnPerGBHour"]

    /// Cost of `requests` invocations and `gbSeconds` of compute.
    public func cost(requests: Int64, gbSeconds: Double) -> UsageCost {
        let r = Double(requests) / 1_000_000 * perMillionRequests
        let c = gbSeconds * perGBSecond
        return UsageCost(requests: r, compute: c, total: r + c)
    }

    /// Cost of `gbHours` of always-on machines.
    public func alwaysOn(gbHours: Double) -> Double { gbHours * alwaysOnPerGBHour }

    /// Whether every price is a finite number ≥ 0; the name of the first that is not.
    public var invalidField: String? {
        for (name, value) in [("perGBSecond", perGBSecond), ("perMillionRequests", perMillionRequests), ("alwaysOnPerGBHour", alwaysOnPerGBHour)]
        where !value.isFinite || value < 0 {
            return name
        }
        return nil
    }
}

public struct UsageCost: Sendable, Hashable, Codable {
    public var requests: Double
    public var compute: Double
    public var total: Double

    public init(requests: Double, compute: Double, total: Double) {
        self.requests = requests
        self.compute = compute
        self.total = total
    }
}

/// A range of hours cut where daily roll-ups can serve it: whole UTC days in the middle,
/// the hours before the first midnight and after the last one at the edges.
public struct UsageSpan: Sendable, Hashable {
    /// Hours before the first whole day (empty when the range starts at midnight).
    public var head: Range<Int64>
    /// Whole days, from the first midnight to the last (empty when there is no whole day).
    public var days: Range<Int64>
    /// Hours after the last whole day.
    public var tail: Range<Int64>

    /// Cuts `fromHour..<toHour` (hour starts, seconds since the epoch).
    public init(fromHour: Int64, toHour: Int64) {
        let firstMidnight = UsageHour.day(of: fromHour) == fromHour ? fromHour : UsageHour.day(of: fromHour) + 86_400
        let lastMidnight = UsageHour.day(of: toHour)
        if firstMidnight < lastMidnight {
            head = fromHour..<firstMidnight
            days = firstMidnight..<lastMidnight
            tail = lastMidnight..<toHour
        } else {
            head = fromHour..<max(fromHour, toHour)
            days = firstMidnight..<firstMidnight
            tail = toHour..<toHour
        }
    }
}

/// How `GET /v1/usage` groups its rows.
public enum UsageGrouping: String, Sendable, CaseIterable {
    /// One row per hour (all functions of the namespace together).
    case hour
    /// One row per UTC day.
    case day
    /// One row per namespace and function (all hours together).
    case function
}

/// The figures of one row (or the totals) of a usage report.
public struct UsageFigures: Sendable, Hashable, Encodable {
    public var invocations: Int64 = 0
    public var errors: Int64 = 0
    public var coldStarts: Int64 = 0
    public var billedMs: Int64 = 0
    public var gbSeconds: Double = 0
    /// Percentiles of the run duration; nil when nothing ran (encoded as 0).
    public var p50Ms: Double?
    public var p99Ms: Double?
    /// Most instances alive at once in any hour of the row (the versions and functions of
    /// the row added up within each hour).
    public var peakInstances: Int64 = 0
    public var cost = UsageCost(requests: 0, compute: 0, total: 0)
    /// What always-on machines sized for each hour's peak would have cost.
    public var alwaysOnCost: Double = 0

    enum CodingKeys: String, CodingKey {
        case invocations, errors, coldStarts, billedMs, gbSeconds, p50Ms, p99Ms, peakInstances, cost, alwaysOnCost
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(invocations, forKey: .invocations)
        try c.encode(errors, forKey: .errors)
        try c.encode(coldStarts, forKey: .coldStarts)
        try c.encode(billedMs, forKey: .billedMs)
        try c.encode(gbSeconds, forKey: .gbSeconds)
        // Numbers always (the console charts them): 0 when nothing ran.
        try c.encode(p50Ms ?? 0, forKey: .p50Ms)
        try c.encode(p99Ms ?? 0, forKey: .p99Ms)
        try c.encode(peakInstances, forKey: .peakInstances)
        try c.encode(cost, forKey: .cost)
        try c.encode(alwaysOnCost, forKey: .alwaysOnCost)
    }
}

/// Usage rows grouped and priced: the body of `GET /v1/usage` without its envelope.
public struct UsageReport: Sendable, Hashable {
    public struct Row: Sendable, Hashable, Encodable {
        /// `2026-12-01` (by day) or `2026-12-01T13:00Z` (by hour); nil by function.
        public var period: String?
        public var namespace: String
        /// By function only.
        public var function: String?
        public var figures: UsageFigures

        public init(period: String?, namespace: String, function: String? = nil, figures: UsageFigures) {
            self.period = period
            self.namespace = namespace
            self.function = function
            self.figures = figures
        }

        enum CodingKeys: String, CodingKey { case period, namespace, function }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(period, forKey: .period)
            try c.encode(namespace, forKey: .namespace)
            try c.encodeIfPresent(function, forKey: .function)
            try figures.encode(to: encoder)
        }
    }

    public var rows: [Row]
    public var totals: UsageFigures

    /// Groups usage records and prices them.
    ///
    /// A record is a unit of time (`key.hour`: an hour, or a day for daily roll-ups) of one
    /// version, function or namespace. Within a row, the peaks of records of the same unit add
    /// up (versions and functions run side by side), and the row's peak is the largest unit.
    /// - Parameters:
    ///   - records: records of one or more namespaces (any order).
    ///   - namespaceLabel: the `namespace` of period rows (rows by function name their own).
    ///   - totalPeak: the peak of the totals when the records cannot tell it (daily roll-ups of
    ///     several functions peak at different hours); nil: computed like a row's.
    public static func build(
        _ records: [UsageRecord], by grouping: UsageGrouping, prices: PriceTable, namespaceLabel: String, totalPeak: Int64? = nil
    ) -> UsageReport {
        struct GroupKey: Hashable, Comparable {
            var unit: Int64
            var namespace: String
            var function: String

            static func < (a: GroupKey, b: GroupKey) -> Bool { (a.unit, a.namespace, a.function) < (b.unit, b.namespace, b.function) }
        }
        struct Group {
            var counters = UsageCounters()
            var alwaysOnMBHours: Int64 = 0
            /// Instances per unit of time, the row's versions and functions added up.
            var perUnit: [Int64: Int64] = [:]

            mutating func add(_ record: UsageRecord) {
                counters.addTotals(record.counters)
                alwaysOnMBHours += record.counters.alwaysOnMBHours
                perUnit[record.key.hour, default: 0] += record.counters.peakInstances
            }
        }
        var groups: [GroupKey: Group] = [:]
        var total = Group()
        for record in records {
            let key: GroupKey
            switch grouping {
            case .hour: key = GroupKey(unit: record.key.hour, namespace: "", function: "")
            case .day: key = GroupKey(unit: UsageHour.day(of: record.key.hour), namespace: "", function: "")
            case .function: key = GroupKey(unit: 0, namespace: record.key.namespace, function: record.key.function)
            }
            groups[key, default: Group()].add(record)
            total.add(record)
        }
        func figures(_ g: Group, peak: Int64? = nil) -> UsageFigures {
            var f = UsageFigures()
            f.invocations = g.counters.invocations
            f.errors = g.counters.errors
            f.coldStarts = g.counters.coldStarts
            f.billedMs = g.counters.billedMs
            f.gbSeconds = g.counters.gbSeconds
            f.p50Ms = g.counters.latency.percentile(0.5)
            f.p99Ms = g.counters.latency.percentile(0.99)
            f.peakInstances = peak ?? g.perUnit.values.max() ?? 0
            f.cost = prices.cost(requests: g.counters.invocations, gbSeconds: f.gbSeconds)
            f.alwaysOnCost = prices.alwaysOn(gbHours: Double(g.alwaysOnMBHours) / 1024)
            return f
        }
        let rows = groups.sorted { $0.key < $1.key }.map { key, g -> Row in
            switch grouping {
            case .hour: Row(period: UsageHour.hourLabel(key.unit), namespace: namespaceLabel, function: nil, figures: figures(g))
            case .day: Row(period: UsageHour.dayLabel(key.unit), namespace: namespaceLabel, function: nil, figures: figures(g))
            case .function: Row(period: nil, namespace: key.namespace, function: key.function, figures: figures(g))
            }
        }
        return UsageReport(rows: rows, totals: figures(total, peak: totalPeak))
    }
}

extension PriceTable {
    /// This table with the prices a JSON mapping gives (`perGBSecond`, `perMillionRequests`,
    /// `alwaysOnPerGBHour`; absent ones keep their value).
    /// - Throws: `SwellError` naming an unknown field or a price that is not a number ≥ 0.
    public func updated(with value: ConfigValue, path: String = "") throws(SwellError) -> PriceTable {
        let body = try FieldReader(value, path: path)
        try body.rejectUnknown(Set(Self.fields))
        var table = self
        let prices: [(String, WritableKeyPath<PriceTable, Double>)] = [
            ("perGBSecond", \.perGBSecond), ("perMillionRequests", \.perMillionRequests), ("alwaysOnPerGBHour", \.alwaysOnPerGBHour),
        ]
        for (key, keyPath) in prices {
            guard let price = try body.number(key) else { continue }
            guard price.isFinite, price >= 0, price < 1e9 else {
                throw SwellError.invalid(body.field(key), "must be a number from 0 up to 1e9 (got \(price))")
            }
            table[keyPath: keyPath] = price
        }
        return table
    }
}
