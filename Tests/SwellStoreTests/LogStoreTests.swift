import Foundation
import SwellModel
import SwellStore
import Testing

/// The log database: paging, filters, counters, and retention on a real file.
@Suite struct LogStoreTests {
    static func onDisk() throws -> (LogStore, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swell-logs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("logs.db").path
        return (try LogStore(path: path), path)
    }

    static func line(_ fn: String, _ message: String, ns: String = "n", rid: String? = nil, time: Date = Date()) -> LogLine {
        LogLine(time: time, namespace: ns, function: fn, version: "$LATEST", instance: "i-1", requestID: rid, stream: "stdout", message: message)
    }

    @Test func pagesNewestFirstAndFilters() async throws {
        let (store, _) = try Self.onDisk()
        let start = Date(timeIntervalSince1970: 1_000_000)
        let lines = (0..<10).map { i in
            Self.line("f", "line \(i)", rid: i % 2 == 0 ? "even" : "odd", time: start.addingTimeInterval(Double(i)))
        }
        let stored = try await store.append(lines + [Self.line("g", "other function")])
        #expect(stored.map(\.id) == stored.map(\.id).sorted() && stored[0].id > 0)

        let page = try await store.lines(LogQuery(namespace: "n", function: "f", after: stored[3].id, limit: 3))
        #expect(page.map(\.message) == ["line 4", "line 5", "line 6"])
        let newest = try await store.lines(LogQuery(namespace: "n", function: "f", limit: 3, newest: true))
        #expect(newest.map(\.message) == ["line 7", "line 8", "line 9"])
        #expect(try await store.lines(LogQuery(namespace: "n", function: "f", requestID: "even")).count == 5)
        let since = try await store.lines(LogQuery(namespace: "n", function: "f", since: start.addingTimeInterval(8)))
        #expect(since.map(\.message) == ["line 8", "line 9"])
        #expect(try await store.lines(LogQuery(namespace: "other", function: "f")).isEmpty)
        #expect(try await store.lines(LogQuery(namespace: "n", function: "g")).map(\.message) == ["other function"])
    }

    @Test func dropsAreCountedPerFunction() async throws {
        let store = try LogStore.inMemory()
        let key = LogStreamKey(namespace: "a", function: "flood")
        _ = try await store.append([], drops: [key: LogDrops(rateLimitedLines: 5, rateLimitedBytes: 500, cutLines: 1)])
        _ = try await store.append([Self.line("flood", "x", ns: "a")], drops: [key: LogDrops(rateLimitedLines: 2, rateLimitedBytes: 20, queueFullLines: 3)])
        let drops = try await store.drops(namespace: "a", function: "flood")
        #expect(drops == LogDrops(rateLimitedLines: 7, rateLimitedBytes: 520, queueFullLines: 3, cutLines: 1))
        #expect(try await store.drops(namespace: "b", function: "flood") == LogDrops())
    }

    @Test func retentionTrimsTheChattyFunctionOnly() async throws {
        let (store, _) = try Self.onDisk()
        let quiet = (0..<50).map { Self.line("quiet", "quiet \($0)") }
        _ = try await store.append(quiet)
        let big = String(repeating: "x", count: 1000)
        for _ in 0..<10 { _ = try await store.append((0..<200).map { _ in Self.line("chatty", big) }) }
        let policy = LogRetentionPolicy(functionMaxBytes: 1 << 30, namespaceMaxBytes: 300_000, databaseMaxBytes: 1 << 30)
        let report = try await store.prune(policy)
        #expect(report.trimmedLines > 0)
        let usage = Dictionary(uniqueKeysWithValues: try await store.usage().map { ($0.key.function, $0) })
        #expect(usage["quiet"]?.lines == 50)
        #expect((usage["chatty"]?.bytes ?? .max) <= 300_000)
        #expect(try await store.lines(LogQuery(namespace: "n", function: "quiet", limit: 100)).count == 50)
        // The newest chatty lines are the ones kept, and the counters agree with the rows.
        let kept = try await store.lines(LogQuery(namespace: "n", function: "chatty", limit: 10_000))
        #expect(kept.count == usage["chatty"]?.lines)
        #expect(try await store.drops(namespace: "n", function: "chatty").prunedLines == 2000 - kept.count)
    }

    @Test func expiredLinesGo() async throws {
        let store = try LogStore.inMemory()
        let now = Date()
        _ = try await store.append([
            Self.line("f", "old", time: now.addingTimeInterval(-7200)), Self.line("f", "new", time: now),
        ])
        let report = try await store.prune(LogRetentionPolicy(maxAge: 3600), now: now)
        #expect(report.expiredLines == 1)
        #expect(try await store.lines(LogQuery(namespace: "n", function: "f")).map(\.message) == ["new"])
    }

    @Test func databaseStaysUnderItsBound() async throws {
        let (store, path) = try Self.onDisk()
        let bound = 4 << 20
        let policy = LogRetentionPolicy(functionMaxBytes: 1 << 30, namespaceMaxBytes: 1 << 30, databaseMaxBytes: bound)
        let big = String(repeating: "y", count: 4000)
        for round in 0..<20 {
            _ = try await store.append((0..<100).map { _ in Self.line("f\(round % 3)", big) })
            try await store.prune(policy)
        }
        let file = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        #expect(file + wal <= bound, "file \(file) + wal \(wal) > \(bound)")
        #expect(try await store.databaseBytes() <= bound)
    }
}
