import Foundation
import SwellModel
import SwellRuntime
import SwellScheduler
import SwellStore
import Synchronization

/// Receives every line instances write: applies the namespace's log rate limit (see
/// `LogRateLimiter`), hands admitted lines to the record writer's bounded queue, keeps the
/// tail of invocations that asked for it (`LogTail`, bounded), and wakes `logs --follow`
/// readers once lines are stored. Runs on the log pumps' event loops: nothing here blocks.
public final class LogHub: LogSink, Sendable {
    struct Capture {
        var tail = LogTail()
        var ended = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    struct Admission {
        var limiter: LogRateLimiter
        var lastSweep: Double = 0
    }

    struct Follower {
        var namespace: String
        var function: String
        var continuation: CheckedContinuation<Void, Never>
    }

    let writer: RecordWriter
    private let admission: Mutex<Admission>
    private static let origin = ContinuousClock.now
    private let captures = Mutex<[String: Capture]>([:])
    private let followers = Mutex<[UInt64: Follower]>([:])
    private let nextFollower = Atomic<UInt64>(1)

    public init(writer: RecordWriter, limits: LogLimits = LogLimits()) {
        self.writer = writer
        admission = Mutex(Admission(limiter: LogRateLimiter(limits)))
        writer.onStored { [weak self] lines in self?.stored(lines) }
    }

    public func accept(_ line: CapturedLine, instance: InstanceInfo) {
        if let rid = line.requestID {
            captures.withLock { c in c[rid]?.tail.append(line.message) }
        }
        let namespace = instance.function.namespace
        let function = instance.function.name
        let size = LogStore.size(of: line.message)
        let now = (ContinuousClock.now - Self.origin) / .seconds(1)
        let admitted = admission.withLock { a in
            if now - a.lastSweep > 10 {
                a.limiter.forgetIdle(now: now)
                a.lastSweep = now
            }
            return a.limiter.admit(namespace: namespace, function: function, bytes: size, now: now)
        }
        let key = LogStreamKey(namespace: namespace, function: function)
        guard admitted else {
            writer.count(LogDrops(rateLimitedLines: 1, rateLimitedBytes: size), for: key)
            return
        }
        if line.cut { writer.count(LogDrops(cutLines: 1), for: key) }
        writer.enqueue(LogLine(
            time: line.time, namespace: namespace, function: function, version: instance.function.version.description,
            instance: instance.name, requestID: line.requestID, stream: line.stream, message: line.message))
    }

    public func endOfOutput(requestID: String) {
        let waiter: CheckedContinuation<Void, Never>? = captures.withLock { c in
            guard c[requestID] != nil else { return nil }
            c[requestID]!.ended = true
            let w = c[requestID]!.waiter
            c[requestID]!.waiter = nil
            return w
        }
        waiter?.resume()
    }

    /// Starts collecting the lines of `requestID` (before the invocation starts).
    public func beginCapture(_ requestID: String) {
        captures.withLock { $0[requestID] = Capture() }
    }

    /// Stops collecting and returns the newest whole lines that fit `Limits.logTailBytes`
    /// (first a line saying how many were left out, if any), waiting up to `grace` for the
    /// runtime's end-of-output marker so that lines still in the pipe are included.
    public func endCapture(_ requestID: String, grace: Duration) async -> [String] {
        let ended = captures.withLock { $0[requestID]?.ended ?? true }
        if !ended {
            await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
                let resumeNow = captures.withLock { c -> Bool in
                    if c[requestID]?.ended ?? true { return true }
                    c[requestID]!.waiter = cont
                    return false
                }
                if resumeNow { cont.resume(); return }
                Task {
                    try? await Task.sleep(for: grace)
                    let w = self.captures.withLock { c -> CheckedContinuation<Void, Never>? in
                        let w = c[requestID]?.waiter
                        c[requestID]?.waiter = nil
                        return w
                    }
                    w?.resume()
                }
            }
        }
        guard let tail = captures.withLock({ $0.removeValue(forKey: requestID)?.tail }) else { return [] }
        var text = tail.text
        if text.hasSuffix("\n") { text.removeLast() }
        return text.isEmpty ? [] : text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Waits until lines of a function are stored, or `timeout` passes.
    public func waitForLines(namespace: String, function: String, timeout: Duration) async {
        let id = nextFollower.wrappingAdd(1, ordering: .relaxed).oldValue
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            followers.withLock { $0[id] = Follower(namespace: namespace, function: function, continuation: cont) }
            Task {
                try? await Task.sleep(for: timeout)
                self.followers.withLock { $0.removeValue(forKey: id) }?.continuation.resume()
            }
        }
    }

    private func stored(_ lines: [LogLine]) {
        let keys = Set(lines.map { "\($0.namespace)/\($0.function)" })
        let woken: [Follower] = followers.withLock { f in
            let ids = f.filter { keys.contains("\($0.value.namespace)/\($0.value.function)") }.map(\.key)
            return ids.compactMap { f.removeValue(forKey: $0) }
        }
        for follower in woken { follower.continuation.resume() }
    }
}
