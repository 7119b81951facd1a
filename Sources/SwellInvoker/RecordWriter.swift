import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import SwellModel
import SwellStore
import Synchronization

/// Writes invocation records and log lines behind the requests that produced them, in
/// batches (one transaction every 100 ms at most), so the invoke path never waits for disk,
/// and applies log retention every few seconds.
///
/// The queue between the log pumps and the database is bounded in bytes: all namespaces
/// together may have `LogLimits.queueBytes` waiting, one namespace a quarter of it (and each
/// function 256 KB of its own within the total). A line that does not fit is dropped and
/// counted, never buffered. What is dropped (here or by the
/// rate limit in `LogHub`) is added to the function's counters in the log database and
/// reported in its log by a platform line at most once a second.
///
/// Database work runs on GRDB's queues (log lines) or the NIO thread pool (invocation records),
/// never on the cooperative pool.
public final class RecordWriter: Service, Sendable {
    struct Pending {
        var lines: [LogLine] = []
        var bytes = 0
        var namespaceBytes: [String: Int] = [:]
        var functionBytes: [LogStreamKey: Int] = [:]
        var records: [InvocationRecord] = []
        var droppedRecords = 0
        /// Drops not yet added to the database's counters.
        var drops: [LogStreamKey: LogDrops] = [:]
        /// Drops not yet reported by a platform line, and when the last line was written.
        var unreported: [LogStreamKey: LogDrops] = [:]
        var lastNotice: [LogStreamKey: ContinuousClock.Instant] = [:]
    }

    let store: any RecordStore
    let logs: any LogStorage
    let limits: LogLimits
    let logger: Logger
    /// Invocation records buffered beyond this are dropped (and counted).
    let maxPendingRecords: Int
    private let pending = Mutex(Pending())
    private let pruning = Atomic<Bool>(false)
    /// Bytes every function may have queued even when its namespace's share is full.
    static let functionQueueReserve = 256 << 10
    private let listeners = Mutex<[@Sendable ([LogLine]) -> Void]>([])
    /// Meters every invocation record into hourly usage (nil: no metering).
    public let usage: UsageMeter?

    public init(
        store: any RecordStore, logs: any LogStorage, limits: LogLimits = LogLimits(), logger: Logger, maxPendingRecords: Int = 50_000,
        usage: UsageMeter? = nil
    ) {
        self.usage = usage
        self.store = store
        self.logs = logs
        self.limits = limits
        self.logger = logger
        self.maxPendingRecords = maxPendingRecords
    }

    /// Calls `listener` with every batch of stored lines (ids assigned).
    public func onStored(_ listener: @escaping @Sendable ([LogLine]) -> Void) {
        listeners.withLock { $0.append(listener) }
    }

    /// Queues a line; false (and counted as dropped) when the queue or the namespace's share of it is full.
    @discardableResult
    public func enqueue(_ line: LogLine) -> Bool {
        let size = LogStore.size(of: line.message)
        let key = LogStreamKey(namespace: line.namespace, function: line.function)
        return pending.withLock { p in
            let namespaceBytes = p.namespaceBytes[line.namespace, default: 0]
            let functionBytes = p.functionBytes[key, default: 0]
            // Within the total, a namespace may fill a quarter, and each function its small reserve
            // whatever the rest of its namespace queued.
            let fits = namespaceBytes + size <= limits.queueBytes / 4 || functionBytes + size <= Self.functionQueueReserve
            guard p.bytes + size <= limits.queueBytes, fits else {
                let drop = LogDrops(queueFullLines: 1, queueFullBytes: size)
                p.drops[key, default: LogDrops()] = p.drops[key, default: LogDrops()] + drop
                p.unreported[key, default: LogDrops()] = p.unreported[key, default: LogDrops()] + drop
                return false
            }
            p.lines.append(line)
            p.bytes += size
            p.namespaceBytes[line.namespace] = namespaceBytes + size
            p.functionBytes[key] = functionBytes + size
            return true
        }
    }

    /// Counts lines refused or cut before they reached the queue.
    public func count(_ drop: LogDrops, for key: LogStreamKey) {
        pending.withLock { p in
            p.drops[key, default: LogDrops()] = p.drops[key, default: LogDrops()] + drop
            p.unreported[key, default: LogDrops()] = p.unreported[key, default: LogDrops()] + drop
        }
    }

    public func enqueue(_ record: InvocationRecord) {
        // Metered whether or not the record itself finds room in the buffer.
        usage?.add(record)
        pending.withLock { p in
            if p.records.count < maxPendingRecords { p.records.append(record) } else { p.droppedRecords += 1 }
        }
    }

    /// Bytes of log lines waiting to be written.
    public var queuedBytes: Int { pending.withLock { $0.bytes } }

    /// Takes what is buffered, with a platform line for each function whose drops are due to be reported.
    func takeBatch(now: ContinuousClock.Instant) -> (lines: [LogLine], records: [InvocationRecord], drops: [LogStreamKey: LogDrops], droppedRecords: Int) {
        pending.withLock { p in
            var lines = p.lines
            for (key, drop) in p.unreported {
                if let last = p.lastNotice[key], now - last < .seconds(1) { continue }
                guard let notice = drop.notice else { continue }
                lines.append(LogLine(
                    time: Date(), namespace: key.namespace, function: key.function, version: "", instance: "swell",
                    requestID: nil, stream: "platform", message: notice))
                p.lastNotice[key] = now
                p.unreported[key] = nil
            }
            // Forget notice times that can no longer hold anything back.
            if p.lastNotice.count > 1024 { p.lastNotice = p.lastNotice.filter { now - $0.value < .seconds(1) } }
            let batch = (lines, p.records, p.drops, p.droppedRecords)
            p.lines = []
            p.bytes = 0
            p.namespaceBytes = [:]
            p.functionBytes = [:]
            p.records = []
            p.drops = [:]
            p.droppedRecords = 0
            return batch
        }
    }

    /// Writes whatever is buffered now.
    public func flush() async {
        let batch = takeBatch(now: .now)
        if batch.droppedRecords > 0 {
            logger.warning("invocation records dropped: buffer full", metadata: ["dropped": "\(batch.droppedRecords)"])
        }
        if !batch.records.isEmpty {
            let store = self.store
            let records = batch.records
            do {
                try await store.appendInvocations(records)
            } catch {
                logger.error("cannot write invocation records", metadata: ["error": "\(error)"])
            }
        }
        guard !batch.lines.isEmpty || !batch.drops.isEmpty else { return }
        do {
            let stored = try await logs.append(batch.lines, drops: batch.drops)
            if !stored.isEmpty {
                for listener in listeners.withLock({ $0 }) { listener(stored) }
            }
            // Between the regular passes, prune as soon as the file nears its bound.
            let highWater = Double(limits.retention.databaseMaxBytes) * LogRetentionPolicy.highWater
            if !stored.isEmpty, Double(try await logs.databaseBytes()) > highWater { await prune() }
        } catch {
            logger.error("cannot write log lines", metadata: ["error": "\(error)", "lines": "\(batch.lines.count)"])
        }
    }

    /// Applies log retention now, unless a pass is already running.
    public func prune() async {
        guard pruning.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return }
        defer { pruning.store(false, ordering: .releasing) }
        do {
            let report = try await logs.prune(limits.retention)
            if report.expiredLines + report.trimmedLines > 0 {
                logger.debug("log retention", metadata: [
                    "expired": "\(report.expiredLines)", "trimmed": "\(report.trimmedLines)", "bytes": "\(report.databaseBytes)",
                ])
            }
        } catch {
            logger.error("log retention failed", metadata: ["error": "\(error)"])
        }
    }

    public func run() async throws {
        var ticks = 0
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                try? await Task.sleep(for: .milliseconds(100))
                await flush()
                ticks += 1
                if ticks % 20 == 0 { await prune() }
                if ticks % 6000 == 0 {
                    let store = self.store
                    let maxAge = limits.retention.maxAge
                    do {
                        try await store.pruneInvocations(maxAge: maxAge)
                    } catch {
                        logger.error("invocation record retention failed", metadata: ["error": "\(error)"])
                    }
                }
            }
        } onGracefulShutdown: {}
        await flush()
    }
}
