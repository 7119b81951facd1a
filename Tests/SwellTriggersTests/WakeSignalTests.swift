import Foundation
import Testing

@testable import SwellTriggers

@Suite struct WakeSignalTests {
    @Test func aWakeEndsTheWaitEarly() async {
        let signal = WakeSignal()
        let start = ContinuousClock.now
        let waker = Task {
            try? await Task.sleep(for: .milliseconds(50))
            signal.wake()
        }
        await signal.wait(for: .seconds(30))
        #expect(ContinuousClock.now - start < .seconds(10))
        await waker.value
    }

    @Test func aWakeBeforeTheWaitIsNotLost() async {
        let signal = WakeSignal()
        signal.wake()
        let start = ContinuousClock.now
        await signal.wait(for: .seconds(30))
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func theWaitEndsAfterItsDuration() async {
        let signal = WakeSignal()
        let start = ContinuousClock.now
        await signal.wait(for: .milliseconds(50))
        #expect(ContinuousClock.now - start >= .milliseconds(50))
    }

    @Test func cancellationEndsTheWait() async {
        let signal = WakeSignal()
        let start = ContinuousClock.now
        let waiter = Task { await signal.wait(for: .seconds(30)) }
        try? await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await waiter.value
        #expect(ContinuousClock.now - start < .seconds(10))
    }
}
