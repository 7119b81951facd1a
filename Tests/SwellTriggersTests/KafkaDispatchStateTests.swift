import SwellKafka
import SwellModel
import Testing

@testable import SwellTriggers

@Suite struct KafkaDispatchStateTests {
    let tp0 = TopicPartition("homework", 0)
    let tp1 = TopicPartition("homework", 1)

    func record(_ offset: Int64, key: String?) -> KafkaRecord {
        KafkaRecord(offset: offset, timestamp: 0, key: key.map { Array($0.utf8) }, value: Array("v\(offset)".utf8))
    }

    func drain(_ s: inout KafkaDispatchState, now: Double = 0, limit: Int = 1000) -> [KafkaBatch] {
        var out: [KafkaBatch] = []
        while out.count < limit, let b = s.nextBatch(now: now) { out.append(b) }
        return out
    }

    @Test func commitNeverPassesARecordNotDone() {
        var s = KafkaDispatchState(ordering: .none, batchSize: 1, maxWait: 0)
        s.assign(tp0, position: 10, committed: 10)
        s.add(tp0, records: (10..<15).map { record($0, key: nil) }, nextOffset: 15, highWatermark: 15, now: 0)
        let batches = drain(&s)
        #expect(batches.map { $0.records[0].offset } == [10, 11, 12, 13, 14])
        #expect(s.commitPoints().isEmpty)  // 10 is not done: nothing moves
        s.finish(batches[1].id)
        s.finish(batches[2].id)
        #expect(s.commitPoints().isEmpty)  // 11 and 12 done, 10 still running
        s.finish(batches[0].id)
        #expect(s.commitPoints() == [tp0: 13])
        s.committed([tp0: 13])
        #expect(s.commitPoints().isEmpty)
        s.finish(batches[4].id)
        s.finish(batches[3].id)
        #expect(s.commitPoints() == [tp0: 15])
    }

    @Test func commitPointFollowsTheFetchPositionOverGaps() {
        var s = KafkaDispatchState(ordering: .none, batchSize: 1, maxWait: 0)
        s.assign(tp0, position: 0, committed: nil)
        // Offsets 1 and 3 are transaction markers or compacted away; the fetch ends at 6.
        s.add(tp0, records: [record(0, key: nil), record(2, key: nil), record(4, key: nil)], nextOffset: 6, highWatermark: 6, now: 0)
        for b in drain(&s) { s.finish(b.id) }
        #expect(s.commitPoints() == [tp0: 6])
    }

    @Test func perKeyOrderOneBatchPerKeyInFlight() {
        var s = KafkaDispatchState(ordering: .key, batchSize: 1, maxWait: 0)
        s.assign(tp0, position: 0, committed: nil)
        let keys = ["a", "b", "a", "c", "b", "a"]
        s.add(tp0, records: keys.enumerated().map { record(Int64($0.offset), key: $0.element) }, nextOffset: 6, highWatermark: 6, now: 0)
        var first = drain(&s)
        #expect(first.map { $0.records[0].offset } == [0, 1, 3])  // a, b, c; the second a and b wait
        s.finish(first[0].id)  // a@0 done
        let next = drain(&s)
        #expect(next.map { $0.records[0].offset } == [2])  // a@2; b@4 still waits for b@1
        first.append(contentsOf: next)
        s.finish(first[1].id)  // b@1 done
        #expect(drain(&s).map { $0.records[0].offset } == [4])
    }

    @Test func keylessRecordsAreUnorderedUnderKeyOrdering() {
        var s = KafkaDispatchState(ordering: .key, batchSize: 1, maxWait: 0)
        s.assign(tp0, position: 0, committed: nil)
        s.add(tp0, records: (0..<4).map { record($0, key: nil) }, nextOffset: 4, highWatermark: 4, now: 0)
        #expect(drain(&s).count == 4)
    }

    @Test func partitionOrderingRunsOneBatchPerPartition() {
        var s = KafkaDispatchState(ordering: .partition, batchSize: 2, maxWait: 0)
        s.assign(tp0, position: 0, committed: nil)
        s.assign(tp1, position: 0, committed: nil)
        s.add(tp0, records: (0..<5).map { record($0, key: "k\($0)") }, nextOffset: 5, highWatermark: 5, now: 0)
        s.add(tp1, records: (0..<1).map { record($0, key: nil) }, nextOffset: 1, highWatermark: 1, now: 0)
        let batches = drain(&s)
        #expect(batches.count == 2)
        #expect(Set(batches.map(\.source)) == [tp0, tp1])
        let b0 = batches.first { $0.source == tp0 }!
        #expect(b0.records.map(\.offset) == [0, 1])
        #expect(drain(&s).isEmpty)
        s.finish(b0.id)
        #expect(drain(&s).map { $0.records.map(\.offset) } == [[2, 3]])
    }

    @Test func batchingWindowHoldsASmallBatchUntilDue() {
        var s = KafkaDispatchState(ordering: .none, batchSize: 10, maxWait: 0.05)
        s.assign(tp0, position: 0, committed: nil)
        s.add(tp0, records: (0..<3).map { record($0, key: nil) }, nextOffset: 3, highWatermark: 3, now: 100)
        #expect(s.nextBatch(now: 100.01) == nil)
        #expect(s.wakeAt() == 100.05)
        let b = s.nextBatch(now: 100.06)
        #expect(b?.records.count == 3)
        // A full batch goes at once.
        s.add(tp0, records: (3..<13).map { record($0, key: nil) }, nextOffset: 13, highWatermark: 13, now: 200)
        #expect(s.nextBatch(now: 200)?.records.count == 10)
    }

    @Test func keyBatchesTakeEveryFreeKeyInOffsetOrder() {
        var s = KafkaDispatchState(ordering: .key, batchSize: 3, maxWait: 0)
        s.assign(tp0, position: 0, committed: nil)
        let keys = ["a", "a", "b", "c", "d"]
        s.add(tp0, records: keys.enumerated().map { record(Int64($0.offset), key: $0.element) }, nextOffset: 5, highWatermark: 5, now: 0)
        let b1 = s.nextBatch(now: 0)!
        #expect(b1.records.map(\.offset) == [0, 1, 2])  // both a's in order in one batch, then b
        let b2 = s.nextBatch(now: 0)!
        #expect(b2.records.map(\.offset) == [3, 4])
        #expect(s.nextBatch(now: 0) == nil)
    }

    @Test func fetchPositionsStopAtTheWindow() {
        var s = KafkaDispatchState(ordering: .none, batchSize: 1, maxWait: 0)
        s.assign(tp0, position: 0, committed: nil)
        s.assign(tp1, position: 7, committed: 7)
        s.add(tp0, records: (0..<4).map { record($0, key: nil) }, nextOffset: 4, highWatermark: 4, now: 0)
        #expect(s.fetchPositions(window: 4) == [tp1: 7])
        #expect(s.fetchPositions(window: 5) == [tp0: 4, tp1: 7])
        #expect(s.outstanding == 4)
    }

    @Test func roomOpensOnlyWhenTheOldestRecordIsDone() {
        var s = KafkaDispatchState(ordering: .none, batchSize: 1, maxWait: 0)
        s.assign(tp0, position: 0, committed: nil)
        s.add(tp0, records: (0..<3).map { record($0, key: nil) }, nextOffset: 3, highWatermark: 3, now: 0)
        #expect(!s.hasRoom(window: 3))
        let b0 = s.nextBatch(now: 0)!, b1 = s.nextBatch(now: 0)!
        s.finish(b1.id)  // a later record done: the window still holds 0, 1 (done), 2
        #expect(!s.hasRoom(window: 3) && s.fetchPositions(window: 3).isEmpty)
        s.finish(b0.id)  // 0 and 1 leave the window
        #expect(s.hasRoom(window: 3) && s.fetchPositions(window: 3) == [tp0: 3])
        s.revoke(tp0)
        #expect(!s.hasRoom(window: 3))
    }

    @Test func recordsBeforeThePositionAreIgnored() {
        var s = KafkaDispatchState(ordering: .none, batchSize: 1, maxWait: 0)
        s.assign(tp0, position: 5, committed: 5)
        s.add(tp0, records: (3..<7).map { record($0, key: nil) }, nextOffset: 7, highWatermark: 7, now: 0)
        #expect(drain(&s).map { $0.records[0].offset } == [5, 6])
    }
}

@Suite struct KafkaDispatchStateResetTests {
    let tp = TopicPartition("t", 0)

    func record(_ offset: Int64) -> KafkaRecord {
        KafkaRecord(offset: offset, timestamp: 0, key: nil, value: [1])
    }

    @Test func aRewoundLogDoesNotKeepOldOffsetsInTheWay() {
        var s = KafkaDispatchState(ordering: .none, batchSize: 1, maxWait: 0)
        s.assign(tp, position: 100, committed: 100)
        s.add(tp, records: [record(100), record(101)], nextOffset: 102, highWatermark: 102, now: 0)
        let running = s.nextBatch(now: 0)!
        // The broker lost its log: read again from 0.
        s.assign(tp, position: 0, committed: nil)
        s.add(tp, records: [record(0), record(1)], nextOffset: 2, highWatermark: 2, now: 0)
        var batches: [KafkaBatch] = []
        while let b = s.nextBatch(now: 0) { batches.append(b) }
        #expect(batches.map { $0.records[0].offset } == [0, 1])
        for b in batches { s.finish(b.id) }
        s.finish(running.id)
        #expect(s.commitPoints() == [tp: 2])
    }

    @Test func aResetKeepsInFlightOffsetsBelowTheNewPosition() {
        var s = KafkaDispatchState(ordering: .none, batchSize: 1, maxWait: 0)
        s.assign(tp, position: 0, committed: nil)
        s.add(tp, records: [record(0), record(1)], nextOffset: 2, highWatermark: 2, now: 0)
        let first = s.nextBatch(now: 0)!
        s.assign(tp, position: 5, committed: nil)
        #expect(s.commitPoints() == [:] || s.commitPoints()[tp] == 0)
        s.finish(first.id)
        #expect(s.commitPoints() == [tp: 5])
    }

}

extension KafkaDispatchStateTests {
    // MARK: Rebalances

    @Test func aRevokedPartitionHandsOutNothingMoreAndItsCommitStaysBelowRunningWork() {
        var s = KafkaDispatchState(ordering: .none, batchSize: 1, maxWait: 0)
        s.assign(tp0, position: 0, committed: nil)
        s.assign(tp1, position: 0, committed: nil)
        s.add(tp0, records: (0..<4).map { record($0, key: nil) }, nextOffset: 4, highWatermark: 4, now: 0)
        let running = [s.nextBatch(now: 0)!, s.nextBatch(now: 0)!]  // tp0/0 and tp1 has nothing: tp0/1
        #expect(running.map { $0.records[0].offset } == [0, 1])
        #expect(s.isReading(tp0))
        s.revoke(tp0)
        #expect(!s.isReading(tp0) && s.isReading(tp1))
        #expect(s.nextBatch(now: 0) == nil)  // 2 and 3 were fetched, not handed out: dropped
        #expect(s.fetchPositions(window: 100)[tp0] == nil && s.fetchPositions(window: 100)[tp1] == 0)
        s.add(tp0, records: [record(4, key: nil)], nextOffset: 5, highWatermark: 5, now: 0)  // a fetch that raced the revoke
        #expect(s.readyCount == 0)
        #expect(s.inFlight(of: tp0) == running.map(\.id).sorted())
        s.finish(running[1].id)
        #expect(s.commitPoints()[tp0] == 0)  // 0 still running: nothing passes it
        s.finish(running[0].id)
        #expect(s.commitPoints()[tp0] == 2)  // never past 2, which was not done
        s.unassign(tp0)
        #expect(s.assigned == [tp1] && s.commitPoints()[tp0] == nil && !s.isReading(tp0))
    }

    @Test func unassignAbandonsBatchesInFlightAndFreesTheirKeys() {
        var s = KafkaDispatchState(ordering: .key, batchSize: 1, maxWait: 0)
        s.assign(tp0, position: 0, committed: nil)
        s.add(tp0, records: [record(0, key: "a"), record(1, key: "a")], nextOffset: 2, highWatermark: 2, now: 0)
        let b = s.nextBatch(now: 0)!
        #expect(s.nextBatch(now: 0) == nil)  // key a is busy
        s.revoke(tp0)
        #expect(s.unassign(tp0) == [b.id])
        s.finish(b.id)  // the abandoned batch ends later: nothing changes
        #expect(s.inFlightCount == 0 && s.outstanding == 0)
        // Assigned again (the next generation gave it back): read from the committed offset, key a free.
        s.assign(tp0, position: 0, committed: nil)
        s.add(tp0, records: [record(0, key: "a"), record(1, key: "a")], nextOffset: 2, highWatermark: 2, now: 0)
        let again = s.nextBatch(now: 0)!
        #expect(again.records[0].offset == 0)
    }

    @Test func aResetKeepsTheKeysOfBatchesInFlightBusy() {
        // ordering key: a batch of key a runs while the partition is reset (an out-of-range
        // restart); the records of a fetched again wait for it, the others go.
        var s = KafkaDispatchState(ordering: .key, batchSize: 1, maxWait: 0)
        s.assign(tp0, position: 0, committed: nil)
        s.add(tp0, records: [record(0, key: "a"), record(1, key: "a"), record(2, key: "b")], nextOffset: 3, highWatermark: 3, now: 0)
        let a = s.nextBatch(now: 0)!
        #expect(a.records.map(\.offset) == [0])
        s.assign(tp0, position: 1, committed: nil)
        #expect(s.readyCount == 0)  // what was buffered is fetched again
        s.add(tp0, records: [record(1, key: "a"), record(2, key: "b")], nextOffset: 3, highWatermark: 3, now: 0)
        #expect(s.nextBatch(now: 0)?.records.map(\.offset) == [2])
        #expect(s.nextBatch(now: 0) == nil)  // a still busy
        s.finish(a.id)
        #expect(s.nextBatch(now: 0)?.records.map(\.offset) == [1])
    }

    @Test func keyOrderingRunsAsManyKeysAsTheCallerAsksAndNeverTwoOfOneKey() {
        // The trigger asks for batches while it has slots (its concurrency); every batch is of
        // keys without one in flight, in offset order across partitions taking turns.
        var s = KafkaDispatchState(ordering: .key, batchSize: 2, maxWait: 0)
        s.assign(tp0, position: 0, committed: nil)
        s.assign(tp1, position: 0, committed: nil)
        s.add(tp0, records: (0..<6).map { record($0, key: "k\($0 % 3)") }, nextOffset: 6, highWatermark: 6, now: 0)
        s.add(tp1, records: (0..<2).map { record($0, key: "k0") }, nextOffset: 2, highWatermark: 2, now: 0)
        let b1 = s.nextBatch(now: 0)!, b2 = s.nextBatch(now: 0)!, b3 = s.nextBatch(now: 0)!
        #expect(b1.source == tp0 && b1.records.map(\.offset) == [0, 1])  // k0, k1
        #expect(b2.source == tp1 && b2.records.map(\.offset) == [0, 1])  // tp1's k0 is another slot than tp0's
        // k2 twice (a batch may hold several records of a free key); 3 and 4 wait for k0 and k1.
        #expect(b3.source == tp0 && b3.records.map(\.offset) == [2, 5])
        #expect(s.nextBatch(now: 0) == nil && s.inFlightCount == 3 && s.readyCount == 2)
        s.finish(b3.id)
        #expect(s.nextBatch(now: 0) == nil)  // k2 free changes nothing for k0 and k1
        s.finish(b1.id)
        #expect(s.nextBatch(now: 0)?.records.map(\.offset) == [3, 4])
        #expect(s.readyCount == 0)
    }
}
