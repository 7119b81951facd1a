import Foundation
import Testing

@testable import SwellModel

@Suite struct TriggerConfigTests {
    let sha = String(repeating: "a", count: 64)

    func parse(_ triggers: ConfigValue) throws -> FunctionConfig {
        try FunctionSpec.parse(
            .object(["runtime": "nodejs20", "handler": "index.handler", "codeSha256": .string(sha), "triggers": triggers]),
            path: "functions.grade")
    }

    func triggers(_ list: [ConfigValue]) throws -> [TriggerConfig] {
        try parse(.array(list)).triggers
    }

    /// The error of a function whose `triggers` list is `[trigger]`.
    func error(_ trigger: ConfigValue) -> SwellError? {
        errorOfList([trigger])
    }

    func errorOfList(_ list: [ConfigValue]) -> SwellError? {
        do {
            _ = try parse(.array(list))
            return nil
        } catch {
            return error as? SwellError
        }
    }

    func kafka(_ extra: [String: ConfigValue] = [:]) -> ConfigValue {
        var o: [String: ConfigValue] = ["type": "kafka", "brokers": ["127.0.0.1:19092"], "topics": ["homework"]]
        for (k, v) in extra { o[k] = v }
        return .object(o)
    }

    func timer(_ extra: [String: ConfigValue] = [:]) -> ConfigValue {
        var o: [String: ConfigValue] = ["type": "timer", "cron": "*/10 * * * * *"]
        for (k, v) in extra { o[k] = v }
        return .object(o)
    }

    func objectStore(_ extra: [String: ConfigValue] = [:]) -> ConfigValue {
        var o: [String: ConfigValue] = ["type": "object-store", "bucket": "photos"]
        for (k, v) in extra { o[k] = v }
        return .object(o)
    }

    // MARK: Parsing and defaults

    @Test func noTriggersIsAnEmptyList() throws {
        let c = try FunctionSpec.parse(.object(["runtime": "nodejs20", "handler": "index.handler", "codeSha256": .string(sha)]), path: "functions.grade")
        #expect(c.triggers.isEmpty)
        #expect(try parse(.null).triggers.isEmpty)
        #expect(try parse([]).triggers.isEmpty)
    }

    @Test func kafkaDefaults() throws {
        let t = try #require(try triggers([kafka()]).first)
        #expect(t.name == "kafka" && t.type == "kafka" && t.qualifier == "$LATEST" && t.enabled)
        #expect(t.source == .kafka(KafkaTriggerConfig(brokers: ["127.0.0.1:19092"], topics: ["homework"])))
        guard case .kafka(let k) = t.source else { Issue.record("not kafka"); return }
        #expect(!k.startFromEarliest)
        #expect(k.concurrency == 16 && k.ordering == .partition && k.batchSize == 1 && k.maxWait == 0.05)
        #expect(k.resultTopic == nil && k.deadLetterTopic == nil && k.groupID == nil)
        #expect(k.maxAttempts == 3 && k.retryDelay == 1 && k.maxRetryDelay == 60)
    }

    @Test func kafkaEveryField() throws {
        let t = try #require(try triggers([kafka([
            "name": "grader", "qualifier": "live", "enabled": false,
            "brokers": ["k1:9092", "k2.example.com:9093"], "topics": ["homework", "homework.retry"],
            "startPosition": "earliest", "concurrency": 64, "ordering": "key", "batchSize": 10, "maxWait": 0.5,
            "resultTopic": "graded", "deadLetterTopic": "homework-dlq", "maxAttempts": 5, "retryDelay": 2, "maxRetryDelay": 30,
            "groupId": "graders",
        ])]).first)
        #expect(t.name == "grader" && t.qualifier == "live" && !t.enabled)
        #expect(t.source == .kafka(KafkaTriggerConfig(
            brokers: ["k1:9092", "k2.example.com:9093"], topics: ["homework", "homework.retry"], startFromEarliest: true,
            concurrency: 64, ordering: .key, batchSize: 10, maxWait: 0.5, resultTopic: "graded", deadLetterTopic: "homework-dlq",
            maxAttempts: 5, retryDelay: 2, maxRetryDelay: 30, groupID: "graders")))
    }

    @Test func everyOrderingParses() throws {
        for ordering in KafkaOrdering.allCases {
            let t = try #require(try triggers([kafka(["ordering": .string(ordering.rawValue)])]).first)
            guard case .kafka(let k) = t.source else { Issue.record("not kafka"); continue }
            #expect(k.ordering == ordering)
        }
    }

    @Test func timerDefaults() throws {
        let t = try #require(try triggers([timer()]).first)
        #expect(t.name == "timer" && t.type == "timer" && t.qualifier == "$LATEST" && t.enabled)
        #expect(t.source == .timer(TimerTriggerConfig(cron: "*/10 * * * * *", timezone: "UTC", payload: .object([:]), missedFires: .skip)))
    }

    @Test func timerEveryField() throws {
        let t = try #require(try triggers([timer([
            "name": "nightly", "qualifier": "3", "cron": "0 30 2 * * MON-FRI", "timezone": "Asia/Shanghai",
            "payload": ["job": "sweep", "limit": 100, "tags": ["a", "b"]], "missedFires": "once",
        ])]).first)
        #expect(t.name == "nightly" && t.qualifier == "3")
        #expect(t.source == .timer(TimerTriggerConfig(
            cron: "0 30 2 * * MON-FRI", timezone: "Asia/Shanghai", payload: ["job": "sweep", "limit": 100, "tags": ["a", "b"]], missedFires: .once)))
        // The classic five fields (no seconds) and macros are accepted too.
        #expect(try triggers([timer(["cron": "*/5 * * * *"])]).count == 1)
        #expect(try triggers([timer(["cron": "@hourly"])]).count == 1)
    }

    @Test func timerPayloadMayBeAnyJSONValue() throws {
        let t = try #require(try triggers([timer(["payload": "tick"])]).first)
        guard case .timer(let timer) = t.source else { Issue.record("not a timer"); return }
        #expect(timer.payload == "tick")
    }

    @Test func objectStoreDefaults() throws {
        let t = try #require(try triggers([objectStore()]).first)
        #expect(t.name == "object-store" && t.type == "object-store" && t.qualifier == "$LATEST" && t.enabled)
        #expect(t.source == .objectStore(ObjectStoreTriggerConfig(bucket: "photos", events: ["s3:ObjectCreated:*"], prefix: "", suffix: "")))
    }

    @Test func objectStoreEveryField() throws {
        let t = try #require(try triggers([objectStore([
            "name": "thumbs", "events": ["s3:ObjectCreated:Put", "s3:ObjectRemoved:*"], "prefix": "uploads/", "suffix": ".png",
        ])]).first)
        #expect(t.name == "thumbs")
        #expect(t.source == .objectStore(ObjectStoreTriggerConfig(
            bucket: "photos", events: ["s3:ObjectCreated:Put", "s3:ObjectRemoved:*"], prefix: "uploads/", suffix: ".png")))
    }

    // MARK: Names

    @Test func defaultNamesFollowTheType() throws {
        let list = try triggers([kafka(), kafka(["topics": ["other"]]), timer(), objectStore(), kafka(["topics": ["third"]]), timer(["name": "nightly"])])
        #expect(list.map(\.name) == ["kafka", "kafka-2", "timer", "object-store", "kafka-3", "nightly"])
    }

    @Test func duplicateNamesAreRejected() {
        let e = errorOfList([timer(["name": "tick"]), objectStore(["name": "tick"])])
        #expect(e?.field == "functions.grade.triggers[1].name")
        #expect(e?.message.contains("\"tick\"") == true)
        // A written name that a default name meets is a duplicate too.
        #expect(errorOfList([timer(), timer(["name": "timer-2"]), timer()])?.field == "functions.grade.triggers[2].name")
    }

    @Test func badNamesAndQualifiers() {
        #expect(error(timer(["name": "1tick"]))?.field == "functions.grade.triggers[0].name")
        #expect(error(timer(["name": "tick tock"]))?.field == "functions.grade.triggers[0].name")
        #expect(error(timer(["name": .string(String(repeating: "t", count: 65))]))?.field == "functions.grade.triggers[0].name")
        #expect(error(timer(["qualifier": "not valid!"]))?.field == "functions.grade.triggers[0].qualifier")
        #expect(error(timer(["enabled": "yes"]))?.field == "functions.grade.triggers[0].enabled")
    }

    // MARK: Errors name the field

    @Test func listErrors() {
        #expect((try? parse("kafka")) == nil)
        do {
            _ = try parse(["type": "kafka"])
            Issue.record("a mapping instead of a list was accepted")
        } catch {
            #expect((error as? SwellError)?.field == "functions.grade.triggers")
        }
        let many = (0...TriggerConfig.maxTriggers).map { i in timer(["name": .string("t\(i)")]) }
        let e = errorOfList(many)
        #expect(e?.field == "functions.grade.triggers")
        #expect(e?.message.contains("at most 20") == true)
        #expect(errorOfList(Array(many.dropLast())) == nil)
        #expect(errorOfList(["kafka"])?.field == "functions.grade.triggers[0]")
    }

    @Test func typeErrors() {
        #expect(error(["cron": "* * * * * *"])?.field == "functions.grade.triggers[0].type")
        let unknown = error(["type": "sqs", "queue": "q"])
        #expect(unknown?.field == "functions.grade.triggers[0].type")
        #expect(unknown?.message.contains("kafka, timer, object-store") == true)
        #expect(unknown?.code == .invalidField)
    }

    @Test func unknownFieldsAreRejected() {
        #expect(error(kafka(["topic": "homework"]))?.field == "functions.grade.triggers[0].topic")
        // A field of another trigger type is unknown here.
        #expect(error(kafka(["cron": "* * * * * *"]))?.field == "functions.grade.triggers[0].cron")
        #expect(error(timer(["bucket": "photos"]))?.field == "functions.grade.triggers[0].bucket")
        #expect(error(objectStore(["topics": ["x"]]))?.field == "functions.grade.triggers[0].topics")
        #expect(error(objectStore(["filter": "x"]))?.message.contains("unknown field") == true)
    }

    @Test func kafkaErrors() {
        let p = "functions.grade.triggers[0]"
        let ordering = error(kafka(["ordering": "strict"]))
        #expect(ordering?.field == "\(p).ordering")
        #expect(ordering?.message.contains("none, key or partition") == true)
        #expect(error(kafka(["startPosition": "beginning"]))?.field == "\(p).startPosition")
        #expect(error(kafka(["topics": []]))?.field == "\(p).topics")
        #expect(error(kafka(["topics": "homework"]))?.field == "\(p).topics")
        #expect(error(kafka(["topics": .null]))?.field == "\(p).topics")
        #expect(error(kafka(["topics": ["home work"]]))?.field == "\(p).topics[0]")
        #expect(error(kafka(["topics": ["ok", "bad/topic"]]))?.field == "\(p).topics[1]")
        #expect(error(kafka(["topics": [".."]]))?.field == "\(p).topics[0]")
        #expect(error(kafka(["topics": [.string(String(repeating: "t", count: 250))]]))?.field == "\(p).topics[0]")
        #expect(error(kafka(["topics": ["a", "a"]]))?.field == "\(p).topics[1]")
        #expect(error(kafka(["topics": [7]]))?.field == "\(p).topics[0]")
        #expect(error(kafka(["brokers": .null]))?.field == "\(p).brokers")
        #expect(error(kafka(["brokers": ["127.0.0.1"]]))?.field == "\(p).brokers[0]")
        #expect(error(kafka(["brokers": ["k1:9092", "k2"]]))?.field == "\(p).brokers[1]")
        #expect(error(kafka(["brokers": [":9092"]]))?.field == "\(p).brokers[0]")
        #expect(error(kafka(["brokers": ["k1:0"]]))?.field == "\(p).brokers[0]")
        #expect(error(kafka(["brokers": ["k1:65536"]]))?.field == "\(p).brokers[0]")
        let loop = error(kafka(["resultTopic": "homework"]))
        #expect(loop?.field == "\(p).resultTopic")
        #expect(loop?.message.contains("source topics") == true)
        #expect(error(kafka(["deadLetterTopic": "homework"]))?.field == "\(p).deadLetterTopic")
        #expect(error(kafka(["resultTopic": "graded!"]))?.field == "\(p).resultTopic")
        #expect(error(kafka(["maxWait": 301]))?.field == "\(p).maxWait")
        #expect(error(kafka(["maxWait": -0.1]))?.field == "\(p).maxWait")
        #expect(error(kafka(["maxWait": "soon"]))?.field == "\(p).maxWait")
        #expect(error(kafka(["maxWait": 300])) == nil)
        #expect(error(kafka(["maxWait": 0])) == nil)
        #expect(error(kafka(["concurrency": 0]))?.field == "\(p).concurrency")
        #expect(error(kafka(["concurrency": 1001]))?.field == "\(p).concurrency")
        #expect(error(kafka(["batchSize": 10_001]))?.field == "\(p).batchSize")
        #expect(error(kafka(["maxAttempts": 0]))?.field == "\(p).maxAttempts")
        #expect(error(kafka(["maxAttempts": 101]))?.field == "\(p).maxAttempts")
        #expect(error(kafka(["retryDelay": 10, "maxRetryDelay": 5]))?.field == "\(p).retryDelay")
        #expect(error(kafka(["retryDelay": -1]))?.field == "\(p).retryDelay")
        #expect(error(kafka(["maxRetryDelay": 3601])) != nil)
        #expect(error(kafka(["maxRetryDelay": 3601]))?.field == "\(p).maxRetryDelay")
        #expect(error(kafka(["groupId": ""]))?.field == "\(p).groupId")
        #expect(error(kafka(["groupId": .string(String(repeating: "g", count: 256))]))?.field == "\(p).groupId")
    }

    @Test func timerErrors() {
        let p = "functions.grade.triggers[0]"
        let missing = error(["type": "timer"])
        #expect(missing?.field == "\(p).cron")
        #expect(missing?.message.contains("is required") == true)
        let cron = error(timer(["cron": "61 * * * * *"]))
        #expect(cron?.field == "\(p).cron")
        #expect(cron?.description.hasPrefix("\(p).cron: cron: ") == true)
        #expect(error(timer(["cron": "* * *"]))?.description.hasPrefix("\(p).cron: cron: ") == true)
        #expect(error(timer(["cron": "@sometimes"]))?.field == "\(p).cron")
        #expect(error(timer(["cron": ""]))?.field == "\(p).cron")
        let zone = error(timer(["timezone": "Nowhere/City"]))
        #expect(zone?.field == "\(p).timezone")
        #expect(zone?.description.hasPrefix("\(p).timezone: timezone: ") == true)
        #expect(error(timer(["timezone": "PST"]))?.field == "\(p).timezone")
        let missed = error(timer(["missedFires": "all"]))
        #expect(missed?.field == "\(p).missedFires")
        #expect(missed?.message.contains("skip or once") == true)
    }

    @Test func objectStoreErrors() {
        let p = "functions.grade.triggers[0]"
        #expect(error(["type": "object-store"])?.field == "\(p).bucket")
        #expect(error(objectStore(["bucket": ""]))?.field == "\(p).bucket")
        #expect(error(objectStore(["bucket": .string(String(repeating: "b", count: 256))]))?.field == "\(p).bucket")
        let events = error(objectStore(["events": ["ObjectCreated:*"]]))
        #expect(events?.field == "\(p).events[0]")
        #expect(events?.message.contains("s3:") == true)
        #expect(error(objectStore(["events": ["s3:ObjectCreated:*", "s3:"]]))?.field == "\(p).events[1]")
        #expect(error(objectStore(["events": []]))?.field == "\(p).events")
        #expect(error(objectStore(["events": "s3:ObjectCreated:*"]))?.field == "\(p).events")
        #expect(error(objectStore(["prefix": ["a"]]))?.field == "\(p).prefix")
    }

    @Test func errorsOfALaterTriggerNameItsIndex() {
        #expect(errorOfList([timer(), kafka(["ordering": "bad"])])?.field == "functions.grade.triggers[1].ordering")
        #expect(errorOfList([kafka(), objectStore(), timer(["cron": "x"])])?.field == "functions.grade.triggers[2].cron")
    }

    // MARK: Encoding

    @Test func configValueSpellsOutEverySetting() throws {
        let t = try #require(try triggers([kafka()]).first)
        guard case .object(let o) = t.configValue else { Issue.record("not a mapping"); return }
        #expect(o["type"] == "kafka" && o["name"] == "kafka" && o["qualifier"] == "$LATEST" && o["enabled"] == true)
        #expect(o["startPosition"] == "latest" && o["ordering"] == "partition" && o["concurrency"] == 16 && o["batchSize"] == 1)
        #expect(o["resultTopic"] == .null && o["deadLetterTopic"] == .null && o["groupId"] == .null)
        #expect(o["maxWait"] == .double(0.05) && o["retryDelay"] == .double(1) && o["maxRetryDelay"] == .double(60))
    }

    @Test func triggersRoundTripThroughJSON() throws {
        let list = try triggers([
            kafka(["resultTopic": "graded", "deadLetterTopic": "dlq", "ordering": "none", "batchSize": 50, "maxWait": 0.25,
                   "startPosition": "earliest", "groupId": "g", "enabled": false]),
            kafka(["topics": ["other"], "qualifier": "live"]),
            timer(["payload": ["job": "sweep", "n": 3, "nested": ["ok": true, "none": .null]], "missedFires": "once", "timezone": "Europe/Berlin"]),
            objectStore(["events": ["s3:ObjectRemoved:Delete"], "prefix": "in/", "suffix": ".jpg"]),
        ])
        let back = try JSONDecoder().decode([TriggerConfig].self, from: JSONEncoder().encode(list))
        #expect(back == list)

        let config = FunctionConfig(runtime: .nodejs20, handler: "index.handler", codeSha256: sha, triggers: list)
        let decoded = try JSONDecoder().decode(FunctionConfig.self, from: JSONEncoder().encode(config))
        #expect(decoded == config)
        #expect(decoded.triggers.map(\.name) == ["kafka", "kafka-2", "timer", "object-store"])
    }

    @Test func storedConfigsWithoutTriggersDecode() throws {
        let old = #"{"runtime":"nodejs20","handler":"index.handler","codeSha256":"\#(sha)","codeSize":1,"memory":128,"timeout":3,"concurrency":1,"environment":{},"description":""}"#
        let c = try JSONDecoder().decode(FunctionConfig.self, from: Data(old.utf8))
        #expect(c.triggers.isEmpty)
    }

    @Test func anInvalidStoredTriggerFailsToDecode() {
        let bad = #"{"type":"timer","name":"t","cron":"not a cron"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(TriggerConfig.self, from: Data(bad.utf8)) }
    }

    // MARK: Object store matching

    @Test func objectStoreMatchesBucketPrefixAndSuffix() {
        let c = ObjectStoreTriggerConfig(bucket: "photos", prefix: "uploads/", suffix: ".png")
        #expect(c.matches(bucket: "photos", key: "uploads/cat.png", eventName: "s3:ObjectCreated:Put"))
        #expect(c.matches(bucket: "photos", key: "uploads/.png", eventName: "s3:ObjectCreated:Put"))
        #expect(!c.matches(bucket: "videos", key: "uploads/cat.png", eventName: "s3:ObjectCreated:Put"))
        #expect(!c.matches(bucket: "Photos", key: "uploads/cat.png", eventName: "s3:ObjectCreated:Put"))
        #expect(!c.matches(bucket: "photos", key: "other/cat.png", eventName: "s3:ObjectCreated:Put"))
        #expect(!c.matches(bucket: "photos", key: "uploads/cat.jpg", eventName: "s3:ObjectCreated:Put"))
        #expect(!c.matches(bucket: "photos", key: "uploads/cat.png", eventName: "s3:ObjectRemoved:Delete"))
        let any = ObjectStoreTriggerConfig(bucket: "photos")
        #expect(any.matches(bucket: "photos", key: "", eventName: "s3:ObjectCreated:Copy"))
        #expect(any.matches(bucket: "photos", key: "deep/a b/c", eventName: "s3:ObjectCreated:CompleteMultipartUpload"))
    }

    @Test func eventNamesMatchWithOrWithoutTheS3Prefix() {
        let wildcard = ObjectStoreTriggerConfig(bucket: "b", events: ["s3:ObjectCreated:*"])
        // AWS sends event names without "s3:", MinIO with it.
        #expect(wildcard.matches(bucket: "b", key: "k", eventName: "ObjectCreated:Put"))
        #expect(wildcard.matches(bucket: "b", key: "k", eventName: "s3:ObjectCreated:Put"))
        #expect(wildcard.matches(bucket: "b", key: "k", eventName: "ObjectCreated:CompleteMultipartUpload"))
        #expect(!wildcard.matches(bucket: "b", key: "k", eventName: "ObjectRemoved:Delete"))
        #expect(!wildcard.matches(bucket: "b", key: "k", eventName: "s3:ObjectRemoved:Delete"))

        let exact = ObjectStoreTriggerConfig(bucket: "b", events: ["s3:ObjectCreated:Put", "s3:ObjectRemoved:Delete"])
        #expect(exact.matches(bucket: "b", key: "k", eventName: "ObjectCreated:Put"))
        #expect(exact.matches(bucket: "b", key: "k", eventName: "s3:ObjectRemoved:Delete"))
        #expect(!exact.matches(bucket: "b", key: "k", eventName: "ObjectCreated:Copy"))
        #expect(!exact.matches(bucket: "b", key: "k", eventName: "s3:ObjectRemoved:DeleteMarkerCreated"))
        #expect(!exact.matches(bucket: "b", key: "k", eventName: "s3:ObjectCreated:Putx"))

        let everything = ObjectStoreTriggerConfig(bucket: "b", events: ["s3:*"])
        #expect(everything.matches(bucket: "b", key: "k", eventName: "ObjectRemoved:Delete"))
        #expect(everything.matches(bucket: "b", key: "k", eventName: "s3:ObjectAccessed:Get"))
    }

    // MARK: Versions and changes

    @Test func versionedDropsTriggersAndTheURL() throws {
        var c = try parse([timer(), objectStore()])
        c.url = URLConfig(auth: .none)
        #expect(c.triggers.count == 2)
        let v = c.versioned
        #expect(v.triggers.isEmpty && v.url == nil)
        #expect(v.memory == c.memory && v.codeSha256 == c.codeSha256 && v.async == c.async)
    }

    @Test func changedFieldsReportsTriggers() throws {
        let old = try parse([timer()])
        let paused = try parse([timer(["enabled": false])])
        let changedCron = try parse([timer(["cron": "*/20 * * * * *"])])
        let none = try parse([])
        #expect(paused.changedFields(from: old) == ["triggers"])
        #expect(changedCron.changedFields(from: old) == ["triggers"])
        #expect(none.changedFields(from: old) == ["triggers"])
        let same = try parse([timer()])
        #expect(old.changedFields(from: same).isEmpty)
        var memory = old
        memory.memory = 256
        #expect(memory.changedFields(from: old) == ["memory"])
    }
}

@Suite struct WorkflowTriggerConfigTests {
    func parse(_ list: ConfigValue) throws(SwellError) -> [TriggerConfig] {
        try TriggerConfig.parseWorkflowList(FieldReader(.object(["triggers": list]), path: "workflows.grade-set"))
    }

    @Test func aWorkflowTakesAFunctionsTriggers() throws {
        let list = try parse(.array([
            .object(["type": "timer", "cron": "*/5 * * * * *", "payload": .object(["job": "sweep"])]),
            .object(["type": "object-store", "bucket": "pages", "qualifier": "live"]),
            .object(["type": "kafka", "brokers": .array(["127.0.0.1:19092"]), "topics": .array(["pages"])]),
        ]))
        #expect(list.map(\.name) == ["timer", "object-store", "kafka"])
        #expect(list[1].qualifier == "live")
    }

    @Test func kafkaResultAndDeadLetterTopicsAreRefusedWithTheirPath() {
        for field in ["resultTopic", "deadLetterTopic"] {
            var fields: [String: ConfigValue] = ["type": "kafka", "brokers": .array(["127.0.0.1:19092"]), "topics": .array(["pages"])]
            fields[field] = "out"
            let kafka = ConfigValue.object(fields)
            #expect(throws: SwellError.self) { try parse(.array([kafka])) }
            do {
                _ = try parse(.array([.object(["type": "timer", "cron": "0 0 * * *"]), kafka]))
            } catch {
                #expect(error.description.contains("workflows.grade-set.triggers[1].\(field)"), "\(error)")
            }
        }
    }

    @Test func errorsNameTheWorkflowsField() {
        do {
            _ = try parse(.array([.object(["type": "timer", "cron": "not a cron"])]))
            Issue.record("a bad cron was accepted")
        } catch {
            #expect(error.description.contains("workflows.grade-set.triggers[0]"), "\(error)")
        }
    }
}
