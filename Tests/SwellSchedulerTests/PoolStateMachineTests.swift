import SwellScheduler
import Testing

@Suite struct PoolStateMachineTests {
    func machine(concurrency: Int = 1, minInstances: Int = 0, maxInstances: Int = 10, keepAlive: Duration = .seconds(60), queueWait: Duration = .seconds(10), queueLength: Int = 100) -> PoolStateMachine {
        PoolStateMachine(configuration: PoolConfiguration(
            concurrency: concurrency, minInstances: minInstances, maxInstances: maxInstances, keepAlive: keepAlive,
            maxQueueWait: queueWait, maxQueueLength: queueLength))
    }

    @Test func firstRequestStartsAnInstanceAndWaitsForIt() {
        var m = machine()
        #expect(m.requestArrived(1, now: .zero) == [.startInstance(1)])
        #expect(m.queuedCount == 1)
        #expect(m.instanceReady(1, now: .milliseconds(50)) == [.route(1, to: 1, coldStart: true)])
        #expect(m.queuedCount == 0)
        #expect(m.inFlightCount == 1)
    }

    @Test func warmInstanceIsReusedWithoutAColdStart() {
        var m = machine()
        _ = m.requestArrived(1, now: .zero)
        _ = m.instanceReady(1, now: .zero)
        #expect(m.requestFinished(1, on: 1, now: .seconds(1)) == [])
        #expect(m.requestArrived(2, now: .seconds(2)) == [.route(2, to: 1, coldStart: false)])
        #expect(m.liveInstanceCount == 1)
    }

    @Test func concurrencySharesOneInstance() {
        var m = machine(concurrency: 4)
        #expect(m.requestArrived(1, now: .zero) == [.startInstance(1)])
        // Three more fit in the starting instance's slots: no second instance.
        for t: UInt64 in 2...4 { #expect(m.requestArrived(t, now: .zero) == []) }
        #expect(m.requestArrived(5, now: .zero) == [.startInstance(2)])
        let routed = m.instanceReady(1, now: .zero)
        #expect(routed == [1, 2, 3, 4].map { PoolAction.route($0, to: 1, coldStart: true) })
        #expect(m.instanceReady(2, now: .zero) == [.route(5, to: 2, coldStart: true)])
    }

    @Test func packsOntoTheBusiestInstanceWithAFreeSlot() {
        var m = machine(concurrency: 2)
        _ = m.requestArrived(1, now: .zero)
        _ = m.requestArrived(2, now: .zero)
        _ = m.requestArrived(3, now: .zero)
        _ = m.instanceReady(1, now: .zero)
        _ = m.instanceReady(2, now: .zero)
        // instance 1 holds 2 (full), instance 2 holds 1.
        _ = m.requestFinished(1, on: 1, now: .zero)
        // both have one free slot and one busy: tie goes to the lower id
        #expect(m.requestArrived(4, now: .zero) == [.route(4, to: 1, coldStart: false)])
        #expect(m.requestArrived(5, now: .zero) == [.route(5, to: 2, coldStart: false)])
    }

    @Test func maxInstancesCapsScaleOutAndQueuedRequestsTimeOut() {
        var m = machine(maxInstances: 1, queueWait: .seconds(2))
        #expect(m.requestArrived(1, now: .zero) == [.startInstance(1)])
        #expect(m.requestArrived(2, now: .zero) == [])
        _ = m.instanceReady(1, now: .zero)
        #expect(m.tick(now: .seconds(1)) == [])
        #expect(m.tick(now: .seconds(2)) == [.reject(2, .queueTimeout)])
    }

    @Test func fullQueueRejectsAtOnce() {
        var m = machine(maxInstances: 1, queueLength: 2)
        _ = m.requestArrived(1, now: .zero)
        _ = m.requestArrived(2, now: .zero)
        #expect(m.requestArrived(3, now: .zero) == [.reject(3, .queueFull)])
    }

    @Test func idleInstancesStopAfterKeepAlive() {
        var m = machine(keepAlive: .seconds(60))
        _ = m.requestArrived(1, now: .zero)
        _ = m.instanceReady(1, now: .zero)
        _ = m.requestFinished(1, on: 1, now: .seconds(10))
        #expect(m.tick(now: .seconds(69)) == [])
        #expect(m.tick(now: .seconds(70)) == [.stopInstance(1)])
        // A stopping instance takes no requests: a new one starts.
        #expect(m.requestArrived(2, now: .seconds(71)) == [.startInstance(2)])
        #expect(m.instanceExited(1, now: .seconds(71)) == [])
        #expect(m.liveInstanceCount == 1)
    }

    @Test func busyInstancesAreNeverStoppedForIdleness() {
        var m = machine(keepAlive: .seconds(1))
        _ = m.requestArrived(1, now: .zero)
        _ = m.instanceReady(1, now: .zero)
        #expect(m.tick(now: .seconds(100)) == [])
    }

    @Test func deadInstanceIsReplacedWhenRequestsWait() {
        var m = machine(maxInstances: 1)
        _ = m.requestArrived(1, now: .zero)
        _ = m.instanceReady(1, now: .zero)
        #expect(m.requestArrived(2, now: .zero) == [])
        #expect(m.instanceExited(1, now: .seconds(1)) == [.startInstance(2)])
        #expect(m.instanceReady(2, now: .seconds(1)) == [.route(2, to: 2, coldStart: true)])
    }

    @Test func deadInstanceWithNothingWaitingIsNotReplaced() {
        var m = machine()
        _ = m.requestArrived(1, now: .zero)
        _ = m.instanceReady(1, now: .zero)
        _ = m.requestFinished(1, on: 1, now: .zero)
        #expect(m.instanceExited(1, now: .zero) == [])
        #expect(m.liveInstanceCount == 0)
    }

    @Test func startFailureRejectsTheRequestsWaitingForIt() {
        var m = machine(concurrency: 2)
        _ = m.requestArrived(1, now: .zero)
        _ = m.requestArrived(2, now: .zero)
        #expect(m.instanceStartFailed(1, now: .zero) == [.reject(1, .startFailed), .reject(2, .startFailed)])
        #expect(m.queuedCount == 0)
        #expect(m.liveInstanceCount == 0)
    }

    @Test func startFailureKeepsWaitersWhenOtherCapacityIsComing() {
        var m = machine(concurrency: 1)
        _ = m.requestArrived(1, now: .zero)
        _ = m.requestArrived(2, now: .zero)  // starts instance 2
        #expect(m.instanceStartFailed(1, now: .zero) == [.startInstance(3)])
        #expect(m.instanceReady(2, now: .zero) == [.route(1, to: 2, coldStart: true)])
    }

    @Test func cancelledWaiterLeavesTheQueue() {
        var m = machine(maxInstances: 1)
        _ = m.requestArrived(1, now: .zero)
        _ = m.requestArrived(2, now: .zero)
        m.requestCancelled(1)
        #expect(m.instanceReady(1, now: .zero) == [.route(2, to: 1, coldStart: true)])
    }

    @Test func drainRejectsWaitersAndStopsIdleInstancesThenBusyOnesWhenDone() {
        var m = machine(concurrency: 1, maxInstances: 2)
        _ = m.requestArrived(1, now: .zero)
        _ = m.requestArrived(2, now: .zero)
        _ = m.instanceReady(1, now: .zero)  // 1 runs on instance 1; instance 2 still starting
        _ = m.requestArrived(3, now: .zero)  // queued (instance 2 will take 2, 3 waits)
        let actions = m.drain()
        #expect(actions.contains(.reject(2, .shuttingDown)))
        #expect(actions.contains(.reject(3, .shuttingDown)))
        #expect(actions.contains(.stopInstance(2)))
        #expect(!actions.contains(.stopInstance(1)))
        #expect(m.requestFinished(1, on: 1, now: .zero) == [.stopInstance(1)])
        #expect(m.requestArrived(4, now: .zero) == [.reject(4, .shuttingDown)])
    }

    @Test func burstStartsOnlyWhatTheQueueNeeds() {
        var m = machine(concurrency: 8, maxInstances: 100)
        var starts = 0
        for t: UInt64 in 1...100 {
            starts += m.requestArrived(t, now: .zero).filter { if case .startInstance = $0 { true } else { false } }.count
        }
        // 100 requests at 8 per instance need 13 instances.
        #expect(starts == 13)
    }

    // MARK: Provisioned and scheduled minimum

    @Test func minInstancesAreStartedOnTheFirstTickAndNeverStoppedForIdleness() {
        var m = machine(minInstances: 2, keepAlive: .seconds(5))
        #expect(m.tick(now: .zero) == [.startInstance(1), .startInstance(2)])
        _ = m.instanceReady(1, now: .zero)
        _ = m.instanceReady(2, now: .zero)
        #expect(m.tick(now: .seconds(100)) == [])
        #expect(m.liveInstanceCount == 2)
    }

    @Test func keepAliveStopsOnlyWhatIsAboveTheMinimumLongestIdleFirst() {
        var m = machine(minInstances: 1, keepAlive: .seconds(5))
        _ = m.tick(now: .zero)  // instance 1 (provisioned)
        _ = m.instanceReady(1, now: .zero)
        _ = m.requestArrived(1, now: .zero)  // on 1
        _ = m.requestArrived(2, now: .zero)  // starts 2
        _ = m.instanceReady(2, now: .zero)
        _ = m.requestFinished(1, on: 1, now: .seconds(1))
        _ = m.requestFinished(2, on: 2, now: .seconds(2))
        // Both idle past the keep-alive; instance 1 has been idle longer and goes; one stays.
        #expect(m.tick(now: .seconds(10)) == [.stopInstance(1)])
        #expect(m.tick(now: .seconds(20)) == [])
    }

    @Test func deadProvisionedInstanceIsReplaced() {
        var m = machine(minInstances: 1)
        _ = m.tick(now: .zero)
        _ = m.instanceReady(1, now: .zero)
        #expect(m.instanceExited(1, now: .seconds(1)) == [.startInstance(2)])
    }

    @Test func scheduledWindowRaisesAndThenReleasesTheMinimum() {
        var m = machine(maxInstances: 3, keepAlive: .seconds(5))
        #expect(m.setScheduledMinimum(5, now: .zero) == [.startInstance(1), .startInstance(2), .startInstance(3)])  // capped by max
        for id: InstanceID in 1...3 { _ = m.instanceReady(id, now: .zero) }
        #expect(m.tick(now: .seconds(60)) == [])
        #expect(m.setScheduledMinimum(0, now: .seconds(60)) == [])
        #expect(m.tick(now: .seconds(61)).count == 3)
    }

    @Test func reconfigureAppliesANewMinimum() {
        var m = machine()
        #expect(m.reconfigure(PoolConfiguration(minInstances: 1), now: .zero) == [.startInstance(1)])
        #expect(m.configuration.minInstances == 1)
    }

    // MARK: Node capacity and eviction

    @Test func deniedStartKeepsRequestsWaitingAndTheNextTickRetries() {
        var m = machine(queueWait: .seconds(10))
        #expect(m.requestArrived(1, now: .zero) == [.startInstance(1)])
        m.instanceStartDenied(1)
        #expect(m.queuedCount == 1)
        #expect(m.liveInstanceCount == 0)
        #expect(m.tick(now: .seconds(1)) == [.startInstance(2)])
        #expect(m.instanceReady(2, now: .seconds(1)) == [.route(1, to: 2, coldStart: true)])
    }

    @Test func evictionStopsOnlyIdleInstancesAboveTheMinimum() {
        var m = machine(minInstances: 1)
        _ = m.tick(now: .zero)
        _ = m.instanceReady(1, now: .zero)
        #expect(m.evict(1) == [])  // the minimum is kept
        _ = m.requestArrived(1, now: .zero)  // busy on 1
        _ = m.requestArrived(2, now: .zero)  // starts 2
        _ = m.instanceReady(2, now: .zero)
        #expect(m.evict(1) == [])  // busy
        _ = m.requestFinished(2, on: 2, now: .zero)
        #expect(m.evict(2) == [.stopInstance(2)])
    }

    // MARK: Work classes

    @Test func latencyWorkIsServedBeforeOfflineWorkThatWaitedLonger() {
        var m = machine(concurrency: 1, maxInstances: 1)
        _ = m.requestArrived(1, now: .zero)
        _ = m.instanceReady(1, now: .zero)  // 1 runs
        _ = m.requestArrived(2, class: .offline, now: .zero)
        _ = m.requestArrived(3, class: .offline, now: .zero)
        _ = m.requestArrived(4, class: .latency, now: .seconds(1))
        #expect(m.queuedLatencyCount == 1)
        #expect(m.requestFinished(1, on: 1, now: .seconds(1)) == [.route(4, to: 1, coldStart: false)])
        #expect(m.requestFinished(4, on: 1, now: .seconds(1)) == [.route(2, to: 1, coldStart: false)])
    }

    @Test func offlineWorkTimesOutOfTheQueueLikeLatencyWork() {
        var m = machine(maxInstances: 1, queueWait: .seconds(2))
        _ = m.requestArrived(1, now: .zero)
        _ = m.instanceReady(1, now: .zero)
        _ = m.requestArrived(2, class: .offline, now: .zero)
        #expect(m.tick(now: .seconds(2)) == [.reject(2, .queueTimeout)])
    }
}

@Suite struct NodeCapacityTests {
    let a = NodeCapacity.Holder(pool: 1, instance: 1)
    let b = NodeCapacity.Holder(pool: 1, instance: 2)
    let c = NodeCapacity.Holder(pool: 2, instance: 1)

    @Test func grantsWithinTheBudget() {
        var n = NodeCapacity(memoryBudgetMB: 1024, namespaceMaxInstances: 10)
        #expect(n.reserve(a, namespace: "x", memoryMB: 512, now: .zero) == .granted(evict: []))
        #expect(n.reservedMB == 512)
        n.release(a)
        #expect(n.reservedMB == 0)
        #expect(n.instanceCount == 0)
    }

    @Test func namespaceQuotaIsPerNamespace() {
        var n = NodeCapacity(memoryBudgetMB: 10_000, namespaceMaxInstances: 1)
        #expect(n.reserve(a, namespace: "x", memoryMB: 128, now: .zero) == .granted(evict: []))
        #expect(n.reserve(b, namespace: "x", memoryMB: 128, now: .zero) == .denied(.namespaceQuota(limit: 1)))
        #expect(n.reserve(c, namespace: "y", memoryMB: 128, now: .zero) == .granted(evict: []))
    }

    @Test func evictsTheLeastRecentlyUsedIdleInstancesUntilItFits() {
        var n = NodeCapacity(memoryBudgetMB: 1024, namespaceMaxInstances: 10)
        _ = n.reserve(a, namespace: "x", memoryMB: 512, now: .seconds(1))
        _ = n.reserve(b, namespace: "x", memoryMB: 512, now: .seconds(2))
        n.markBusy(a, now: .seconds(3))
        n.markIdle(a, now: .seconds(4))  // a used more recently than b
        #expect(n.reserve(c, namespace: "y", memoryMB: 512, now: .seconds(5)) == .granted(evict: [b]))
        #expect(n.reservedMB == 1024)
    }

    @Test func busyInstancesAreNeverEvictedAndTheStartIsDenied() {
        var n = NodeCapacity(memoryBudgetMB: 1024, namespaceMaxInstances: 10)
        _ = n.reserve(a, namespace: "x", memoryMB: 1024, now: .zero)
        n.markBusy(a, now: .zero)
        #expect(n.reserve(c, namespace: "y", memoryMB: 128, now: .zero) == .denied(.memory(neededMB: 128, freeMB: 0)))
        #expect(n.reservedMB == 1024)
    }

    @Test func restorePutsBackARefusedEviction() {
        var n = NodeCapacity(memoryBudgetMB: 512, namespaceMaxInstances: 10)
        _ = n.reserve(a, namespace: "x", memoryMB: 512, now: .zero)
        #expect(n.reserve(c, namespace: "y", memoryMB: 512, now: .zero) == .granted(evict: [a]))
        n.restore(a, namespace: "x", memoryMB: 512, now: .zero)
        #expect(n.reservedMB == 1024)
        #expect(n.instances(in: "x") == 1)
    }
}

extension PoolStateMachineTests {
    // MARK: Timers as outputs

    @Test func aWaitingRequestAsksForItsQueueTimeout() {
        var m = machine(queueWait: .seconds(10))
        #expect(m.takeTimerRequest() == nil)
        _ = m.requestArrived(1, now: .seconds(1))
        #expect(m.takeTimerRequest() == .seconds(11))
        #expect(m.takeTimerRequest() == nil)  // asked once
        // A later waiter does not ask for a later timer: the armed one comes first.
        _ = m.requestArrived(2, now: .seconds(2))
        #expect(m.takeTimerRequest() == nil)
        // The timer fires: request 1 is rejected and the next due instant (request 2's) is asked for.
        #expect(m.tick(now: .seconds(11)) == [.reject(1, .queueTimeout)])
        #expect(m.takeTimerRequest() == .seconds(12))
        #expect(m.tick(now: .seconds(12)) == [.reject(2, .queueTimeout)])
        #expect(m.takeTimerRequest() == nil)
        #expect(m.nextTimer == nil)
    }

    @Test func anIdleInstanceAsksForItsKeepAliveAndABusyPoolForNothing() {
        var m = machine(keepAlive: .seconds(60))
        _ = m.requestArrived(1, now: .zero)
        #expect(m.takeTimerRequest() == .seconds(10))
        _ = m.instanceReady(1, now: .seconds(1))
        #expect(m.requestFinished(1, on: 1, now: .seconds(5)) == [])
        // The queue timer (10 s) comes first; when it fires, the keep-alive (idle from 5 s) is asked for.
        #expect(m.takeTimerRequest() == nil)
        #expect(m.tick(now: .seconds(10)) == [])
        #expect(m.takeTimerRequest() == .seconds(65))
        // Busy again and idle again later: when the armed timer fires, the next one is asked for.
        #expect(m.requestArrived(2, now: .seconds(30)) == [.route(2, to: 1, coldStart: false)])
        #expect(m.requestFinished(2, on: 1, now: .seconds(40)) == [])
        #expect(m.takeTimerRequest() == nil)
        #expect(m.tick(now: .seconds(65)) == [])
        #expect(m.takeTimerRequest() == .seconds(100))
        #expect(m.tick(now: .seconds(100)) == [.stopInstance(1)])
        #expect(m.takeTimerRequest() == nil)
    }

    @Test func instancesKeptForTheMinimumAskForNoKeepAlive() {
        var m = machine(minInstances: 1, keepAlive: .seconds(60))
        #expect(m.tick(now: .zero) == [.startInstance(1)])
        _ = m.instanceReady(1, now: .seconds(1))
        #expect(m.takeTimerRequest() == nil)
        _ = m.requestArrived(1, now: .seconds(2))
        _ = m.requestFinished(1, on: 1, now: .seconds(3))
        #expect(m.takeTimerRequest() == nil)
    }

    @Test func aDeniedStartIsRetriedASecondLater() {
        var m = machine(queueWait: .seconds(10))
        #expect(m.requestArrived(1, now: .zero) == [.startInstance(1)])
        #expect(m.takeTimerRequest() == .seconds(10))
        m.instanceStartDenied(1, now: .seconds(0.5))
        #expect(m.takeTimerRequest() == .seconds(1.5))
        // The retry tick starts a new instance.
        #expect(m.tick(now: .seconds(1.5)) == [.startInstance(2)])
        #expect(m.takeTimerRequest() == .seconds(10))
    }

    @Test func aStaleEarlyTimerDoesNotMultiplyTimers() {
        var m = machine(keepAlive: .seconds(60))
        _ = m.requestArrived(1, now: .zero)
        _ = m.instanceReady(1, now: .zero)
        _ = m.requestFinished(1, on: 1, now: .zero)
        _ = m.takeTimerRequest()  // 10 s (queue), then keep-alive at 60 s is later
        // The queue timer (armed for 10 s) fires: the keep-alive is asked for once.
        _ = m.tick(now: .seconds(10))
        #expect(m.takeTimerRequest() == .seconds(60))
        // An older timer firing again before 60 s asks for nothing new.
        _ = m.tick(now: .seconds(20))
        #expect(m.takeTimerRequest() == nil)
    }
}
