import Foundation

/// Limits of the log pipeline: how fast a namespace may log, how much of its output is kept,
/// and how large the log database may grow.
///
/// ```swift
/// var limits = LogLimits()
/// limits.namespaceBytesPerSecond = 256 * 1024
/// ```
public struct LogLimits: Sendable, Equatable {
    /// Bytes per second one namespace may log beyond its functions' reserved rates (a burst of `burstSeconds` of it is allowed).
    public var namespaceBytesPerSecond: Int
    /// Lines per second one namespace may log beyond its functions' reserved rates.
    public var namespaceLinesPerSecond: Int
    /// Bytes per second every function may log whatever the rest of its namespace does.
    public var functionReservedBytesPerSecond: Int
    /// Lines per second every function may log whatever the rest of its namespace does.
    public var functionReservedLinesPerSecond: Int
    /// How many seconds of a rate may be spent at once.
    public var burstSeconds: Double
    /// Longest line kept; the rest of a longer line is dropped and the line marked as cut.
    public var maxLineBytes: Int
    /// Bytes of lines waiting to be written, all namespaces together; one namespace may hold at most a quarter.
    public var queueBytes: Int
    /// What is kept.
    public var retention: LogRetentionPolicy

    public init(
        namespaceBytesPerSecond: Int = 1 << 20, namespaceLinesPerSecond: Int = 5_000, functionReservedBytesPerSecond: Int = 64 << 10,
        functionReservedLinesPerSecond: Int = 200, burstSeconds: Double = 5, maxLineBytes: Int = Limits.maxLogLineBytes,
        queueBytes: Int = 16 << 20, retention: LogRetentionPolicy = LogRetentionPolicy()
    ) {
        self.namespaceBytesPerSecond = namespaceBytesPerSecond
        self.namespaceLinesPerSecond = namespaceLinesPerSecond
        self.functionReservedBytesPerSecond = functionReservedBytesPerSecond
        self.functionReservedLinesPerSecond = functionReservedLinesPerSecond
        self.burstSeconds = burstSeconds
        self.maxLineBytes = maxLineBytes
        self.queueBytes = queueBytes
        self.retention = retention
    }
}

/// What the log database keeps: lines younger than `maxAge`, at most `functionMaxBytes` per
/// function, at most `namespaceMaxBytes` per namespace shared fairly by its functions, and at
/// most `databaseMaxBytes` on disk shared fairly by namespaces. Oldest lines go first.
///
/// Fair means max-min fair: a function (namespace) below its share keeps everything; the ones
/// above it are cut down to the same level. A chatty function therefore never evicts the lines
/// of a quiet one.
public struct LogRetentionPolicy: Sendable, Equatable {
    public var maxAge: TimeInterval
    public var functionMaxBytes: Int
    public var namespaceMaxBytes: Int
    public var databaseMaxBytes: Int

    /// Pruning for the database bound starts when the file reaches this fraction of it...
    public static let highWater = 0.85
    /// ...and removes lines until the live data is this fraction of it.
    public static let lowWater = 0.65

    public init(maxAge: TimeInterval = 7 * 86_400, functionMaxBytes: Int = 64 << 20, namespaceMaxBytes: Int = 256 << 20, databaseMaxBytes: Int = 1 << 30) {
        self.maxAge = maxAge
        self.functionMaxBytes = functionMaxBytes
        self.namespaceMaxBytes = namespaceMaxBytes
        self.databaseMaxBytes = databaseMaxBytes
    }

    /// One function's stored lines, in accounted bytes (message plus per-row overhead).
    public struct Stream: Sendable, Equatable {
        public var id: Int64
        public var namespace: String
        public var bytes: Int

        public init(id: Int64, namespace: String, bytes: Int) {
            self.id = id
            self.namespace = namespace
            self.bytes = bytes
        }
    }

    /// The bytes each stream may keep (its newest lines), for the streams that must shrink.
    /// - Parameters:
    ///   - streams: every stream with its accounted bytes.
    ///   - fileBytes: the database's size on disk now (pages in use, plus the write-ahead log).
    /// - Returns: stream id → allowance, only for streams above their allowance.
    public func allowances(_ streams: [Stream], fileBytes: Int) -> [Int64: Int] {
        var allowed: [Int64: Int] = [:]
        for s in streams { allowed[s.id] = min(s.bytes, functionMaxBytes) }

        let byNamespace = Dictionary(grouping: streams, by: \.namespace)
        for (_, members) in byNamespace {
            let sizes = members.map { allowed[$0.id]! }
            guard sizes.reduce(0, +) > namespaceMaxBytes else { continue }
            let level = Self.fairLevel(sizes, total: namespaceMaxBytes)
            for m in members { allowed[m.id] = min(allowed[m.id]!, level) }
        }

        let accounted = streams.reduce(0) { $0 + $1.bytes }
        if fileBytes > Int(Double(databaseMaxBytes) * Self.highWater), accounted > 0 {
            // Accounted bytes understate the file (pages, indexes): scale the target by the ratio seen.
            let ratio = min(8, max(1, Double(fileBytes) / Double(accounted)))
            let target = Int(Double(databaseMaxBytes) * Self.lowWater / ratio)
            let namespaces = byNamespace.keys.sorted()
            let totals = namespaces.map { ns in byNamespace[ns]!.reduce(0) { $0 + allowed[$1.id]! } }
            if totals.reduce(0, +) > target {
                let level = Self.fairLevel(totals, total: target)
                for (ns, total) in zip(namespaces, totals) where total > level {
                    let members = byNamespace[ns]!
                    let inner = Self.fairLevel(members.map { allowed[$0.id]! }, total: level)
                    for m in members { allowed[m.id] = min(allowed[m.id]!, inner) }
                }
            }
        }
        var result: [Int64: Int] = [:]
        for s in streams where allowed[s.id]! < s.bytes { result[s.id] = allowed[s.id]! }
        return result
    }

    /// The largest level L with `sum(min(size, L)) <= total` (max-min fair share, "water filling").
    public static func fairLevel(_ sizes: [Int], total: Int) -> Int {
        guard sizes.reduce(0, +) > total else { return sizes.max() ?? 0 }
        let sorted = sizes.sorted()
        var remaining = max(0, total)
        var left = sorted.count
        for size in sorted {
            let share = remaining / left
            if size > share { return share }
            remaining -= size
            left -= 1
        }
        return sorted.last ?? 0
    }
}

/// What was not stored of one function's output, by reason.
public struct LogDrops: Sendable, Equatable, Codable, Hashable {
    /// Lines refused by the namespace's log rate limit.
    public var rateLimitedLines: Int
    public var rateLimitedBytes: Int
    /// Lines refused because too many were waiting to be written.
    public var queueFullLines: Int
    public var queueFullBytes: Int
    /// Lines longer than the line limit, stored cut.
    public var cutLines: Int
    /// Lines removed by retention (age or size).
    public var prunedLines: Int

    public init(rateLimitedLines: Int = 0, rateLimitedBytes: Int = 0, queueFullLines: Int = 0, queueFullBytes: Int = 0, cutLines: Int = 0, prunedLines: Int = 0) {
        self.rateLimitedLines = rateLimitedLines
        self.rateLimitedBytes = rateLimitedBytes
        self.queueFullLines = queueFullLines
        self.queueFullBytes = queueFullBytes
        self.cutLines = cutLines
        self.prunedLines = prunedLines
    }

    public var isEmpty: Bool { self == LogDrops() }

    /// Lines refused at intake (not stored at all).
    public var droppedLines: Int { rateLimitedLines + queueFullLines }

    public static func + (a: LogDrops, b: LogDrops) -> LogDrops {
        LogDrops(
            rateLimitedLines: a.rateLimitedLines + b.rateLimitedLines, rateLimitedBytes: a.rateLimitedBytes + b.rateLimitedBytes,
            queueFullLines: a.queueFullLines + b.queueFullLines, queueFullBytes: a.queueFullBytes + b.queueFullBytes,
            cutLines: a.cutLines + b.cutLines, prunedLines: a.prunedLines + b.prunedLines)
    }

    /// The platform line written into the function's log after lines were refused, e.g.
    /// `swell: 1200 lines (18.8 MB) dropped (log rate limit of the namespace)`; nil when none were.
    public var notice: String? {
        var parts: [String] = []
        if rateLimitedLines > 0 { parts.append("\(rateLimitedLines) lines (\(Self.size(rateLimitedBytes))) dropped (log rate limit of the namespace)") }
        if queueFullLines > 0 { parts.append("\(queueFullLines) lines (\(Self.size(queueFullBytes))) dropped (log writer busy)") }
        if cutLines > 0 { parts.append("\(cutLines) lines cut to the line limit") }
        return parts.isEmpty ? nil : "swell: " + parts.joined(separator: "; ")
    }

    static func size(_ bytes: Int) -> String {
        if bytes >= 1 << 20 { return String(format: "%.1f MB", Double(bytes) / 1_048_576) }
        if bytes >= 1 << 10 { return String(format: "%.1f KB", Double(bytes) / 1024) }
        return "\(bytes) B"
    }
}

/// The newest whole lines of an invocation's output that fit a byte budget (the `Tail` log type).
public struct LogTail: Sendable, Equatable {
    /// Lines kept, oldest first.
    public private(set) var lines: [String] = []
    /// Lines left out (older ones that did not fit), plus a line kept only in part.
    public private(set) var omittedLines = 0
    private var bytes = 0
    public let budget: Int

    public init(budget: Int = Limits.logTailBytes) {
        self.budget = budget
    }

    /// Adds a line (newest last), evicting the oldest lines that no longer fit.
    public mutating func append(_ line: String) {
        let size = line.utf8.count + 1
        lines.append(line)
        bytes += size
        while bytes > budget - Self.noteReserve, lines.count > 1 {
            bytes -= lines.removeFirst().utf8.count + 1
            omittedLines += 1
        }
    }

    /// Room kept for the note saying how many lines were left out.
    static let noteReserve = 120

    /// The text returned to the caller: whole lines, preceded by a note when some were left
    /// out; a single line longer than the budget is kept by its end, after the note.
    public var text: String {
        var kept = lines
        let omitted = omittedLines
        let partial = lastLineCut
        if partial, let only = kept.first {
            var tail = Array(only.utf8.suffix(budget - Self.noteReserve - 1))
            while let first = tail.first, first & 0xC0 == 0x80 { tail.removeFirst() }
            kept = [String(decoding: tail, as: UTF8.self)]
        }
        var out = ""
        if omitted > 0 || partial {
            var note = "swell: log tail cut:"
            if omitted > 0 { note += " \(omitted) earlier line\(omitted == 1 ? "" : "s") left out" }
            if partial { note += "\(omitted > 0 ? ";" : "") the last line shows only its end" }
            out = note + " (swell logs NAME --request-id ID has every stored line)\n"
        }
        for l in kept { out += l + "\n" }
        return out
    }

    /// Whether the only line kept is longer than the budget (and shown by its end).
    var lastLineCut: Bool {
        lines.count == 1 && lines[0].utf8.count + 1 > budget - Self.noteReserve
    }

    /// Whether anything was left out or cut.
    public var isCut: Bool { omittedLines > 0 || lastLineCut }
}

/// One function's log stream: its namespace and name (all versions together).
public struct LogStreamKey: Sendable, Hashable, CustomStringConvertible {
    public var namespace: String
    public var function: String

    public init(namespace: String, function: String) {
        self.namespace = namespace
        self.function = function
    }

    public var description: String { "\(namespace)/\(function)" }
}
