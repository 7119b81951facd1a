import DequeModule
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import SwellModel
import Synchronization

/// A runtime process booted without user code, waiting to become an instance.
///
/// It runs Swell's bootstrap with `SWELL_PREWARM=1`: Node.js or Python has started and
/// loaded the bootstrap, and blocks reading one JSON line on stdin that gives it the
/// function's environment and working directory. Turning it into an instance costs the
/// handler's import time, not the runtime's boot time.
final class PrebootedProcess: Sendable {
    let runtime: RuntimeKind
    let child: SpawnedChild
    let bootedAt: ContinuousClock.Instant
    /// The cgroups it was born in (cgroup v1), which its instance keeps.
    let memoryGroup: PrebootGroup?
    private let exit = Mutex<ExitState>(ExitState())

    struct ExitState {
        var handler: (@Sendable (Int32) -> Void)?
        var code: Int32?
    }

    init(runtime: RuntimeKind, child: SpawnedChild, memoryGroup: PrebootGroup? = nil) {
        self.runtime = runtime
        self.child = child
        self.memoryGroup = memoryGroup
        self.bootedAt = .now
    }

    var hasExited: Bool { exit.withLock { $0.code != nil } }

    /// Called by the reaper. A process that dies without an owner (idle, or discarded) takes
    /// its cgroups with it; an instance's are removed with the instance. The removal runs on
    /// the sandbox's thread, not the reaper's: an `rmdir` waits for the kernel's cgroup lock,
    /// which moves hold for 10–40 ms, and the one reaper reports every child's exit.
    func exited(_ code: Int32) {
        let handler: (@Sendable (Int32) -> Void)? = exit.withLock { s in
            s.code = code
            return s.handler
        }
        if let handler {
            handler(code)
        } else if let memoryGroup {
            Sandbox.moves.submit { _ in memoryGroup.remove() }
        }
    }

    /// Hands the exit notification to a new owner (immediately if it already exited).
    func onExit(_ handler: @escaping @Sendable (Int32) -> Void) {
        let code: Int32? = exit.withLock { s in
            s.handler = handler
            return s.code
        }
        if let code { handler(code) }
    }

    /// Sends the specialization line and closes stdin.
    func specialize(environment: [String: String], workingDirectory: String, uid: Int32? = nil) throws {
        var spec: [String: Any] = ["env": environment, "cwd": workingDirectory]
        if let uid {
            spec["uid"] = Int(uid)
            spec["gid"] = Int(uid)
        }
        let line = try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys]) + Data([0x0A])
        defer { close(child.stdinFD) }
        try line.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(child.stdinFD, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ChildProcessError.pipeFailed(errno: errno)
                }
                offset += n
            }
        }
    }

    /// Kills an unused process and releases its pipes.
    func discard() {
        ChildProcesses.shared.killGroup(child.pid)
        close(child.stdinFD)
        close(child.stdoutFD)
        close(child.stderrFD)
    }
}

/// Keeps booted, generic Node.js and Python processes ready for cold starts.
///
/// The pool refills in the background and sizes itself to the recent cold-start rate:
/// each runtime keeps as many idle processes as it had cold starts in the last
/// `window`, between `minimumIdle` and `maximumIdle`.
///
/// Taking a process does not start its replacement: the cold start that took it calls
/// ``refill()`` once its first invocation has ended (else the periodic pass, within a second,
/// does). A refill forks the server (page tables copied, every page copy-on-write until the
/// exec), then boots Node.js or Python (100–300 ms of CPU); started at the take, that ran on
/// the same two cores as the cold start it was replacing, in the middle of it.
public actor WarmPool: Service {
    /// Sizing of the pool.
    public struct Configuration: Sendable {
        /// Idle processes kept per runtime even when nothing starts.
        public var minimumIdle: Int
        /// Most idle processes per runtime.
        public var maximumIdle: Int
        /// The period over which cold starts are counted.
        public var window: Duration

        public init(minimumIdle: Int = 1, maximumIdle: Int = 16, window: Duration = .seconds(10)) {
            self.minimumIdle = minimumIdle
            self.maximumIdle = maximumIdle
            self.window = window
        }
    }

    public static let runtimes: [RuntimeKind] = [.nodejs20, .python3]

    let runtime: RuntimeConfiguration
    let configuration: Configuration
    let logger: Logger
    /// Whether the processes will run under functions' own uids (for their process limit).
    let switchesUID: Bool
    /// Gives each process cgroups of its own (cgroup v1).
    let sandbox: Sandbox
    private var idle: [RuntimeKind: Deque<PrebootedProcess>] = [:]
    private var booting: [RuntimeKind: Int] = [:]
    private var recentStarts: [RuntimeKind: Deque<ContinuousClock.Instant>] = [:]
    private var running = false
    /// Wakes the refill loop; reachable without entering the actor.
    private let wake = Mutex<AsyncStream<Void>.Continuation?>(nil)

    public init(runtime: RuntimeConfiguration, configuration: Configuration = Configuration(), logger: Logger, sandbox: Sandbox = .rlimitsOnly) {
        self.switchesUID = sandbox.switchesUID
        self.sandbox = sandbox
        self.runtime = runtime
        self.configuration = configuration
        self.logger = logger
    }

    /// Takes an idle process for `kind`, or nil when none is ready (the caller then spawns cold).
    func take(_ kind: RuntimeKind) -> PrebootedProcess? {
        guard Self.runtimes.contains(kind) else { return nil }
        recentStarts[kind, default: []].append(.now)
        while let process = idle[kind]?.popFirst() {
            if !process.hasExited { return process }
        }
        return nil
    }

    /// Asks for a refill pass now (a cold start that took a process has answered).
    nonisolated func refill() {
        _ = wake.withLock { $0?.yield() }
    }

    /// How many idle processes `kind` should have now.
    func target(_ kind: RuntimeKind) -> Int {
        let horizon = ContinuousClock.now - configuration.window
        while let first = recentStarts[kind]?.first, first < horizon { recentStarts[kind]!.removeFirst() }
        let rate = recentStarts[kind]?.count ?? 0
        return min(configuration.maximumIdle, max(configuration.minimumIdle, rate))
    }

    public func run() async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wake.withLock { $0 = continuation }
        running = true
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    // A periodic nudge, so that the pool shrinks back when starts stop.
                    while !Task.isCancelled && !Task.isShuttingDownGracefully {
                        try? await Task.sleep(for: .seconds(1))
                        continuation.yield()
                    }
                    continuation.finish()
                }
                continuation.yield()
                for await _ in stream {
                    await refillPass()
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            continuation.finish()
        }
        running = false
        for (_, processes) in idle { processes.forEach { $0.discard() } }
        idle.removeAll()
    }

    private func refillPass() async {
        for kind in Self.runtimes {
            idle[kind]?.removeAll { $0.hasExited }
            let want = target(kind)
            var have = (idle[kind]?.count ?? 0) + (booting[kind] ?? 0)
            while have < want && running {
                booting[kind, default: 0] += 1
                have += 1
                do {
                    let process = try await boot(kind)
                    idle[kind, default: []].append(process)
                } catch {
                    // Cancelled: the server is stopping (or failed to start); nothing went wrong here.
                    if !(error is CancellationError) {
                        logger.error("cannot pre-boot a runtime process", metadata: ["runtime": "\(kind.rawValue)", "error": "\(error)"])
                    }
                    booting[kind, default: 1] -= 1
                    return
                }
                booting[kind, default: 1] -= 1
            }
            // Shrink slowly: one surplus process per pass.
            if let count = idle[kind]?.count, count > want, let surplus = idle[kind]?.popLast() {
                surplus.discard()
            }
        }
    }

    private func boot(_ kind: RuntimeKind) async throws -> PrebootedProcess {
        var request = InstanceLauncher.prebootRequest(kind, runtime: runtime)
        // The limits of an instance from the start: they carry over the uid switch at specialization.
        Sandbox.limits.apply(to: &request, switchingUID: switchesUID)
        // Born in cgroups of its own: the cold start writes limits instead of waiting for a move (see `Sandbox.prepare`).
        // On the sandbox's thread, not the cooperative pool's: a cgroup mkdir waits for cgroup_mutex,
        // which a move of a specialized process holds while the kernel makes it wait (10–40 ms).
        let sandbox = self.sandbox
        let memoryGroup = try await Sandbox.moves.runIfActive { try sandbox.prebootGroup() }
        request.cgroupProcs = memoryGroup?.joinFiles ?? []
        // The reaper may report an exit before the process object exists: meet under one lock.
        let meeting = Mutex<(process: PrebootedProcess?, code: Int32?)>((nil, nil))
        let child: SpawnedChild
        do {
            child = try await ChildProcesses.shared.spawn(request, stdinPipe: true) { code in
                let process: PrebootedProcess? = meeting.withLock { m in
                    if m.process == nil { m.code = code }
                    return m.process
                }
                process?.exited(code)
            }
        } catch {
            memoryGroup?.remove()
            throw error
        }
        let process = PrebootedProcess(runtime: kind, child: child, memoryGroup: memoryGroup)
        let early: Int32? = meeting.withLock { m in
            m.process = process
            return m.code
        }
        if let early { process.exited(early) }
        return process
    }
}
