import Foundation
import Logging
import Synchronization
import Testing

@testable import SwellStore

@Suite struct GroupCommitWriterTests {
    struct Refused: Error {}

    /// Records every batch `apply` gets; fails those that hold `poison`.
    final class Sink: Sendable {
        let batches = Mutex<[[Int]]>([])
        let poison: Int?
        init(poison: Int? = nil) { self.poison = poison }

        func apply(_ writes: [Int]) throws {
            batches.withLock { $0.append(writes) }
            if let poison, writes.contains(poison) { throw Refused() }
        }

        var all: [Int] { batches.withLock { $0.flatMap { $0 } } }
    }

    func writer(_ sink: Sink, trailing: Duration? = nil) -> GroupCommitWriter<Int> {
        GroupCommitWriter(name: "test journal", trailingInterval: trailing, logger: Logger(label: "test")) { try sink.apply($0) }
    }

    @Test func commitsAreDurableInQueueOrderAndShareTransactions() async throws {
        let sink = Sink()
        let w = writer(sink)
        defer { w.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 { group.addTask { try await w.commit([i]) } }
            try await group.waitForAll()
        }
        #expect(Set(sink.all) == Set(0..<200))
        #expect(sink.all.count == 200)
        // Queued while the writer was busy: fewer transactions than commits.
        let stats = w.stats
        #expect(stats.writes == 200 && stats.commits == sink.batches.withLock { $0.count } && stats.commits <= 200)
        #expect(stats.failures == 0)
        // Appends trail, a commit after them waits for them too (what is on disk is a prefix of what was queued).
        w.append([1000, 1001])
        try await w.commit([1002])
        #expect(Array(sink.all.suffix(3)) == [1000, 1001, 1002])
    }

    @Test func aFailedTransactionFailsItsWaiters() async throws {
        let sink = Sink(poison: 7)
        let w = writer(sink)
        defer { w.close() }
        await #expect(throws: Refused.self) { try await w.commit([7]) }
        try await w.commit([8])
        #expect(w.stats.failures == 1)
    }

    @Test func closeAppliesWhatIsQueuedAndRefusesLaterWrites() async throws {
        let sink = Sink()
        let w = writer(sink, trailing: .milliseconds(50))
        w.append([1])
        try await w.flush()
        w.append([2])  // lingers (a trailing write right after another): close still applies it
        w.close()
        #expect(sink.all == [1, 2])
        await #expect(throws: CancellationError.self) { try await w.commit([3]) }
        w.close()  // a second close returns at once
        #expect(sink.all == [1, 2])
    }

    @Test func aCommitCutsTheLingerShort() async throws {
        let sink = Sink()
        let w = writer(sink, trailing: .seconds(5))
        defer { w.close() }
        w.append([1])
        try await w.flush()
        w.append([2])
        let started = ContinuousClock.now
        try await w.commit([3])
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(sink.all == [1, 2, 3])
    }
}
