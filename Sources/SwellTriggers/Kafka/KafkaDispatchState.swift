import DequeModule
import SwellKafka
import SwellModel

/// A topic and one of its partitions.
public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (a: TopicPartition, b: TopicPartition) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }

    public var description: String { "\(topic)/\(partition)" }
}

/// Records of one partition handed to the function in one invocation, in offset order.
public struct KafkaBatch: Sendable, Hashable {
    public var id: Int
    public var source: TopicPartition
    public var records: [KafkaRecord]
}

/// The Kafka trigger's decisions as a value: which fetched records may run now (given the
/// concurrency, the ordering mode and the batching window), and how far each partition's
/// offset may be committed (up to the lowest record not yet done, never past it).
///
/// The runner feeds it fetched records (`add`), asks for batches (`nextBatch`) while it has
/// invocation slots, reports each batch done (`finish`, after success or dead-lettering) and
/// commits what `commitPoints` returns. Retries happen inside a batch's own invocation loop,
/// so a failing batch keeps its keys (or its partition) busy and its offsets uncommitted.
public struct KafkaDispatchState: Sendable {
    struct Entry: Sendable {
        var offset: Int64
        var done: Bool
    }

    struct Partition: Sendable {
        /// The next offset to fetch.
        var position: Int64
        /// The last offset committed (the next record the group would read), if any.
        var committed: Int64?
        /// Every fetched record not yet done, in offset order (done ones are dropped from the front).
        var entries = Deque<Entry>()
        /// Fetched records not yet handed out, in offset order (orderings `none` and `partition`).
        var ready = Deque<KafkaRecord>()
        /// Fetched records not yet handed out, per key (ordering `key`), and the keys with a batch in flight.
        var keyed = KafkaKeyQueues()
        /// When the oldest ready record arrived (for the batching window).
        var readySince: Double = 0
        /// A batch of this partition is in flight (ordering `partition`).
        var busy = false
        var highWatermark: Int64 = -1
        /// Revoked by a group rebalance: nothing more is fetched or handed out; batches in
        /// flight may still finish (and be committed) until ``unassign(_:)``.
        var revoked = false

        var pendingCount: Int { ready.count + keyed.count }
    }

    public let ordering: KafkaOrdering
    public let batchSize: Int
    public let maxWait: Double

    private(set) var partitions: [TopicPartition: Partition] = [:]
    private var order: [TopicPartition] = []
    private var cursor = 0
    private var inFlight: [Int: KafkaBatch] = [:]
    private var nextID = 1

    public init(ordering: KafkaOrdering, batchSize: Int, maxWait: Double) {
        self.ordering = ordering
        self.batchSize = max(1, batchSize)
        self.maxWait = max(0, maxWait)
    }

    // MARK: Partitions

    /// Starts (or restarts) reading `source` at `position`; records buffered for it are dropped
    /// (they will be fetched again), batches in flight for it still finish.
    public mutating func assign(_ source: TopicPartition, position: Int64, committed: Int64?) {
        if partitions[source] == nil {
            order.append(source)
            order.sort()
        }
        var p = Partition(position: position, committed: committed)
        if let old = partitions[source] {
            // Offsets in flight below the new position stay tracked so that a commit never
            // passes them; those at or above it belong to a log that was rewound.
            let running = Set(inFlight.values.filter { $0.source == source }.flatMap { $0.records.map(\.offset) })
            p.entries = old.entries.filter { !$0.done && running.contains($0.offset) && $0.offset < position }
            p.busy = old.busy
            // Keys of batches still in flight stay busy until they finish.
            p.keyed = old.keyed
            p.keyed.removeAll()
            p.highWatermark = old.highWatermark
        }
        partitions[source] = p
    }

    public var assigned: [TopicPartition] { order }

    public func position(_ source: TopicPartition) -> Int64? { partitions[source]?.position }

    /// Partitions to fetch and where: those whose records not yet done number fewer than `window`.
    public func fetchPositions(window: Int) -> [TopicPartition: Int64] {
        var result: [TopicPartition: Int64] = [:]
        for (tp, p) in partitions where p.entries.count < window && !p.revoked { result[tp] = p.position }
        return result
    }

    /// Whether ``fetchPositions(window:)`` would return any partition.
    public func hasRoom(window: Int) -> Bool {
        partitions.values.contains { $0.entries.count < window && !$0.revoked }
    }

    // MARK: Rebalances

    /// Stops `source`: records fetched and not handed out are dropped (the next owner reads
    /// them again), nothing more is fetched or handed out; batches in flight may still finish.
    /// Their offsets stay tracked, so a commit never passes a record not done.
    public mutating func revoke(_ source: TopicPartition) {
        guard var p = partitions.removeValue(forKey: source) else { return }
        defer { partitions[source] = p }
        p.revoked = true
        p.ready.removeAll()
        p.keyed.removeAll()
    }

    /// Whether `source` is assigned and not revoked.
    public func isReading(_ source: TopicPartition) -> Bool {
        partitions[source].map { !$0.revoked } ?? false
    }

    /// The ids of the batches of `source` in flight.
    public func inFlight(of source: TopicPartition) -> [Int] {
        inFlight.values.filter { $0.source == source }.map(\.id).sorted()
    }

    /// Forgets `source` (after its last commit): its batches still in flight are abandoned (their
    /// `finish` changes nothing) and their keys freed. Returns the abandoned batches' ids.
    @discardableResult
    public mutating func unassign(_ source: TopicPartition) -> [Int] {
        let abandoned = inFlight(of: source)
        for id in abandoned { inFlight.removeValue(forKey: id) }
        // Its busy keys go with it.
        partitions[source] = nil
        order.removeAll { $0 == source }
        if !order.isEmpty { cursor %= order.count } else { cursor = 0 }
        return abandoned
    }

    /// Takes fetched records of `source`; `nextOffset` is where the next fetch starts. Records
    /// before the partition's position (a fetch that raced a reset) are ignored.
    public mutating func add(_ source: TopicPartition, records: [KafkaRecord], nextOffset: Int64, highWatermark: Int64, now: Double) {
        // Moved out and back in, so that the buffers are mutated in place, not copied.
        guard partitions[source].map({ !$0.revoked }) == true, var p = partitions.removeValue(forKey: source) else { return }
        defer { partitions[source] = p }
        if highWatermark >= 0 { p.highWatermark = highWatermark }
        for r in records where r.offset >= p.position {
            p.entries.append(Entry(offset: r.offset, done: false))
            if p.pendingCount == 0 { p.readySince = now }
            if ordering == .key { p.keyed.append(r) } else { p.ready.append(r) }
            p.position = r.offset + 1
        }
        if nextOffset > p.position { p.position = nextOffset }
    }

    /// Records a partition's high watermark learnt outside a fetch (while paused); it never moves back.
    public mutating func observe(_ source: TopicPartition, highWatermark: Int64) {
        guard let p = partitions[source], highWatermark > p.highWatermark else { return }
        partitions[source]!.highWatermark = highWatermark
    }

    // MARK: Dispatch

    /// Records fetched and not yet done, across partitions.
    public var outstanding: Int { partitions.values.reduce(0) { $0 + $1.entries.count } }

    /// Records fetched and not yet handed out.
    public var readyCount: Int { partitions.values.reduce(0) { $0 + $1.pendingCount } }

    public var inFlightCount: Int { inFlight.count }

    /// The next batch that may run now, or nil. Partitions take turns.
    public mutating func nextBatch(now: Double) -> KafkaBatch? {
        guard !order.isEmpty else { return nil }
        for step in 0..<order.count {
            let tp = order[(cursor + step) % order.count]
            guard let records = take(from: tp, now: now) else { continue }
            cursor = (cursor + step + 1) % order.count
            let batch = KafkaBatch(id: nextID, source: tp, records: records)
            nextID += 1
            inFlight[batch.id] = batch
            return batch
        }
        return nil
    }

    /// When a batch held back by the batching window becomes due (nil: none is waiting).
    public func wakeAt() -> Double? {
        guard batchSize > 1, maxWait > 0 else { return nil }
        var earliest: Double?
        for p in partitions.values where p.pendingCount > 0 && !(ordering == .partition && p.busy) {
            let due = p.readySince + maxWait
            earliest = min(earliest ?? due, due)
        }
        return earliest
    }

    private mutating func take(from tp: TopicPartition, now: Double) -> [KafkaRecord]? {
        // The check holds no copy of the partition past this line, or the move below would copy the buffers.
        let ordering = self.ordering
        guard partitions[tp].map({ !$0.revoked && $0.pendingCount > 0 && !(ordering == .partition && $0.busy) }) == true else { return nil }
        var p = partitions.removeValue(forKey: tp)!
        defer { partitions[tp] = p }
        let windowOpen = p.pendingCount < batchSize && now - p.readySince < maxWait
        var picked: [KafkaRecord] = []
        switch ordering {
        case .none, .partition:
            if windowOpen { return nil }
            let n = min(batchSize, p.ready.count)
            picked = Array(p.ready.prefix(n))
            p.ready.removeFirst(n)
            if ordering == .partition { p.busy = true }
        case .key:
            // Records whose key has a batch in flight wait; everything else may go, in offset
            // order (KafkaKeyQueues: no rescan of the records held back).
            let eligible = p.keyed.eligible
            guard eligible > 0 else { return nil }
            if windowOpen && eligible < batchSize { return nil }
            picked = p.keyed.take(batchSize)
            guard !picked.isEmpty else { return nil }
        }
        if p.pendingCount > 0 { p.readySince = now }
        return picked
    }

    /// Marks a batch done (it succeeded, or its records went to the dead-letter topic): its
    /// keys or partition are free again and its offsets may be committed past.
    public mutating func finish(_ batchID: Int) {
        guard let batch = inFlight.removeValue(forKey: batchID) else { return }
        guard var p = partitions.removeValue(forKey: batch.source) else { return }
        defer { partitions[batch.source] = p }
        if ordering == .partition { p.busy = false }
        if ordering == .key { for r in batch.records { if let key = r.key { p.keyed.free(key) } } }
        for r in batch.records {
            if let i = Self.index(of: r.offset, in: p.entries) { p.entries[i].done = true }
        }
        while let first = p.entries.first, first.done { p.entries.removeFirst() }
    }

    static func index(of offset: Int64, in entries: Deque<Entry>) -> Int? {
        var lo = 0
        var hi = entries.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            let o = entries[mid].offset
            if o == offset { return mid }
            if o < offset { lo = mid + 1 } else { hi = mid - 1 }
        }
        return nil
    }

    // MARK: Commits

    /// The offset each partition may commit: the lowest record fetched and not yet done, or
    /// the fetch position when every fetched record is done. Only partitions that moved past
    /// their last commit are listed.
    public func commitPoints() -> [TopicPartition: Int64] {
        var result: [TopicPartition: Int64] = [:]
        for (tp, p) in partitions {
            let point = p.entries.first?.offset ?? p.position
            if point > (p.committed ?? -1) { result[tp] = point }
        }
        return result
    }

    public mutating func committed(_ offsets: [TopicPartition: Int64]) {
        for (tp, o) in offsets {
            guard let p = partitions[tp] else { continue }
            partitions[tp]!.committed = max(p.committed ?? -1, o)
        }
    }

    /// Per partition: position, last commit, high watermark, records not yet done.
    public func partitionStatus() -> [(source: TopicPartition, position: Int64, committed: Int64?, highWatermark: Int64, outstanding: Int)] {
        order.compactMap { tp in
            guard let p = partitions[tp] else { return nil }
            return (tp, p.position, p.committed, p.highWatermark, p.entries.count)
        }
    }
}
