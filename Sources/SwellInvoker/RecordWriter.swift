import Logging
import NIOPosix
import ServiceLifecycle
import SwellModel
import SwellStore
import Synchronization

/// Writes invocation records and log lines behind the requests that produced them, in
/// batches (one transaction every 100 ms at most), so the invoke path never waits for disk.
public final class RecordWriter: Service, Sendable {
    struct Pending {
        var lines: [LogLine] = []
        var records: [InvocationRecord] = []
        var dropped = 0
    }

    let store: any RecordStore
    let logger: Logger
    /// Lines buffered beyond this are dropped (and counted) rather than growing without bound.
    let maxPending: Int
    private let pending = Mutex(Pending())
    private let listeners = Mutex<[@Sendable ([LogLine]) -> Void]>([])

    public init(store: any RecordStore, logger: Logger, maxPending: Int = 200_000) {
        self.store = store
        self.logger = logger
        self.maxPending = maxPending
    }

    /// Calls `listener` with every batch of stored lines (ids assigned).
    public func onStored(_ listener: @escaping @Sendable ([LogLine]) -> Void) {
        listeners.withLock { $0.append(listener) }
    }

    public func enqueue(_ line: LogLine) {
        pending.withLock { p in
            if p.lines.count >= maxPending { p.dropped += 1 } else { p.lines.append(line) }
        }
    }

    public func enqueue(_ record: InvocationRecord) {
        pending.withLock { p in
            if p.records.count < maxPending { p.records.append(record) }
        }
    }

    /// Writes whatever is buffered now.
    public func flush() {
        let batch = pending.withLock { p -> Pending in
            let b = p
            p = Pending()
            return b
        }
        if batch.dropped > 0 {
            logger.warning("log lines dropped: buffer full", metadata: ["dropped": "\(batch.dropped)"])
        }
        do {
            try store.appendInvocations(batch.records)
            let stored = try store.appendLogs(batch.lines)
            if !stored.isEmpty {
                for listener in listeners.withLock({ $0 }) { listener(stored) }
            }
        } catch {
            logger.error("cannot write records", metadata: ["error": "\(error)"])
        }
    }

    public func run() async throws {
        var sinceRetention = 0
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                try? await Task.sleep(for: .milliseconds(100))
                sinceRetention += 1
                let prune = sinceRetention >= 600
                if prune { sinceRetention = 0 }
                // SQLite and fsync stay off the event loops and the cooperative pool.
                try? await NIOThreadPool.singleton.runIfActive { [self] in
                    flush()
                    if prune {
                        do {
                            try store.prune(maxLinesPerNamespace: 100_000, maxAge: 7 * 86_400)
                        } catch {
                            logger.error("log retention failed", metadata: ["error": "\(error)"])
                        }
                    }
                }
            }
        } onGracefulShutdown: {}
        try? await NIOThreadPool.singleton.runIfActive { [self] in flush() }
    }
}
