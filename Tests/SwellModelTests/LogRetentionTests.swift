import Testing

@testable import SwellModel

/// Retention decisions, the log tail and drop notices, as values.
@Suite struct LogRetentionTests {
    typealias Stream = LogRetentionPolicy.Stream

    @Test func fairLevelIsMaxMinFair() {
        #expect(LogRetentionPolicy.fairLevel([10, 20, 30], total: 100) == 30)
        #expect(LogRetentionPolicy.fairLevel([10, 100, 100], total: 110) == 50)
        #expect(LogRetentionPolicy.fairLevel([1000, 5], total: 105) == 100)
        #expect(LogRetentionPolicy.fairLevel([50, 50, 50, 50], total: 100) == 25)
        #expect(LogRetentionPolicy.fairLevel([], total: 100) == 0)
    }

    @Test func aFunctionAboveItsCapIsTrimmedToIt() {
        let policy = LogRetentionPolicy(functionMaxBytes: 1000, namespaceMaxBytes: 1 << 30, databaseMaxBytes: 1 << 30)
        let a = policy.allowances([Stream(id: 1, namespace: "n", bytes: 5000), Stream(id: 2, namespace: "n", bytes: 999)], fileBytes: 0)
        #expect(a == [1: 1000])
    }

    @Test func aChattyFunctionCannotEvictAQuietOneInItsNamespace() {
        let policy = LogRetentionPolicy(functionMaxBytes: 1 << 30, namespaceMaxBytes: 10_000, databaseMaxBytes: 1 << 30)
        let a = policy.allowances([
            Stream(id: 1, namespace: "n", bytes: 1_000_000), Stream(id: 2, namespace: "n", bytes: 2_000),
            Stream(id: 3, namespace: "other", bytes: 50_000),
        ], fileBytes: 0)
        // The quiet function keeps everything; the chatty one gets the rest; the other namespace is untouched.
        #expect(a == [1: 8_000, 3: 10_000])
    }

    @Test func theDatabaseBoundIsSharedFairlyByNamespacesThenFunctions() {
        let policy = LogRetentionPolicy(functionMaxBytes: 1 << 30, namespaceMaxBytes: 1 << 30, databaseMaxBytes: 100_000)
        let streams = [
            Stream(id: 1, namespace: "flood", bytes: 200_000), Stream(id: 2, namespace: "flood", bytes: 1_000),
            Stream(id: 3, namespace: "victim", bytes: 5_000),
        ]
        // Below the high-water mark nothing happens.
        #expect(policy.allowances(streams, fileBytes: 80_000).isEmpty)
        // Above it, the live data goes down to the low-water mark (file/accounted ratio 1 here: fileBytes == total).
        let a = policy.allowances(streams, fileBytes: 206_000)
        #expect(a[3] == nil, "the victim namespace keeps its lines")
        #expect(a[2] == nil, "the flood namespace's quiet function keeps its lines")
        let kept = 206_000 - 200_000 + a[1]!
        #expect(kept <= Int(100_000 * LogRetentionPolicy.lowWater))
        #expect(a[1]! > 50_000)
    }

    @Test func theFileToDataRatioScalesTheTarget() {
        let policy = LogRetentionPolicy(functionMaxBytes: 1 << 30, namespaceMaxBytes: 1 << 30, databaseMaxBytes: 100_000)
        let a = policy.allowances([Stream(id: 1, namespace: "n", bytes: 100_000)], fileBytes: 200_000)
        // Twice as many bytes on disk as accounted: keep half of the low-water target.
        #expect(a[1] == Int(100_000 * LogRetentionPolicy.lowWater / 2))
    }

    @Test func theTailKeepsWholeNewestLinesAndSaysWhatItLeftOut() {
        var tail = LogTail(budget: 400)
        for i in 0..<100 { tail.append("line \(i) " + String(repeating: "x", count: 20)) }
        let text = tail.text
        #expect(text.utf8.count <= 400)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("swell: log tail cut: \(tail.omittedLines) earlier lines left out"))
        #expect(lines.last!.hasPrefix("line 99 "))
        #expect(lines.dropFirst().allSatisfy { $0.hasSuffix(String(repeating: "x", count: 20)) }, "only whole lines")
        #expect(tail.omittedLines + lines.count - 1 == 100)
    }

    @Test func aShortTailHasNoNote() {
        var tail = LogTail()
        tail.append("a")
        tail.append("b")
        #expect(tail.text == "a\nb\n" && !tail.isCut)
    }

    @Test func aSingleHugeLineIsShownByItsEnd() {
        var tail = LogTail(budget: 300)
        tail.append(String(repeating: "é", count: 1000) + "END")
        let text = tail.text
        #expect(text.utf8.count <= 300 && tail.isCut)
        #expect(text.hasPrefix("swell: log tail cut: the last line shows only its end"))
        #expect(text.hasSuffix("END\n"))
    }

    @Test func dropNoticesNameTheReason() {
        #expect(LogDrops().notice == nil)
        let d = LogDrops(rateLimitedLines: 1200, rateLimitedBytes: 19_700_000, queueFullLines: 3, queueFullBytes: 300)
        #expect(d.notice == "swell: 1200 lines (18.8 MB) dropped (log rate limit of the namespace); 3 lines (300 B) dropped (log writer busy)")
        #expect((d + d).rateLimitedLines == 2400)
    }
}
