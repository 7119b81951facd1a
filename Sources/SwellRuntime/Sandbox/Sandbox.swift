import Foundation
import Logging
import NIOPosix
import SwellModel
import Synchronization

/// How instances are confined on this node, decided once at start-up.
///
/// - cgroup v2 or v1 (whichever is writable): a group per function (equal CPU weight per
///   function, so one function's spinning instances cannot starve another function) and a
///   group per instance below it (memory limit = the function's memory, CPU share
///   proportional to memory, a pids limit). An instance that hits its memory limit is killed
///   by the kernel and its invocations fail with `OutOfMemory`.
/// - rlimits only, when no cgroup hierarchy is writable: open files and processes are
///   limited, Node.js's heap is capped by `--max-old-space-size`, and CPU is not shared fairly.
///   A log line at start-up says which mode is in force, and why.
///
/// When Swell runs as root, every function runs under an unprivileged uid (and gid) of its
/// own, allocated once per function and stored (`identities`), so functions cannot read each
/// other's code or temp directories or signal each other's processes.
///
/// Every instance, spawned cold or pre-booted, gets the same rlimits (`limits`).
public final class Sandbox: Sendable {
    public enum Mode: Sendable, Equatable {
        case cgroupV2(base: String)
        case cgroupV1(memory: String, cpu: String, pids: String)
        case rlimits(reason: String)

        public var name: String {
            switch self {
            case .cgroupV2: "cgroup-v2"
            case .cgroupV1: "cgroup-v1"
            case .rlimits: "rlimits"
            }
        }
    }

    public let mode: Mode
    /// Whether functions run under uids of their own (Swell is root).
    public let switchesUID: Bool
    /// The uid of every function (loaded at start, extended at deploy).
    public let identities: FunctionIdentities
    /// Processes (threads included) one instance may hold.
    public static let pidsLimit = 1024
    /// The rlimits of every instance.
    public static let limits = InstanceLimits(openFiles: 4096, processes: Int64(pidsLimit))

    public init(mode: Mode, switchesUID: Bool, identities: FunctionIdentities = FunctionIdentities()) {
        self.mode = mode
        self.switchesUID = switchesUID
        self.identities = identities
    }

    /// No confinement beyond rlimits, no uid switch (for tests and non-root development).
    public static let rlimitsOnly = Sandbox(mode: .rlimits(reason: "disabled"), switchesUID: false)

    /// Finds a writable cgroup hierarchy below this process's own groups and creates
    /// `swell-PID` in it; logs the mode chosen.
    public static func detect(logger: Logger, identities: FunctionIdentities = FunctionIdentities()) -> Sandbox {
        let root = geteuid() == 0
        let mode = detectMode()
        switch mode {
        case .cgroupV1(let memory, let cpu, let pids):
            logger.notice("sandbox: cgroup v1 (memory, cpu, pids)", metadata: ["memory": "\(memory)", "cpu": "\(cpu)", "pids": "\(pids)"])
        case .cgroupV2(let base):
            logger.notice("sandbox: cgroup v2 (memory, cpu, pids)", metadata: ["base": "\(base)"])
        case .rlimits(let reason):
            logger.warning("sandbox: rlimits only; memory is capped by the runtime's heap limit and CPU is not shared fairly", metadata: ["reason": "\(reason)"])
        }
        if !root { logger.notice("sandbox: not running as root; functions run under Swell's own uid") }
        return Sandbox(mode: mode, switchesUID: root, identities: identities)
    }

    /// The uid (and gid) a function runs as, or nil when Swell is not root. Throws when the
    /// function has no uid (never run a function as root, nor under a guessed uid).
    public func uid(for key: FunctionKey) throws(IdentityError) -> Int32? {
        guard switchesUID else { return nil }
        guard let uid = identities.uid(namespace: key.namespace, name: key.name) else {
            throw .unassigned(namespace: key.namespace, name: key.name)
        }
        return Int32(bitPattern: uid)
    }

    /// Creates an instance's private temp directory `.../NAME/tmp`: both levels new (never an
    /// existing directory), owned by the function's uid, mode 0700.
    public func createTempDirectory(_ path: String, uid: Int32?) throws {
        let parent = (path as NSString).deletingLastPathComponent
        for dir in [parent, path] {
            guard Foundation.mkdir(dir, 0o700) == 0 else { throw FileTree.Failure("mkdir", dir, errno: errno) }
            let fd = try FileTree.openDirectory(dir)
            defer { close(fd) }
            if let uid { guard fchown(fd, uid_t(bitPattern: uid), gid_t(bitPattern: uid)) == 0 else { throw FileTree.Failure("chown", dir, errno: errno) } }
            guard fchmod(fd, 0o700) == 0 else { throw FileTree.Failure("chmod", dir, errno: errno) }
        }
    }

    /// Creates the groups of one instance and applies its limits.
    ///
    /// `prebooted` are the groups a pre-booted process was born in (cgroup v1). Moving a live
    /// process between cgroups costs its first write 10–40 ms on this machine (the kernel waits
    /// for an RCU grace period to take its thread-group lock for writing; measured on a 6.18
    /// kernel under load), so a cold start must not wait for one: the instance keeps the memory
    /// and pids groups it was born in (their limits are just written), and joins its function's
    /// cpu group, made then, after the hand-over (`adopt`, off the request's path). Until then it runs in
    /// Swell's own cpu group, where it booted; children it forks before the move stay there.
    /// - Returns: nil in rlimits mode.
    func prepare(instance: String, function key: FunctionKey, memoryMB: Int, prebooted: PrebootGroup? = nil) throws -> InstanceCgroup? {
        let fn = Self.slug(key)
        switch mode {
        case .rlimits:
            return nil
        case .cgroupV1(let memory, let cpu, let pids):
            if let prebooted {
                // Only the limits are written before the hand-over (file writes, no cgroup_mutex;
                // pids.max is the pre-boot group's already). The cpu group is made by `adopt`, on
                // the sandbox's thread: a cgroup mkdir takes cgroup_mutex, which a move elsewhere on
                // the node holds for as long as it waits for the kernel (10–40 ms).
                try Self.limitMemoryV1(prebooted.memoryDirectory, memoryMB: memoryMB)
                return InstanceCgroup(
                    version: 1, directories: [prebooted.memoryDirectory, "\(cpu)/\(fn)/\(instance)", prebooted.pidsDirectory],
                    memoryDirectory: prebooted.memoryDirectory, joined: prebooted.directories,
                    cpuGroupToMake: .init(base: cpu, function: fn, instance: instance, shares: Self.cpuShare(memoryMB: memoryMB)))
            }
            let m = try Self.makeGroup(memory, fn, instance)
            // A process joining after its boot brings its pages' charge along.
            try? Self.write("\(m)/memory.move_charge_at_immigrate", "3")
            let p = try Self.makeGroup(pids, fn, instance)
            let c = try Self.makeGroup(cpu, fn, instance)
            try Self.limitMemoryV1(m, memoryMB: memoryMB)
            try Self.write("\(c)/cpu.shares", String(Self.cpuShare(memoryMB: memoryMB)))
            try Self.write("\(p)/pids.max", String(Self.pidsLimit))
            return InstanceCgroup(version: 1, directories: [m, c, p], memoryDirectory: m)
        case .cgroupV2(let base):
            let dir = try Self.makeGroup(base, fn, instance) { functionGroup in
                try? Self.write("\(functionGroup)/cgroup.subtree_control", "+memory +cpu +pids")
            }
            try Self.write("\(dir)/memory.max", String(Int64(memoryMB) * 1024 * 1024))
            try? Self.write("\(dir)/memory.swap.max", "0")
            try Self.write("\(dir)/cpu.weight", String(max(1, min(10_000, Self.cpuShare(memoryMB: memoryMB) * 100 / 1024))))
            try Self.write("\(dir)/pids.max", String(Self.pidsLimit))
            return InstanceCgroup(version: 2, directories: [dir], memoryDirectory: dir)
        }
    }

    /// Groups for a pre-booted process, made before any function is known (cgroup v1 only; nil
    /// otherwise): memory limited to `prebootMemoryMB` until its function's limit replaces it,
    /// and the instance pids limit. The process joins them from the child before exec, while it
    /// boots, so no cold start pays the join.
    ///
    /// No cpu group: a booting process stays in Swell's own cpu group, as a cold-spawned one
    /// does. Booted in a cpu group under Swell's (`swell-PID/prebooted/pN`), the warm pool's
    /// refills took their CPU from the same share as the node's running instances; with three
    /// nodes on two loaded cores (test_cluster's 5,000 tasks) instances sat runnable for
    /// seconds with almost no CPU, timed out, were replaced by more cold starts, which made
    /// the warm pool boot more: a spiral of init timeouts and retried tasks.
    func prebootGroup() throws -> PrebootGroup? {
        guard case .cgroupV1(let memory, _, let pids) = mode else { return nil }
        let name = "p\(Self.prebootCounter.add(1, ordering: .relaxed).newValue)"
        var made: [String] = []
        do {
            for base in [memory, pids] { made.append(try Self.makeGroup(base, "prebooted", name)) }
            try Self.limitMemoryV1(made[0], memoryMB: Self.prebootMemoryMB)
            try Self.write("\(made[1])/pids.max", String(Self.pidsLimit))
        } catch {
            for dir in made { rmdir(dir) }
            throw error
        }
        return PrebootGroup(memoryDirectory: made[0], pidsDirectory: made[1])
    }

    /// The thread that moves running processes between cgroups (and removes the groups of
    /// pre-booted processes that died idle). A move can wait 10–40 ms for the kernel; on a
    /// thread of its own it never holds up the shared pool's file and store work, and moves
    /// gain nothing from more threads (the kernel serializes them under one lock).
    static let moves: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    /// The file through which a child joins `directory` from its own side, writing "0" after
    /// fork and before exec.
    ///
    /// On cgroup v1 that is `tasks`, not `cgroup.procs`: a task that moves *itself* through
    /// `tasks` does not take the kernel's thread-group lock for writing
    /// (`cgroup_procs_write_start`: pid 0 and not a whole thread group), so it does not wait
    /// for an RCU grace period, which costs the first `cgroup.procs` write of a burst 5–40 ms
    /// on this machine (`tasks`: 0.15–0.2 ms) and holds `cgroup_mutex`, and with it every other
    /// cgroup mkdir, rmdir and move of the node, for as long. The child is single-threaded
    /// between fork and exec, so moving its one thread moves the process; what it execs, and
    /// every thread it starts, inherits the groups. v2 has no such file for processes
    /// (`cgroup.threads` needs threaded groups), so there it stays `cgroup.procs`.
    static func joinFile(_ directory: String, version: Int) -> String {
        version == 1 ? "\(directory)/tasks" : "\(directory)/cgroup.procs"
    }

    /// The memory limit of a pre-booted process before specialization.
    static let prebootMemoryMB = 256
    private static let prebootCounter = Atomic<Int>(0)

    /// CPU proportional to memory, as Lambda does (1769 MB = one full share of 1024).
    static func cpuShare(memoryMB: Int) -> Int { max(2, memoryMB * 1024 / 1769) }

    /// Sets a v1 memory group's limit, memory and swap alike (the swap limit must never be
    /// below the memory limit, so it is written on both sides: raising or lowering works).
    static func limitMemoryV1(_ dir: String, memoryMB: Int) throws {
        let bytes = String(Int64(memoryMB) * 1024 * 1024)
        try? write("\(dir)/memory.memsw.limit_in_bytes", bytes)
        try write("\(dir)/memory.limit_in_bytes", bytes)
        try? write("\(dir)/memory.memsw.limit_in_bytes", bytes)
        try? write("\(dir)/memory.swappiness", "0")
    }

    /// Removes this server's whole cgroup subtree (at shutdown; groups must be empty).
    public func removeAll() {
        let bases: [String]
        switch mode {
        case .rlimits: return
        case .cgroupV1(let m, let c, let p): bases = [m, c, p]
        case .cgroupV2(let b): bases = [b]
        }
        for base in bases { Self.removeTree(base) }
    }

    // MARK: Detection

    static func detectMode() -> Mode {
        let pid = getpid()
        guard let lines = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else {
            return .rlimits(reason: "/proc/self/cgroup is unreadable")
        }
        var v1: [String: String] = [:]
        var v2Path: String?
        for line in lines.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[0] == "0" && parts[1].isEmpty {
                v2Path = String(parts[2])
            } else {
                for controller in parts[1].split(separator: ",") { v1[String(controller)] = String(parts[2]) }
            }
        }
        var reasons: [String] = []
        // v2: the unified hierarchy mounted at /sys/fs/cgroup with the controllers we need.
        if let path = v2Path, let controllers = try? String(contentsOfFile: "/sys/fs/cgroup/cgroup.controllers", encoding: .utf8),
           ["memory", "cpu", "pids"].allSatisfy({ controllers.contains($0) })
        {
            let own = "/sys/fs/cgroup" + (path == "/" ? "" : path)
            // No internal processes: move Swell into a leaf of its own, then delegate to siblings.
            let leaf = "\(own)/swell-\(pid)-server"
            let base = "\(own)/swell-\(pid)"
            do {
                try mkdir(leaf)
                try write("\(leaf)/cgroup.procs", String(pid))
                try write("\(own)/cgroup.subtree_control", "+memory +cpu +pids")
                try mkdir(base)
                try write("\(base)/cgroup.subtree_control", "+memory +cpu +pids")
                return .cgroupV2(base: base)
            } catch {
                reasons.append("cgroup v2 at \(own) is not writable (\(error))")
                try? FileManager.default.removeItem(atPath: base)
            }
        }
        var dirs: [String] = []
        for controller in ["memory", "cpu", "pids"] {
            guard let path = v1[controller] else {
                reasons.append("no cgroup v1 \(controller) hierarchy")
                break
            }
            let mount = "/sys/fs/cgroup/\(controller)"
            let dir = mount + (path == "/" ? "" : path) + "/swell-\(pid)"
            do {
                try mkdir(dir)
                dirs.append(dir)
            } catch {
                reasons.append("cgroup v1 \(controller) at \(dir) is not writable (\(error))")
                break
            }
        }
        if dirs.count == 3 {
            try? write("\(dirs[0])/memory.use_hierarchy", "1")
            return .cgroupV1(memory: dirs[0], cpu: dirs[1], pids: dirs[2])
        }
        for dir in dirs { try? FileManager.default.removeItem(atPath: dir) }
        return .rlimits(reason: reasons.joined(separator: "; "))
    }

    // MARK: Files

    static func slug(_ key: FunctionKey) -> String {
        let raw = "\(key.namespace).\(key.name).\(key.version.description)"
        return String(raw.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
    }

    /// Creates `base/function/instance`. The function's group may vanish between the two
    /// mkdirs (its last instance removes it when it stops): then it is made again.
    static func makeGroup(
        _ base: String, _ function: String, _ instance: String, configure: (String) -> Void = { _ in }
    ) throws -> String {
        let functionGroup = "\(base)/\(function)"
        let dir = "\(functionGroup)/\(instance)"
        for _ in 0..<10 {
            if Foundation.mkdir(functionGroup, 0o755) == 0 {
                configure(functionGroup)
            } else if errno != EEXIST {
                throw SandboxError.cgroup(path: functionGroup, errno: errno)
            }
            if Foundation.mkdir(dir, 0o755) == 0 { return dir }
            guard errno == ENOENT else { throw SandboxError.cgroup(path: dir, errno: errno) }
        }
        throw SandboxError.cgroup(path: dir, errno: ENOENT)
    }

    static func mkdir(_ path: String) throws {
        if Foundation.mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw SandboxError.cgroup(path: path, errno: errno)
        }
    }

    static func write(_ path: String, _ value: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SandboxError.cgroup(path: path, errno: errno) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        guard Foundation.write(fd, bytes, bytes.count) == bytes.count else { throw SandboxError.cgroup(path: path, errno: errno) }
    }

    /// Removes a cgroup directory and its children, deepest first (cgroup dirs are removed with rmdir).
    static func removeTree(_ path: String) {
        if let children = try? FileManager.default.contentsOfDirectory(atPath: path) {
            for child in children {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: "\(path)/\(child)", isDirectory: &isDir), isDir.boolValue {
                    removeTree("\(path)/\(child)")
                }
            }
        }
        rmdir(path)
    }
}

/// The cgroups of one instance.
struct InstanceCgroup: Sendable {
    var version: Int
    var directories: [String]
    var memoryDirectory: String
    /// Groups the process is in already (a pre-booted process's memory group).
    var joined: [String] = []
    /// A cpu group `adopt` makes before the move (a pre-booted process's, made after its hand-over).
    var cpuGroupToMake: CPUGroup?

    struct CPUGroup: Sendable {
        var base: String
        var function: String
        var instance: String
        var shares: Int
    }

    /// The `cgroup.procs` files: the processes in the groups.
    var procsFiles: [String] { directories.map { "\($0)/cgroup.procs" } }

    /// The files a new child writes "0" to before exec, to join the groups (see ``Sandbox/joinFile(_:version:)``).
    var joinFiles: [String] { directories.map { Sandbox.joinFile($0, version: version) } }

    /// Moves a running process (all its threads) into the groups it is not in yet (making the
    /// cpu group first when it is still to be made).
    func adopt(_ pid: pid_t) throws {
        if let group = cpuGroupToMake {
            let dir = try Sandbox.makeGroup(group.base, group.function, group.instance)
            try Sandbox.write("\(dir)/cpu.shares", String(group.shares))
        }
        for dir in directories where !joined.contains(dir) { try Sandbox.write("\(dir)/cgroup.procs", String(pid)) }
    }

    /// Whether the kernel killed a process of the group for exceeding its memory limit.
    var oomKilled: Bool {
        let file = version == 1 ? "\(memoryDirectory)/memory.oom_control" : "\(memoryDirectory)/memory.events"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return false }
        for line in text.split(separator: "\n") where line.hasPrefix("oom_kill ") {
            return (Int(line.dropFirst("oom_kill ".count)) ?? 0) > 0
        }
        return false
    }

    /// Bytes of memory the group uses now.
    var memoryUsage: Int? {
        let file = version == 1 ? "\(memoryDirectory)/memory.usage_in_bytes" : "\(memoryDirectory)/memory.current"
        return (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Kills every process still in the groups (a function's daemon that left its process group).
    func killAll() {
        if version == 2, FileManager.default.fileExists(atPath: "\(memoryDirectory)/cgroup.kill") {
            try? Sandbox.write("\(memoryDirectory)/cgroup.kill", "1")
            return
        }
        for file in procsFiles {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                if let pid = pid_t(line), pid > 1 { kill(pid, SIGKILL) }
            }
        }
    }

    /// Removes the groups (after killing what is left in them), and the function's group when it is empty.
    func remove() {
        killAll()
        for dir in directories {
            for _ in 0..<50 {
                if rmdir(dir) == 0 || errno == ENOENT { break }
                usleep(2000)  // the last task may still be leaving the group
            }
            rmdir((dir as NSString).deletingLastPathComponent)
        }
    }
}

/// The rlimits every instance runs with (cold spawns and pre-booted processes alike).
public struct InstanceLimits: Sendable, Hashable {
    /// RLIMIT_NOFILE.
    public var openFiles: Int64
    /// RLIMIT_NPROC: counted per uid, so it binds once the process runs under the function's uid.
    public var processes: Int64

    /// Sets the limits on a spawn request (the process limit only for a process that will run
    /// under a function's own uid: under Swell's uid it would count Swell's threads too).
    public func apply(to request: inout SpawnRequest, switchingUID: Bool) {
        request.openFileLimit = openFiles
        if switchingUID { request.processLimit = processes }
    }
}

/// The uid of every function, read synchronously on the launch path (a lock, no database).
public final class FunctionIdentities: Sendable {
    private let table = Mutex<[String: UInt32]>([:])

    public init(_ uids: [String: UInt32] = [:]) {
        table.withLock { $0 = uids }
    }

    public func uid(namespace: String, name: String) -> UInt32? {
        table.withLock { $0["\(namespace)/\(name)"] }
    }

    public func set(_ uid: UInt32, namespace: String, name: String) {
        table.withLock { $0["\(namespace)/\(name)"] = uid }
    }
}

enum SandboxError: Error, CustomStringConvertible {
    case cgroup(path: String, errno: Int32)

    var description: String {
        switch self {
        case .cgroup(let path, let e): "\(path): \(String(cString: strerror(e)))"
        }
    }
}

/// The groups a pre-booted process was born in (cgroup v1).
struct PrebootGroup: Sendable {
    var memoryDirectory: String
    var pidsDirectory: String

    var directories: [String] { [memoryDirectory, pidsDirectory] }
    /// The files the child writes "0" to before exec, to join the groups (v1: `tasks`).
    var joinFiles: [String] { directories.map { Sandbox.joinFile($0, version: 1) } }

    /// Removes the groups once the process is gone (and `prebooted/` when it is empty).
    func remove() {
        InstanceCgroup(version: 1, directories: directories, memoryDirectory: memoryDirectory).remove()
    }
}
