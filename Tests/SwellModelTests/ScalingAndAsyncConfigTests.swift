import Foundation
import SwellModel
import Testing

@Suite struct ScalingAndAsyncConfigTests {
    let sha = String(repeating: "a", count: 64)

    func parse(_ fields: [String: ConfigValue]) throws -> FunctionConfig {
        var object: [String: ConfigValue] = ["runtime": "nodejs20", "handler": "index.handler", "codeSha256": .string(sha)]
        for (k, v) in fields { object[k] = v }
        return try FunctionSpec.parse(.object(object), path: "functions.grade")
    }

    func error(_ fields: [String: ConfigValue]) -> SwellError? {
        do {
            _ = try parse(fields)
            return nil
        } catch {
            return error as? SwellError
        }
    }

    @Test func theIssuesScalingBlockParses() throws {
        let c = try parse(["scaling": [
            "minInstances": 0, "maxInstances": 100, "keepAlive": 60,
            "schedule": [["cron": "0 50 18 * * MON-FRI", "timezone": "Asia/Shanghai", "minInstances": 20, "duration": 7200]],
        ]])
        #expect(c.scaling == ScalingConfig(minInstances: 0, maxInstances: 100, keepAlive: 60, schedule: [
            ScheduleRule(cron: "0 50 18 * * MON-FRI", timezone: "Asia/Shanghai", minInstances: 20, duration: 7200),
        ]))
    }

    @Test func defaultsWhenAbsent() throws {
        let c = try parse([:])
        #expect(c.scaling == ScalingConfig())
        #expect(c.async == AsyncConfig())
    }

    @Test func scalingErrorsNameTheField() {
        #expect(error(["scaling": ["minInstances": 5, "maxInstances": 2]])?.field == "functions.grade.scaling.minInstances")
        #expect(error(["scaling": ["keepAlive": 0]])?.field == "functions.grade.scaling.keepAlive")
        #expect(error(["scaling": ["schedule": "daily"]])?.field == "functions.grade.scaling.schedule")
        #expect(error(["scaling": ["schedule": [["cron": "0 0 25 * * *", "minInstances": 1, "duration": 60]]]])?.field
            == "functions.grade.scaling.schedule[0].cron")
        #expect(error(["scaling": ["schedule": [["cron": "0 0 * * * *", "timezone": "Nowhere/City", "minInstances": 1, "duration": 60]]]])?.field
            == "functions.grade.scaling.schedule[0].timezone")
        #expect(error(["scaling": ["maxInstances": 3, "schedule": [["cron": "0 0 * * * *", "minInstances": 5, "duration": 60]]]])?.field
            == "functions.grade.scaling.schedule[0].minInstances")
    }

    @Test func scheduledMinimumFollowsTheWindow() throws {
        // 18:50 Asia/Shanghai on Friday 2026-11-20 is 10:50 UTC; the window lasts two hours.
        let scaling = ScalingConfig(schedule: [ScheduleRule(cron: "0 50 18 * * MON-FRI", timezone: "Asia/Shanghai", minInstances: 20, duration: 7200)])
        let iso = ISO8601DateFormatter()
        #expect(scaling.scheduledMinimum(at: iso.date(from: "2026-11-20T10:49:59Z")!) == 0)
        #expect(scaling.scheduledMinimum(at: iso.date(from: "2026-11-20T10:50:00Z")!) == 20)
        #expect(scaling.scheduledMinimum(at: iso.date(from: "2026-11-20T12:49:59Z")!) == 20)
        #expect(scaling.scheduledMinimum(at: iso.date(from: "2026-11-20T12:50:00Z")!) == 0)
        // Saturday: no window.
        #expect(scaling.scheduledMinimum(at: iso.date(from: "2026-11-21T11:00:00Z")!) == 0)
    }

    @Test func theIssuesAsyncBlockParses() throws {
        let c = try parse(["async": [
            "maxAttempts": 3, "maxEventAge": 3600, "concurrency": 50,
            "onSuccess": ["function": "archive"], "onFailure": ["webhook": "http://127.0.0.1:9000/failed"],
        ]])
        #expect(c.async.maxAttempts == 3 && c.async.maxEventAge == 3600 && c.async.concurrency == 50)
        #expect(c.async.onSuccess == .function(name: "archive", qualifier: nil))
        #expect(c.async.onFailure == .webhook(url: "http://127.0.0.1:9000/failed", cloudEvents: false))
    }

    @Test func asyncErrorsNameTheField() {
        #expect(error(["async": ["maxAttempts": 0]])?.field == "functions.grade.async.maxAttempts")
        #expect(error(["async": ["onSuccess": ["function": "a", "webhook": "http://x/y"]]])?.field == "functions.grade.async.onSuccess")
        #expect(error(["async": ["onFailure": ["webhook": "ftp://x"]]])?.field == "functions.grade.async.onFailure.webhook")
        #expect(error(["async": ["onFailure": ["kafka": ["topic": "dlq"]]]])?.field == "functions.grade.async.onFailure.kafka.brokers")
        #expect(error(["async": ["retryDelay": 10, "maxRetryDelay": 5]])?.field == "functions.grade.async.retryDelay")
    }

    @Test func configsWrittenBeforeScalingExistedStillDecode() throws {
        let old = #"{"runtime":"nodejs20","handler":"index.handler","codeSha256":"\#(sha)","codeSize":1,"memory":128,"timeout":3,"concurrency":1,"environment":{},"description":""}"#
        let c = try JSONDecoder().decode(FunctionConfig.self, from: Data(old.utf8))
        #expect(c.scaling == ScalingConfig() && c.async == AsyncConfig())
    }

    @Test func destinationsRoundTripThroughJSON() throws {
        let config = AsyncConfig(onSuccess: .kafka(brokers: ["127.0.0.1:19092"], topic: "graded"), onFailure: .webhook(url: "https://h/x", cloudEvents: true))
        let back = try JSONDecoder().decode(AsyncConfig.self, from: JSONEncoder().encode(config))
        #expect(back == config)
    }
}
