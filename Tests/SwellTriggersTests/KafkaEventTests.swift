import Foundation
import NIOCore
import SwellKafka
import Testing
@testable import SwellTriggers

struct KafkaEventTests {
    @Test func theEventIsTheLambdaKafkaShapeWithExactBytes() throws {
        let key: [UInt8] = Array("student-1".utf8)
        let values: [[UInt8]] = [[], [0], [0xFF, 0xFE], Array("{\"id\":1}".utf8), Array(0..<255)]
        var records = values.enumerated().map { i, v in
            KafkaRecord(offset: Int64(15 + i), timestamp: 1_545_084_650_987, key: key, value: v,
                        headers: [KafkaHeader(key: "tr\"ace", value: [97, 98, 0])])
        }
        records.append(KafkaRecord(offset: 99, timestamp: -1, key: nil, value: nil, headers: [KafkaHeader(key: "h", value: nil)]))
        let batch = KafkaBatch(id: 1, source: TopicPartition("home.work_1", 3), records: records)
        let bytes = KafkaEvent.encode(batch, bootstrapServers: "127.0.0.1:19092")
        let event = try #require(JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any])
        #expect(event["eventSource"] as? String == "SelfManagedKafka")
        #expect(event["bootstrapServers"] as? String == "127.0.0.1:19092")
        let list = try #require((event["records"] as? [String: Any])?["home.work_1-3"] as? [[String: Any]])
        #expect(list.count == records.count)
        for (i, v) in values.enumerated() {
            #expect(list[i]["offset"] as? Int == 15 + i)
            #expect(list[i]["partition"] as? Int == 3)
            #expect(list[i]["timestamp"] as? Int == 1_545_084_650_987)
            #expect(Data(base64Encoded: list[i]["key"] as? String ?? "") == Data(key))
            #expect(Data(base64Encoded: list[i]["value"] as? String ?? "x") == Data(v), "value \(i)")
            #expect((list[i]["headers"] as? [[String: [Int]]]) == [["tr\"ace": [97, 98, 0]]])
        }
        let last = list[records.count - 1]
        #expect(last["key"] == nil)
        #expect(last["value"] is NSNull)
        #expect(last["timestamp"] as? Int == -1)
        #expect((last["headers"] as? [[String: [Int]]]) == [["h": []]])
    }

    /// The event's base64 (written straight from slices with a reader offset) is Foundation's, for every length.
    @Test func base64OfSlicesMatchesFoundation() {
        var storage = ByteBuffer(bytes: (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
        storage.moveReaderIndex(forwardBy: 7)
        for length in 0..<70 {
            let slice = storage.getSlice(at: storage.readerIndex + length, length: length)!
            var out = ByteBuffer(string: "x")
            slice.withUnsafeReadableBytes { KafkaEvent.writeBase64($0, into: &out) }
            #expect(String(buffer: out) == "x" + Data(slice.readableBytesView).base64EncodedString(), "length \(length)")
        }
    }

    @Test func resultArraysAreSplitByElementWithoutReencoding() {
        let text = #" [ {"a": [1, 2]}, "two", 3, null, [] ] "#
        let bytes = Array(text.utf8)
        let ranges = KafkaTrigger.arrayElements(bytes)
        #expect(ranges?.map { String(decoding: bytes[$0], as: UTF8.self) } == [#"{"a": [1, 2]}"#, #""two""#, "3", "null", "[]"])
        #expect(KafkaTrigger.arrayElements(Array(#"{"a":1}"#.utf8)) == nil)
        #expect(KafkaTrigger.arrayElements(Array("[1, 2] 3".utf8)) == nil)
        #expect(KafkaTrigger.arrayElements(Array("[1, ".utf8)) == nil)
        #expect(KafkaTrigger.arrayElements(Array("[]".utf8)) == [])
    }
}
