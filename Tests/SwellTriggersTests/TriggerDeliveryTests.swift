import SwellKafka
import SwellModel
import Testing

@testable import SwellTriggers

@Suite struct TriggerDeliveryTests {
    func isExecutionName(_ s: String) -> Bool {
        Names.isFunctionName(s)
    }

    @Test func executionNamesAreValidStableAndShort() {
        let key = "timer:nightly@2026-12-01T20:15:00Z"
        let name = TriggerDelivery.executionName(key)
        #expect(isExecutionName(name))
        #expect(name.hasPrefix("timer-nightly-2026-12-01T20-15-00Z-"))
        #expect(name == TriggerDelivery.executionName(key))  // a fire delivered twice: one name
        let long = "object-store:uploads:" + String(repeating: "ü/ä ", count: 300) + ":s3:ObjectCreated:Put:0055AED6DCD90281E5"
        let longName = TriggerDelivery.executionName(long)
        #expect(isExecutionName(longName))
        #expect(longName.count == 64)
    }

    @Test func keysThatReadAlikeGetDifferentNames() {
        // Both sanitise to the same readable part; the digest of the whole key tells them apart.
        #expect(TriggerDelivery.executionName("a:b") != TriggerDelivery.executionName("a-b"))
        #expect(TriggerDelivery.executionName("timer:t@1") != TriggerDelivery.executionName("timer:t@2"))
        let prefix = String(repeating: "x", count: 100)
        #expect(TriggerDelivery.executionName(prefix + "1") != TriggerDelivery.executionName(prefix + "2"))
    }

    @Test func workflowTriggersHaveTheirOwnStateKeyAndGroup() {
        let f = TriggerID(namespace: "default", function: "grade", name: "nightly")
        let w = TriggerID(namespace: "default", workflow: "grade", name: "nightly")
        #expect(f != w)
        #expect(f.description == "default/grade/nightly")  // unchanged for functions' stored state
        #expect(w.description == "default/workflow:grade/nightly")
        #expect(f.defaultGroupID == "swell-default-grade-nightly")
        #expect(w.defaultGroupID == "swell-default-workflow-grade-nightly")
        #expect(w.kind == .workflow && w.target == "grade")
    }

    @Test func statusNamesTheWorkflowNotAFunction() throws {
        let config = try TriggerConfig.parse(.object(["type": "timer", "cron": "0 0 * * *"]), path: "t", defaultName: "nightly")
        let s = TriggerStatus(id: TriggerID(namespace: "default", workflow: "grade-set", name: "nightly"), config: config, state: .running)
        #expect(s.workflow == "grade-set" && s.function == nil)
    }

    @Test func aKafkaBatchIsNamedByItsPartitionAndOffsets() {
        func batch(_ offsets: ClosedRange<Int64>, id: Int) -> KafkaBatch {
            KafkaBatch(
                id: id, source: TopicPartition("homework", 3),
                records: offsets.map { KafkaRecord(offset: $0, timestamp: 0, key: nil, value: Array("v\($0)".utf8)) })
        }
        // The same records after a restart (another batch id): the same execution.
        #expect(KafkaTrigger.executionKey(trigger: "kafka", batch(10...14, id: 1)) == "kafka:kafka:homework-3@10-14")
        #expect(KafkaTrigger.executionKey(trigger: "kafka", batch(10...14, id: 9)) == KafkaTrigger.executionKey(trigger: "kafka", batch(10...14, id: 1)))
        #expect(KafkaTrigger.executionKey(trigger: "kafka", batch(15...15, id: 2)) != KafkaTrigger.executionKey(trigger: "kafka", batch(10...14, id: 1)))
        #expect(isExecutionName(TriggerDelivery.executionName(KafkaTrigger.executionKey(trigger: "kafka", batch(10...14, id: 1)))))
    }
}
