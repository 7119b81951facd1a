import Foundation
import Logging
import SwellModel
import SwellStore
import SwellTasks

/// A cron schedule that enqueues an async task at every fire (or starts an execution of its
/// workflow). The idempotency key is the trigger plus the scheduled time, so a fire handed
/// over twice (a crash between the enqueue and storing the last fire) is one task (one
/// execution: its name derives from the key). Fires missed while the server was down are
/// skipped or fired once, as `missedFires` says; fires due while paused are skipped.
public actor TimerTrigger: TriggerRunner {
    let id: TriggerID
    let config: TriggerConfig
    let timer: TimerTriggerConfig
    let delivery: TriggerDelivery
    let store: any TriggerStorage
    let logger: Logger
    private var paused: Bool
    private var counters = TriggerCounters()
    private var error: (String, Date)?
    private var lastFire: Date?
    private var nextFire: Date?
    private let signal = WakeSignal()

    public init(id: TriggerID, config: TriggerConfig, timer: TimerTriggerConfig, delivery: TriggerDelivery, store: any TriggerStorage, paused: Bool, logger: Logger) {
        self.id = id
        self.config = config
        self.timer = timer
        self.delivery = delivery
        self.store = store
        self.paused = paused
        self.logger = logger
    }

    public func run() async {
        let cron: CronExpression
        let zone: TimeZone
        do {
            (cron, zone) = try timer.compiled(path: "triggers.\(id.name)")
        } catch {
            self.error = (error.description, Date())
            return
        }
        let payload: Data
        do {
            payload = try JSONEncoder().encode(timer.payload)
        } catch {
            self.error = ("the payload cannot be encoded: \(error)", Date())
            return
        }
        lastFire = try? await store.lastFire(id.description)
        if let last = lastFire, !paused, timer.missedFires == .once,
            let missed = cron.previous(before: Date().addingTimeInterval(0.001), in: zone), missed > last
        {
            await fire(at: missed, payload: payload)
        }
        while !Task.isCancelled {
            if paused {
                nextFire = nil
                await sleepUntilWoken(for: .seconds(3600))
                continue
            }
            let now = Date()
            guard let next = cron.next(after: max(now, lastFire ?? now), in: zone) else {
                error = ("the schedule never fires again", now)
                nextFire = nil
                await sleepUntilWoken(for: .seconds(3600))
                continue
            }
            nextFire = next
            let wait = next.timeIntervalSince(now)
            if wait > 0 {
                await sleepUntilWoken(for: .milliseconds(Int64(wait * 1000)))
                if paused || Task.isCancelled || Date() < next { continue }
            }
            await fire(at: next, payload: payload)
        }
    }

    private func fire(at scheduled: Date, payload: Data) async {
        // Every node runs this timer: the one that claims the due time fires it (the others
        // move on to the next one). A claim that cannot be made is not a fire.
        let previous = lastFire
        do {
            guard try await store.claimFire(id.description, scheduled) else {
                lastFire = scheduled
                return
            }
        } catch {
            self.error = ("the fire of \(scheduled.formatted(.iso8601)) could not be claimed: \(error)", Date())
            logger.warning("timer fire not claimed", metadata: ["trigger": "\(id)", "error": "\(error)"])
            lastFire = scheduled
            return
        }
        counters.events += 1
        let stamp = scheduled.formatted(.iso8601)
        var attempt = 0
        var enqueued = false
        while !Task.isCancelled {
            do {
                _ = try await delivery.deliver(id, qualifier: config.qualifier, event: payload, idempotencyKey: "timer:\(id.name)@\(stamp)")
                counters.invocations += 1
                error = nil
                enqueued = true
                break
            } catch {
                // An unknown qualifier or a closed queue: say so, retry with backoff while it may heal.
                self.error = ("the fire of \(stamp) could not be enqueued: \(error.message)", Date())
                logger.warning("timer fire not enqueued", metadata: ["trigger": "\(id)", "error": "\(error.message)"])
                attempt += 1
                if attempt >= 5 { break }
                try? await Task.sleep(for: .milliseconds(200 << attempt))
            }
        }
        lastFire = scheduled
        // A fire that never reached the queue is given back, so `missedFires: once` catches it up after a restart.
        guard !enqueued, let previous else { return }
        do {
            try await store.setLastFire(id.description, previous)
        } catch {
            self.error = ("the last fire could not be stored: \(error)", Date())
        }
    }

    private func sleepUntilWoken(for duration: Duration) async {
        await signal.wait(for: duration)
    }

    private func wakeUp() {
        signal.wake()
    }

    public func setPaused(_ paused: Bool) {
        self.paused = paused
        wakeUp()
    }

    public func status() -> TriggerStatus {
        var s = TriggerStatus(id: id, config: config, state: paused ? .paused : (error == nil ? .running : .failing), counters: counters)
        s.error = error?.0
        s.errorAt = error?.1
        s.timer = TimerTriggerStatus(lastFire: lastFire, nextFire: paused ? nil : nextFire)
        return s
    }
}
