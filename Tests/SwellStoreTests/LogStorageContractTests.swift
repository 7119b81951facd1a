import Foundation
import SwellModel
import SwellStore
import Testing

/// The `LogStorage` contract, run against SQLite and PostgreSQL (LogStoreTests adds the
/// SQLite file's own bounds).
@Suite struct LogStorageContractTests {
    static func line(_ fn: String, _ message: String, ns: String = "n", rid: String? = nil, time: Date = Date()) -> LogLine {
        LogLine(time: time, namespace: ns, function: fn, version: "$LATEST", instance: "i-1", requestID: rid, stream: "stdout", message: message)
    }

    @Test(arguments: StoreEngine.allCases)
    func pagesNewestFirstAndFilters(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.logs
            let start = Date(timeIntervalSince1970: 1_000_000)
            let lines = (0..<10).map { i in
                Self.line("f", "line \(i)", rid: i % 2 == 0 ? "even" : "odd", time: start.addingTimeInterval(Double(i)))
            }
            let stored = try await store.append(lines + [Self.line("g", "other function")])
            #expect(stored.map(\.id) == stored.map(\.id).sorted() && stored[0].id > 0)
            #expect(stored.map(\.message) == (lines + [Self.line("g", "other function")]).map(\.message))

            let page = try await store.lines(LogQuery(namespace: "n", function: "f", after: stored[3].id, limit: 3))
            #expect(page.map(\.message) == ["line 4", "line 5", "line 6"])
            #expect(page.map(\.id) == Array(stored[4...6].map(\.id)))
            let newest = try await store.lines(LogQuery(namespace: "n", function: "f", limit: 3, newest: true))
            #expect(newest.map(\.message) == ["line 7", "line 8", "line 9"])
            #expect(try await store.lines(LogQuery(namespace: "n", function: "f", requestID: "even")).count == 5)
            let since = try await store.lines(LogQuery(namespace: "n", function: "f", since: start.addingTimeInterval(8)))
            #expect(since.map(\.message) == ["line 8", "line 9"])
            #expect(since[0].requestID == "even" && since[0].time == start.addingTimeInterval(8) && since[0].instance == "i-1")
            #expect(try await store.lines(LogQuery(namespace: "other", function: "f")).isEmpty)
            #expect(try await store.lines(LogQuery(namespace: "n", function: "g")).map(\.message) == ["other function"])
            #expect(try await store.lines(LogQuery(namespace: "n", function: "g"))[0].requestID == nil)
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func dropsAndUsageArePerFunction(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.logs
            let key = LogStreamKey(namespace: "a", function: "flood")
            _ = try await store.append([], drops: [key: LogDrops(rateLimitedLines: 5, rateLimitedBytes: 500, cutLines: 1)])
            _ = try await store.append([Self.line("flood", "x", ns: "a")], drops: [key: LogDrops(rateLimitedLines: 2, rateLimitedBytes: 20, queueFullLines: 3)])
            #expect(try await store.drops(namespace: "a", function: "flood") == LogDrops(rateLimitedLines: 7, rateLimitedBytes: 520, queueFullLines: 3, cutLines: 1))
            #expect(try await store.drops(namespace: "b", function: "flood") == LogDrops())
            let usage = try await store.usage()
            #expect(usage.count == 1 && usage[0].key == key && usage[0].lines == 1 && usage[0].bytes == LogStore.size(of: "x"))
            #expect(try await store.databaseBytes() > 0)
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func retentionExpiresOldLinesAndTrimsTheChattyFunctionOnly(_ engine: StoreEngine) async throws {
        try await engine.withStores { s in
            let store = s.logs
            let now = Date()
            _ = try await store.append([Self.line("f", "old", time: now.addingTimeInterval(-7200)), Self.line("f", "new", time: now)])
            let expired = try await store.prune(LogRetentionPolicy(maxAge: 3600), now: now, batch: 5_000)
            #expect(expired.expiredLines == 1)
            #expect(try await store.lines(LogQuery(namespace: "n", function: "f")).map(\.message) == ["new"])

            _ = try await store.append((0..<50).map { Self.line("quiet", "quiet \($0)") })
            let big = String(repeating: "x", count: 1000)
            for _ in 0..<5 { _ = try await store.append((0..<200).map { _ in Self.line("chatty", big) }) }
            let policy = LogRetentionPolicy(functionMaxBytes: 1 << 30, namespaceMaxBytes: 300_000, databaseMaxBytes: 1 << 30)
            let report = try await store.prune(policy, now: now, batch: 300)
            #expect(report.trimmedLines > 0)
            let usage = Dictionary(uniqueKeysWithValues: try await store.usage().map { ($0.key.function, $0) })
            #expect(usage["quiet"]?.lines == 50)
            #expect((usage["chatty"]?.bytes ?? .max) <= 300_000)
            let kept = try await store.lines(LogQuery(namespace: "n", function: "chatty", limit: 10_000))
            #expect(kept.count == usage["chatty"]?.lines)
            #expect(try await store.drops(namespace: "n", function: "chatty").prunedLines == 1000 - kept.count)
        }
    }
}
