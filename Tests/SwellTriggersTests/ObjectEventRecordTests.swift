import Foundation
import SwellModel
import Testing

@testable import SwellTriggers

@Suite struct ObjectEventRecordTests {
    /// A MinIO-style record (event name with `s3:`), keys as given.
    func record(bucket: String = "photos", key: String = "uploads/cat.png", eventName: String = "s3:ObjectCreated:Put",
                object extra: [String: Any] = ["sequencer": "17F2A1B3C4D5E6F7"], eventTime: String? = "2026-11-21T20:00:00.000Z") -> [String: Any] {
        var object: [String: Any] = ["key": key, "size": 1024]
        for (k, v) in extra { object[k] = v }
        var r: [String: Any] = [
            "eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "", "eventName": eventName,
            "userIdentity": ["principalId": "minioadmin"],
            "s3": ["s3SchemaVersion": "1.0", "configurationId": "Config", "bucket": ["name": bucket, "arn": "arn:aws:s3:::\(bucket)"], "object": object],
        ]
        if let eventTime { r["eventTime"] = eventTime }
        return r
    }

    func body(_ root: Any) -> Data {
        try! JSONSerialization.data(withJSONObject: root)
    }

    func notification(_ records: [[String: Any]]) -> Data {
        body(["EventName": "s3:ObjectCreated:Put", "Key": "photos/uploads/cat.png", "Records": records])
    }

    func error(_ data: Data) -> SwellError? {
        do {
            _ = try ObjectEventRecord.parse(data)
            return nil
        } catch {
            return error
        }
    }

    func error(_ root: Any) -> SwellError? { error(body(root)) }

    @Test func parsesARecord() throws {
        let records = try ObjectEventRecord.parse(notification([record()]))
        #expect(records.count == 1)
        let r = try #require(records.first)
        #expect(r.bucket == "photos" && r.key == "uploads/cat.png" && r.eventName == "s3:ObjectCreated:Put")
        #expect(r.identity == "17F2A1B3C4D5E6F7")
    }

    @Test func keepsTheRecordAsItArrived() throws {
        let original = record(key: "a+b%2Fc.png")
        let r = try #require(try ObjectEventRecord.parse(notification([original])).first)
        let back = try #require(try JSONSerialization.jsonObject(with: r.json) as? NSDictionary)
        // The record itself, not decoded: the key stays as sent.
        #expect(back == original as NSDictionary)
        #expect(String(decoding: r.json, as: UTF8.self).contains(#""key":"a+b%2Fc.png""#))
    }

    @Test func keysAreURLDecoded() throws {
        let cases: [(String, String)] = [
            ("a+b%2Fc", "a b/c"),
            ("uploads/my+photo.png", "uploads/my photo.png"),
            ("a%2Bb", "a+b"),
            ("%E5%9B%BE%E7%89%87.png", "图片.png"),
            ("plain/key.txt", "plain/key.txt"),
            // Not valid percent-encoding: kept as sent.
            ("100%", "100%"),
        ]
        for (raw, decoded) in cases {
            let r = try #require(try ObjectEventRecord.parse(notification([record(key: raw)])).first)
            #expect(r.key == decoded, "\(raw)")
        }
    }

    @Test func severalRecordsKeepTheirOrder() throws {
        let records = try ObjectEventRecord.parse(notification([
            record(key: "one"), record(bucket: "docs", key: "two", eventName: "ObjectRemoved:Delete"), record(key: "three"),
        ]))
        #expect(records.map(\.key) == ["one", "two", "three"])
        #expect(records.map(\.bucket) == ["photos", "docs", "photos"])
        #expect(records[1].eventName == "ObjectRemoved:Delete")
    }

    @Test func identityFallsBackFromSequencerToETagToEventTime() throws {
        func identity(_ object: [String: Any], eventTime: String?) throws -> String {
            try #require(try ObjectEventRecord.parse(notification([record(object: object, eventTime: eventTime)])).first).identity
        }
        #expect(try identity(["sequencer": "SEQ", "eTag": "etag"], eventTime: "T") == "SEQ")
        #expect(try identity(["eTag": "etag"], eventTime: "T") == "etag")
        #expect(try identity([:], eventTime: "2026-11-21T20:00:00.000Z") == "2026-11-21T20:00:00.000Z")
        #expect(try identity([:], eventTime: nil) == "")
    }

    @Test func aTestEventHoldsNoRecords() throws {
        #expect(try ObjectEventRecord.parse(body(["Event": "s3:TestEvent", "Service": "Amazon S3", "Bucket": "photos"])).isEmpty)
        #expect(try ObjectEventRecord.parse(notification([])).isEmpty)
    }

    @Test func errorsNameTheField() {
        let notJSON = error(Data("not json".utf8))
        #expect(notJSON?.code == .invalidJSON)
        #expect(error(Data())?.code == .invalidJSON)
        #expect(error([record()])?.field == "body")
        #expect(error(["Event": "s3:SomethingElse"])?.field == "Records")
        #expect(error(["Records": "none"])?.field == "Records")
        #expect(error(["Records": [7]])?.field == "Records[0]")

        var noName = record()
        noName.removeValue(forKey: "eventName")
        #expect(error(notification([record(), noName]))?.field == "Records[1].eventName")
        #expect(error(notification([record(eventName: "")]))?.field == "Records[0].eventName")

        var noS3 = record()
        noS3.removeValue(forKey: "s3")
        #expect(error(notification([noS3]))?.field == "Records[0].s3")

        #expect(error(notification([record(bucket: "")]))?.field == "Records[0].s3.bucket.name")
        var noBucket = record()
        noBucket["s3"] = ["object": ["key": "k"]]
        #expect(error(notification([record(), record(), noBucket]))?.field == "Records[2].s3.bucket.name")

        var noKey = record()
        noKey["s3"] = ["bucket": ["name": "photos"], "object": ["size": 1]]
        #expect(error(notification([noKey]))?.field == "Records[0].s3.object.key")
        var noObject = record()
        noObject["s3"] = ["bucket": ["name": "photos"]]
        let e = error(notification([noObject]))
        #expect(e?.field == "Records[0].s3.object.key")
        #expect(e?.code == .invalidField)
        #expect(e?.description == "Records[0].s3.object.key: is required")
    }
}
