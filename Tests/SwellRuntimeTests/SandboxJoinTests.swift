import Foundation
import Testing
@testable import SwellRuntime

/// How a new child joins its cgroups before exec.
struct SandboxJoinTests {
    @Test func aV1ChildJoinsThroughTasksAndAV2ChildThroughCgroupProcs() {
        // v1 `tasks` with "0" moves the writing thread without the kernel's thread-group write
        // lock (no RCU grace period); `cgroup.procs` would wait 5–40 ms for one.
        #expect(Sandbox.joinFile("/sys/fs/cgroup/pids/a/b", version: 1) == "/sys/fs/cgroup/pids/a/b/tasks")
        #expect(Sandbox.joinFile("/sys/fs/cgroup/a/b", version: 2) == "/sys/fs/cgroup/a/b/cgroup.procs")
        let v1 = InstanceCgroup(version: 1, directories: ["/m/f/i", "/c/f/i"], memoryDirectory: "/m/f/i")
        #expect(v1.joinFiles == ["/m/f/i/tasks", "/c/f/i/tasks"])
        #expect(v1.procsFiles == ["/m/f/i/cgroup.procs", "/c/f/i/cgroup.procs"])
        #expect(PrebootGroup(memoryDirectory: "/m/p/p1", pidsDirectory: "/p/p/p1").joinFiles == ["/m/p/p1/tasks", "/p/p/p1/tasks"])
    }

    /// A real child, joined through `tasks` before exec, runs in the group with every thread it
    /// starts (needs root and a writable cgroup v1 pids hierarchy; skipped elsewhere).
    @Test func aChildJoinedThroughTasksIsInTheGroupWithItsThreads() async throws {
        let own = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8))?.split(separator: "\n")
            .first { $0.split(separator: ":", maxSplits: 2).dropFirst().first == "pids" }
            .map { String($0.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)[2]) }
        guard geteuid() == 0, let own else { return }
        let group = "/sys/fs/cgroup/pids\(own == "/" ? "" : own)/swell-join-test-\(getpid())"
        guard Foundation.mkdir(group, 0o755) == 0 else { return }  // not writable here
        defer { rmdir(group) }
        var request = SpawnRequest(
            executable: "/usr/bin/python3",
            arguments: ["-c", "import threading, time; [threading.Thread(target=time.sleep, args=(30,), daemon=True).start() for _ in range(3)]; time.sleep(30)"],
            environment: ["PATH": "/usr/bin:/bin"], workingDirectory: "/")
        request.cgroupProcs = [Sandbox.joinFile(group, version: 1)]
        let child = try await ChildProcesses.shared.spawn(request) { _ in }
        defer {
            ChildProcesses.shared.killGroup(child.pid)
            close(child.stdoutFD)
            close(child.stderrFD)
            for _ in 0..<100 where (try? String(contentsOfFile: "\(group)/cgroup.procs", encoding: .utf8))?.isEmpty == false { usleep(10_000) }
        }
        var threads: [String] = []
        for _ in 0..<200 {
            threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(child.pid)/task")) ?? []
            if threads.count >= 4 { break }
            usleep(10_000)
        }
        #expect(threads.count >= 4)
        let members = try String(contentsOfFile: "\(group)/tasks", encoding: .utf8).split(separator: "\n").map(String.init)
        for tid in threads { #expect(members.contains(tid), "thread \(tid) of \(child.pid) is not in \(group)") }
    }
}
