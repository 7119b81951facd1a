import CSwellSpawn
import Foundation
import NIOCore
import SwellModel
import SwellScheduler
import Synchronization

/// One running runtime process serving one function version, with its own Runtime API
/// endpoint, mailbox and log pumps.
final class RuntimeInstance: Sendable {
    /// Why Swell killed an instance, so that its death is reported truthfully.
    enum KillReason: Sendable {
        case timeout(requestID: String, seconds: Int)
        case interrupted(requestID: String)
        case stop
        case initTimeout
        case initError(FunctionError)
        /// It could not be moved into its function's cgroups after the hand-over: it must not
        /// run on in Swell's own cpu group (fail closed).
        case unconfined
    }

    struct State {
        var pid: pid_t = 0
        var readyAt: ContinuousClock.Instant?
        var killReason: KillReason?
        var exited = false
        var specializedAt: ContinuousClock.Instant?
        /// Steps of the start, with their time since `spawnedAt` (for the debug log of a cold start).
        var steps: [(String, Duration)] = []
    }

    let id: InstanceID
    let info: InstanceInfo
    let mailbox: InstanceMailbox
    let spawnedAt: ContinuousClock.Instant
    let recent = RecentLines()
    let tempDirectory: String
    private let state = Mutex(State())
    private let endpointBox = Mutex<RuntimeAPIEndpoint?>(nil)
    private let pumps = Mutex<[any Channel]>([])
    private let cgroupBox = Mutex<InstanceCgroup?>(nil)

    init(id: InstanceID, info: InstanceInfo, mailbox: InstanceMailbox, tempDirectory: String) {
        self.id = id
        self.info = info
        self.mailbox = mailbox
        self.tempDirectory = tempDirectory
        self.spawnedAt = .now
    }

    var endpoint: RuntimeAPIEndpoint? {
        get { endpointBox.withLock { $0 } }
        set { endpointBox.withLock { $0 = newValue } }
    }

    /// The instance's cgroups (nil in rlimits mode).
    var cgroup: InstanceCgroup? {
        get { cgroupBox.withLock { $0 } }
        set { cgroupBox.withLock { $0 = newValue } }
    }

    var pid: pid_t {
        get { state.withLock { $0.pid } }
        set { state.withLock { $0.pid = newValue } }
    }

    func addPump(_ channel: any Channel) {
        pumps.withLock { $0.append(channel) }
    }

    /// Marks the instance ready; returns its init duration.
    func markReady() -> Duration {
        let now = ContinuousClock.now
        state.withLock { if $0.readyAt == nil { $0.readyAt = now } }
        return now - spawnedAt
    }

    /// Records when a pre-booted process was handed its function.
    func markSpecialized() {
        let now = ContinuousClock.now
        state.withLock { $0.specializedAt = now }
    }

    /// Records that a step of the start is done (logged at debug level when the instance is ready).
    func step(_ name: String) {
        let now = ContinuousClock.now
        state.withLock { $0.steps.append((name, now - spawnedAt)) }
    }

    /// The steps of the start, "name=µs" each, in order.
    var steps: String {
        state.withLock { s in
            s.steps.map { "\($0.0)=\($0.1.components.seconds * 1_000_000 + $0.1.components.attoseconds / 1_000_000_000_000)us" }
                .joined(separator: " ")
        }
    }

    /// Time from the start of the cold start to the specialization of a pre-booted process.
    var specializedAfter: Duration? {
        state.withLock { s in s.specializedAt.map { $0 - spawnedAt } }
    }

    var initDuration: Duration? {
        state.withLock { s in s.readyAt.map { $0 - spawnedAt } }
    }

    var killReason: KillReason? { state.withLock { $0.killReason } }

    var hasExited: Bool { state.withLock { $0.exited } }

    /// Kills the instance's whole process group (the first reason given is kept).
    func kill(_ reason: KillReason) {
        let pid: pid_t = state.withLock { s in
            if s.killReason == nil { s.killReason = reason }
            return s.exited ? 0 : s.pid
        }
        if pid > 0 { ChildProcesses.shared.killGroup(pid) }
    }

    /// Records the exit; kills any processes the runtime left behind in its group.
    func markExited() {
        let pid: pid_t = state.withLock { s in
            s.exited = true
            return s.pid
        }
        if pid > 0 { ChildProcesses.shared.killGroup(pid) }
    }

    /// Waits (briefly) until the output pipes are drained, so the last lines are captured.
    func drainPumps(within limit: Duration) async {
        let channels = pumps.withLock { $0 }
        let deadline = ContinuousClock.now + limit
        for channel in channels {
            while channel.isActive && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
    }

    /// Releases the endpoint, the private temp directory and the cgroups.
    func cleanUp() {
        endpoint?.close()
        cgroup?.remove()
        for channel in pumps.withLock({ $0 }) { channel.close(promise: nil) }
        // The function's uid owns what is inside: remove without ever following its links.
        try? FileTree.remove((tempDirectory as NSString).deletingLastPathComponent)
    }
}
