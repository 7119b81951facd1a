import DequeModule
import HeapModule
import SwellKafka

/// The records of one partition not yet handed out, under `ordering: key`: a FIFO queue per
/// key, one for keyless records, and a min-heap of the queues that may go now (keyed by the
/// offset of their first record). Picking the next record is O(log k) for k queues that may
/// go, whatever waits behind busy keys: no rescan of the records held back.
///
/// A batch takes the first `batchSize` records that may go, in offset order: those of keys
/// without a batch in flight, several of one key allowed (in offset order), and keyless ones.
/// Its keys are then busy until ``free(_:)``.
///
/// The heap may hold stale entries (a queue that became busy, or whose head moved): an entry
/// counts only while its queue is not busy and still starts at that offset. Every entry is
/// pushed by an add, a take or a free, so stale ones cost amortised O(log k) each.
struct KafkaKeyQueues: Sendable {
    struct Head: Comparable, Sendable {
        var offset: Int64
        /// nil: the keyless queue.
        var key: [UInt8]?

        static func < (a: Head, b: Head) -> Bool { a.offset < b.offset }
        static func == (a: Head, b: Head) -> Bool { a.offset == b.offset && a.key == b.key }
    }

    private var queues: [[UInt8]: Deque<KafkaRecord>] = [:]
    private var keyless = Deque<KafkaRecord>()
    private(set) var busy: Set<[UInt8]> = []
    private var heads = Heap<Head>()
    /// Records not handed out.
    private(set) var count = 0
    /// Records not handed out whose key is not busy (keyless ones included).
    private(set) var eligible = 0

    var isEmpty: Bool { count == 0 }

    /// Queues a fetched record (records come in offset order).
    mutating func append(_ r: KafkaRecord) {
        count += 1
        guard let key = r.key else {
            if keyless.isEmpty { heads.insert(Head(offset: r.offset, key: nil)) }
            keyless.append(r)
            eligible += 1
            return
        }
        let wasEmpty = queues[key]?.isEmpty ?? true
        queues[key, default: []].append(r)
        guard !busy.contains(key) else { return }
        eligible += 1
        if wasEmpty { heads.insert(Head(offset: r.offset, key: key)) }
    }

    /// Up to `limit` records that may go now, in offset order; their keys become busy.
    mutating func take(_ limit: Int) -> [KafkaRecord] {
        var picked: [KafkaRecord] = []
        var keys: [[UInt8]] = []
        while picked.count < limit, let head = heads.popMin() {
            guard let key = head.key else {
                guard keyless.first?.offset == head.offset else { continue }
                picked.append(keyless.removeFirst())
                if let next = keyless.first { heads.insert(Head(offset: next.offset, key: nil)) }
                count -= 1
                eligible -= 1
                continue
            }
            guard !busy.contains(key), queues[key]?.first?.offset == head.offset else { continue }
            // Moved out and back in, so that the queue is mutated in place, not copied.
            var queue = queues.removeValue(forKey: key)!
            picked.append(queue.removeFirst())
            count -= 1
            eligible -= 1
            if let next = queue.first {
                heads.insert(Head(offset: next.offset, key: key))
                queues[key] = queue
            }
            if keys.last != key { keys.append(key) }
        }
        for key in keys where busy.insert(key).inserted {
            eligible -= queues[key]?.count ?? 0
        }
        return picked
    }

    /// A batch of `key` finished: its queued records may go again.
    mutating func free(_ key: [UInt8]) {
        guard busy.remove(key) != nil, let queue = queues[key], let first = queue.first else { return }
        eligible += queue.count
        heads.insert(Head(offset: first.offset, key: key))
    }

    /// Drops every record not handed out (a revoked or reset partition); busy keys stay busy
    /// until their batches finish.
    mutating func removeAll() {
        queues.removeAll()
        keyless.removeAll()
        heads = Heap()
        count = 0
        eligible = 0
    }
}
