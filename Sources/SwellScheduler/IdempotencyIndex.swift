import DequeModule

/// Idempotency keys of the async queue within their window: each key maps to the first task
/// that used it. Entries are kept in arrival order too, so pruning what fell out of the
/// window costs O(1) per expired key (amortised over inserts) instead of a scan of the map.
public struct IdempotencyIndex<Key: Hashable & Sendable>: Sendable {
    struct Entry: Sendable {
        var id: String
        var at: Double
    }

    /// Seconds a key keeps mapping to its first task.
    public let window: Double
    private var entries: [Key: Entry] = [:]
    private var order = Deque<(key: Key, id: String, at: Double)>()

    public init(window: Double) {
        self.window = window
    }

    /// Keys held now.
    public var count: Int { entries.count }

    /// The first task that used `key` within the window before `now`.
    public func lookup(_ key: Key, now: Double) -> String? {
        guard let entry = entries[key], now - entry.at < window else { return nil }
        return entry.id
    }

    /// Records that task `id` used `key` at `at` (seconds; arrivals should be in time order,
    /// as the enqueue path's are: an entry out of order is merely pruned late).
    public mutating func insert(_ key: Key, id: String, at: Double) {
        entries[key] = Entry(id: id, at: at)
        order.append((key, id, at))
    }

    /// Forgets `key` if it still maps to `id` (its task could not be stored).
    public mutating func remove(_ key: Key, id: String) {
        if entries[key]?.id == id { entries.removeValue(forKey: key) }
    }

    /// Drops the keys used `window` or more before `now`.
    public mutating func prune(now: Double) {
        while let first = order.first, now - first.at >= window {
            order.removeFirst()
            if let entry = entries[first.key], entry.id == first.id { entries.removeValue(forKey: first.key) }
        }
        // Entries removed after a failed store leave their arrival record behind until they
        // age out; that is bounded by the window too.
    }
}
