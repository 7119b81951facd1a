import Testing

@testable import SwellServer

/// The listener's deadlines and connection cap, as values.
@Suite struct HTTPListenerTests {
    let config = ListenerConfiguration(idleTimeout: .seconds(60), headerTimeout: .seconds(10), bodyTimeout: .seconds(30))

    @Test func anIdleConnectionExpiresAfterTheIdleTimeout() {
        let d = ConnectionDeadlines(config, now: .seconds(0))
        #expect(d.deadline == .seconds(60))
        #expect(d.expired(now: .seconds(59)) == nil)
        #expect(d.expired(now: .seconds(60)) == .idle)
        #expect(!d.busy)
    }

    @Test func aSlowHeadIsCutAtTheHeaderTimeoutWhateverItsBytes() {
        var d = ConnectionDeadlines(config, now: .seconds(0))
        d.bytesReceived(now: .seconds(5))
        #expect(d.deadline == .seconds(15))
        // More bytes of the same head do not extend it (slowloris).
        d.bytesReceived(now: .seconds(14))
        #expect(d.expired(now: .seconds(15)) == .header)
        #expect(!d.busy, "a connection still sending its head may be evicted")
    }

    @Test func aSlowBodyIsCutAtTheBodyTimeout() {
        var d = ConnectionDeadlines(config, now: .seconds(0))
        d.bytesReceived(now: .seconds(1))
        d.headReceived(now: .seconds(2))
        d.bytesReceived(now: .seconds(20))
        #expect(d.busy)
        #expect(d.expired(now: .seconds(31)) == nil)
        #expect(d.expired(now: .seconds(32)) == .body)
    }

    @Test func noDeadlineWhileAnsweringThenIdleAgain() {
        var d = ConnectionDeadlines(config, now: .seconds(0))
        d.bytesReceived(now: .seconds(1))
        d.headReceived(now: .seconds(1))
        d.endReceived(now: .seconds(1))
        #expect(d.deadline == nil && d.expired(now: .seconds(10_000)) == nil && d.busy)
        d.responseEnded(now: .seconds(500))
        #expect(d.phase == .idle && d.deadline == .seconds(560) && !d.busy)
    }

    @Test func aRequestAnsweredBeforeItsBodyEndsIdlesOnceTheBodyIsIn() {
        var d = ConnectionDeadlines(config, now: .seconds(0))
        d.headReceived(now: .seconds(0))
        d.responseEnded(now: .seconds(1))
        #expect(d.phase == .body && d.deadline == .seconds(30), "the body still has its deadline")
        d.endReceived(now: .seconds(2))
        #expect(d.phase == .idle && d.deadline == .seconds(62) && !d.busy)
    }

    @Test func bytesOfTheNextRequestDuringAResponseStartItsHeaderClock() {
        var d = ConnectionDeadlines(config, now: .seconds(0))
        d.bytesReceived(now: .seconds(0))
        d.headReceived(now: .seconds(0))
        d.endReceived(now: .seconds(0))
        d.bytesReceived(now: .seconds(3))
        d.responseEnded(now: .seconds(4))
        #expect(d.phase == .head && d.deadline == .seconds(14))
    }

    @Test func pipelinedRequestsStayBusyUntilTheLastResponse() {
        var d = ConnectionDeadlines(config, now: .seconds(0))
        d.headReceived(now: .seconds(0))
        d.endReceived(now: .seconds(0))
        d.headReceived(now: .seconds(0))
        d.endReceived(now: .seconds(0))
        d.responseEnded(now: .seconds(1))
        #expect(d.busy)
        d.responseEnded(now: .seconds(2))
        #expect(!d.busy && d.deadline == .seconds(62))
    }

    @Test func theCapEvictsTheLongestIdleConnection() {
        var t = ConnectionTable<Int>(limit: 3)
        #expect(t.opened(1) == .accept)
        #expect(t.opened(2) == .accept)
        #expect(t.opened(3) == .accept)
        t.becameBusy(1)
        #expect(t.opened(4) == .acceptEvicting(2))
        #expect(t.count == 3)
        // 1 is busy; 3 has been idle longest now.
        #expect(t.opened(5) == .acceptEvicting(3))
        t.becameIdle(1)
        #expect(t.opened(6) == .acceptEvicting(4))
    }

    @Test func theCapRefusesWhenEveryConnectionIsBusy() {
        var t = ConnectionTable<Int>(limit: 2)
        _ = t.opened(1)
        _ = t.opened(2)
        t.becameBusy(1)
        t.becameBusy(2)
        #expect(t.opened(3) == .refuse)
        #expect(t.count == 2)
        t.closed(2)
        #expect(t.opened(3) == .accept)
    }

    @Test func staleIdleEntriesAreSkippedAndCompacted() {
        var t = ConnectionTable<Int>(limit: 2)
        _ = t.opened(1)
        _ = t.opened(2)
        // Connection 1 serves many requests: each idle period is a new entry; only the newest counts.
        for _ in 0..<10_000 {
            t.becameBusy(1)
            t.becameIdle(1)
        }
        #expect(t.opened(3) == .acceptEvicting(2))
        #expect(t.opened(4) == .acceptEvicting(1))
    }

    @Test func theDefaultCapLeavesDescriptorsForEverythingElse() {
        #expect(ListenerConfiguration.defaultMaxConnections(fileLimit: 1024) == 64)
        #expect(ListenerConfiguration.defaultMaxConnections(fileLimit: 4096) == 1536)
        #expect(ListenerConfiguration.defaultMaxConnections(fileLimit: 1 << 20) == 16_384)
    }
}
