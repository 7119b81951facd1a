import Foundation
import SwellModel
import SwellRuntime
import Synchronization

/// Receives every line instances write: hands it to the record writer, to invocations that
/// asked for their log tail, and wakes `logs --follow` readers once the lines are stored.
public final class LogHub: LogSink, Sendable {
    struct Capture {
        var lines: [String] = []
        var ended = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    struct Follower {
        var namespace: String
        var function: String
        var continuation: CheckedContinuation<Void, Never>
    }

    let writer: RecordWriter
    private let captures = Mutex<[String: Capture]>([:])
    private let followers = Mutex<[UInt64: Follower]>([:])
    private let nextFollower = Atomic<UInt64>(1)

    public init(writer: RecordWriter) {
        self.writer = writer
        writer.onStored { [weak self] lines in self?.stored(lines) }
    }

    public func accept(_ line: CapturedLine, instance: InstanceInfo) {
        writer.enqueue(LogLine(
            time: line.time, namespace: instance.function.namespace, function: instance.function.name,
            version: instance.function.version.description, instance: instance.name, requestID: line.requestID,
            stream: line.stream, message: line.message))
        if let rid = line.requestID {
            captures.withLock { c in c[rid]?.lines.append(line.message) }
        }
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

    /// Stops collecting and returns the lines, waiting up to `grace` for the runtime's
    /// end-of-output marker so that lines still in the pipe are included.
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
        return captures.withLock { $0.removeValue(forKey: requestID)?.lines ?? [] }
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
