import CSwellSpawn
import Foundation
import NIOPosix
import Synchronization

/// What to start: an executable, its arguments, its whole environment and its limits.
public struct SpawnRequest: Sendable {
    public var executable: String
    public var arguments: [String]
    public var environment: [String: String]
    public var workingDirectory: String?
    public var addressSpaceLimit: Int64 = 0
    public var processLimit: Int64 = 0
    public var openFileLimit: Int64 = 0
    /// Run as this uid/gid (only when Swell runs as root).
    public var uid: Int32 = -1
    public var gid: Int32 = -1
    /// Files the child writes "0" to before it execs, to join cgroups (`tasks` on v1,
    /// `cgroup.procs` on v2: see `Sandbox.joinFile`).
    public var cgroupProcs: [String] = []
    /// A directory the child sees (read-only) as `/opt`, in a mount namespace of its own
    /// (the function's layers; needs root).
    public var optDirectory: String?

    public init(executable: String, arguments: [String], environment: [String: String], workingDirectory: String?) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
    }
}

/// A started child: its pid (also its process group id) and the parent's ends of its pipes.
public struct SpawnedChild: Sendable {
    public var pid: pid_t
    public var stdoutFD: Int32
    public var stderrFD: Int32
    public var stdinFD: Int32
}

/// Errors of process management.
public enum ChildProcessError: Error, CustomStringConvertible {
    case spawnFailed(executable: String, errno: Int32)
    case pipeFailed(errno: Int32)

    public var description: String {
        switch self {
        case .spawnFailed(let exe, let e): "cannot start \(exe): \(String(cString: strerror(e)))"
        case .pipeFailed(let e): "cannot create a pipe: \(String(cString: strerror(e)))"
        }
    }
}

/// Starts child processes and tells their owners when they exit.
///
/// Spawning happens on one long-lived thread, because the children are bound to it with
/// `PR_SET_PDEATHSIG` (they die with Swell even on `kill -9`). One reaper thread waits for
/// every child and reports its exit status to the handler registered for its pid.
public final class ChildProcesses: Sendable {
    public static let shared = ChildProcesses()

    private let spawnThread: NIOThreadPool
    private let state = Mutex<State>(State())
    private let wakeReaper = DispatchSemaphore(value: 0)

    struct State {
        var handlers: [pid_t: @Sendable (Int32) -> Void] = [:]
        /// Exits seen before their handler was registered.
        var early: [pid_t: Int32] = [:]
        var live = 0
    }

    private init() {
        spawnThread = NIOThreadPool(numberOfThreads: 1)
        spawnThread.start()
        let reaper = Thread { [self] in self.reap() }
        reaper.name = "swell-reaper"
        reaper.start()
    }

    /// Starts a process in its own process group with stdout and stderr piped back.
    /// - Parameter onExit: called once, off any actor, with the exit code (negative: killed by that signal).
    public func spawn(_ request: SpawnRequest, stdinPipe: Bool = false, onExit: @escaping @Sendable (Int32) -> Void) async throws -> SpawnedChild {
        try await spawnThread.runIfActive { [self] in
            try self.spawnNow(request, stdinPipe: stdinPipe, onExit: onExit)
        }
    }

    private func spawnNow(_ request: SpawnRequest, stdinPipe: Bool, onExit: @escaping @Sendable (Int32) -> Void) throws -> SpawnedChild {
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        var inp: [Int32] = [-1, -1]
        guard swell_pipe(&out) == 0 else { throw ChildProcessError.pipeFailed(errno: errno) }
        guard swell_pipe(&err) == 0 else {
            close(out[0]); close(out[1])
            throw ChildProcessError.pipeFailed(errno: errno)
        }
        if stdinPipe {
            guard swell_pipe(&inp) == 0 else {
                close(out[0]); close(out[1]); close(err[0]); close(err[1])
                throw ChildProcessError.pipeFailed(errno: errno)
            }
        }
        let argv = ([request.executable] + request.arguments).map { strdup($0) } + [nil]
        let envp = request.environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        let cgroups = request.cgroupProcs.map { strdup($0) } + [nil]
        let optDirectory = request.optDirectory.map { strdup($0) } ?? nil
        defer {
            free(optDirectory)
            argv.forEach { free($0) }
            envp.forEach { free($0) }
            cgroups.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc: Int32 = request.executable.withCString { path in
            cgroups.withUnsafeBufferPointer { cgroupBuf in
            argv.withUnsafeBufferPointer { argvBuf in
                envp.withUnsafeBufferPointer { envBuf in
                    let call = { (cwd: UnsafePointer<CChar>?) -> Int32 in
                        var options = swell_spawn_options(
                            path: path, argv: argvBuf.baseAddress, envp: envBuf.baseAddress, cwd: cwd,
                            stdin_fd: stdinPipe ? inp[0] : -1, stdout_fd: out[1], stderr_fd: err[1],
                            rlimit_as: request.addressSpaceLimit, rlimit_nproc: request.processLimit,
                            rlimit_nofile: request.openFileLimit, rlimit_cpu: 0, uid: request.uid, gid: request.gid,
                            cgroup_procs: request.cgroupProcs.isEmpty ? nil : cgroupBuf.baseAddress, opt_dir: optDirectory)
                        return swell_spawn(&options, &pid)
                    }
                    if let dir = request.workingDirectory { return dir.withCString { call($0) } }
                    return call(nil)
                }
            }
            }
        }
        close(out[1])
        close(err[1])
        if stdinPipe { close(inp[0]) }
        guard rc == 0 else {
            close(out[0]); close(err[0])
            if stdinPipe { close(inp[1]) }
            throw ChildProcessError.spawnFailed(executable: request.executable, errno: rc)
        }
        let early: Int32? = state.withLock { s in
            s.live += 1
            if let status = s.early.removeValue(forKey: pid) {
                s.live -= 1
                return status
            }
            s.handlers[pid] = onExit
            return nil
        }
        wakeReaper.signal()
        if let early { onExit(early) }
        return SpawnedChild(pid: pid, stdoutFD: out[0], stderrFD: err[0], stdinFD: stdinPipe ? inp[1] : -1)
    }

    /// Kills the process group of a child (pgid = its pid).
    public func killGroup(_ pid: pid_t, signal: Int32 = SIGKILL) {
        _ = swell_kill_group(pid, signal)
    }

    private func reap() {
        while true {
            if state.withLock({ $0.live }) == 0 {
                wakeReaper.wait()
                continue
            }
            var status: Int32 = 0
            let pid = swell_wait_any(&status)
            if pid < 0 {
                // No children right now (ECHILD): wait for the next spawn.
                wakeReaper.wait()
                continue
            }
            let code = swell_exit_code(status)
            let handler: (@Sendable (Int32) -> Void)? = state.withLock { s in
                if let h = s.handlers.removeValue(forKey: pid) {
                    s.live -= 1
                    return h
                }
                s.early[pid] = code
                if s.early.count > 1024 { s.early.removeAll() }
                return nil
            }
            handler?(code)
        }
    }
}
