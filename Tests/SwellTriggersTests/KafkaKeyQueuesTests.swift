import SwellKafka
import Testing

@testable import SwellTriggers

/// Per-key queues of one partition (`ordering: key`) as a value: offset order, one batch per
/// key in flight, keyless records free, and the same choices as a rescan of every record.
@Suite struct KafkaKeyQueuesTests {
    func record(_ offset: Int64, _ key: String?) -> KafkaRecord {
        KafkaRecord(offset: offset, timestamp: 0, key: key.map { Array($0.utf8) }, value: [])
    }

    func key(_ k: String) -> [UInt8] { Array(k.utf8) }

    @Test func aBusyKeyWaitsAndTheOthersGoInOffsetOrder() {
        var q = KafkaKeyQueues()
        for (o, k) in [(0, "a"), (1, "a"), (2, "b"), (3, nil), (4, "a"), (5, "c")] as [(Int64, String?)] { q.append(record(o, k)) }
        #expect(q.count == 6 && q.eligible == 6)
        #expect(q.take(1).map(\.offset) == [0])  // a is busy now: 1 and 4 wait
        #expect(q.eligible == 3 && q.busy == [key("a")])
        #expect(q.take(10).map(\.offset) == [2, 3, 5])
        #expect(q.take(10).isEmpty && q.count == 2 && q.eligible == 0)
        q.free(key("a"))
        // A batch may hold several records of one free key, in offset order.
        #expect(q.take(10).map(\.offset) == [1, 4])
        #expect(q.isEmpty)
        // Keyless records are never held back.
        q.append(record(6, nil))
        q.append(record(7, nil))
        #expect(q.take(1).map(\.offset) == [6] && q.take(1).map(\.offset) == [7])
    }

    @Test func freeingAKeyPutsItsRecordsBackInOffsetOrder() {
        var q = KafkaKeyQueues()
        q.append(record(0, "a"))
        #expect(q.take(1).map(\.offset) == [0])
        for (o, k) in [(1, "b"), (2, "a"), (3, "b"), (4, "a")] as [(Int64, String?)] { q.append(record(o, k)) }
        #expect(q.take(1).map(\.offset) == [1])  // b now busy too
        q.free(key("a"))
        q.free(key("b"))
        #expect(q.take(2).map(\.offset) == [2, 3])
        q.free(key("a"))
        q.free(key("a"))  // twice: changes nothing
        q.free(key("b"))
        #expect(q.take(5).map(\.offset) == [4] && q.isEmpty && q.eligible == 0)
    }

    @Test func removeAllKeepsBusyKeysBusy() {
        var q = KafkaKeyQueues()
        for o in 0..<4 { q.append(record(Int64(o), o % 2 == 0 ? "a" : "b")) }
        #expect(q.take(1).map(\.offset) == [0])
        q.removeAll()
        #expect(q.isEmpty && q.eligible == 0 && q.busy == [key("a")])
        q.append(record(10, "a"))
        q.append(record(11, "b"))
        #expect(q.take(5).map(\.offset) == [11])
        q.free(key("a"))
        #expect(q.take(5).map(\.offset) == [10])
    }

    /// Against the rescan it replaces (every record not handed out, in offset order, skipping
    /// busy keys): random appends, takes and frees make the same choices.
    @Test func choosesWhatARescanWouldChoose() {
        var rng = SplitMix(seed: 42)
        var q = KafkaKeyQueues()
        var model: [KafkaRecord] = []
        var busy: Set<[UInt8]> = []
        var inFlight: [[KafkaRecord]] = []
        var next: Int64 = 0
        for _ in 0..<6_000 {
            switch rng.next() % 10 {
            case 0..<5:
                let k = rng.next() % 12
                let r = record(next, k == 0 ? nil : "k\(k)")
                next += 1
                q.append(r)
                model.append(r)
            case 5..<8:
                let n = Int(rng.next() % 4) + 1
                var want: [KafkaRecord] = []
                for r in model where want.count < n && !(r.key.map { busy.contains($0) } ?? false) { want.append(r) }
                let got = q.take(n)
                #expect(got.map(\.offset) == want.map(\.offset))
                let taken = Set(got.map(\.offset))
                model.removeAll { taken.contains($0.offset) }
                for r in got { if let k = r.key { busy.insert(k) } }
                if !got.isEmpty { inFlight.append(got) }
            default:
                guard !inFlight.isEmpty else { continue }
                let batch = inFlight.remove(at: Int(rng.next() % UInt64(inFlight.count)))
                for r in batch { if let k = r.key { busy.remove(k); q.free(k) } }
            }
            #expect(q.count == model.count)
            #expect(q.eligible == model.filter { !($0.key.map { busy.contains($0) } ?? false) }.count)
        }
    }

    @Test func aHotBusyKeyCostsNothingToSkip() {
        // 50,000 records of one busy key ahead of the others: each take goes straight to a free key.
        var q = KafkaKeyQueues()
        q.append(record(0, "hot"))
        #expect(q.take(1).map(\.offset) == [0])
        for o in 1...50_000 { q.append(record(Int64(o), "hot")) }
        for o in 50_001...60_000 { q.append(record(Int64(o), "k\(o)")) }
        var seen = 0
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            while case let got = q.take(1), !got.isEmpty { seen += got.count }
        }
        #expect(seen == 10_000 && q.count == 50_000)
        // A rescan would walk 50,000 records per take (5·10⁸ steps); this is 10,000 heap pops.
        #expect(elapsed < .seconds(5))
    }

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
