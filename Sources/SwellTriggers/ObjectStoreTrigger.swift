import Foundation
import SwellModel
import SwellTasks

/// One record of an S3-style event notification, as S3, MinIO, Ceph RGW and other
/// S3-compatible stores POST them to a webhook: `{"Records": [{"eventName": …, "s3": {…}}]}`.
public struct ObjectEventRecord: Sendable {
    public var bucket: String
    /// The object key, URL-decoded (notifications carry it form-encoded: `a+b%2Fc` is `a b/c`).
    public var key: String
    public var eventName: String
    /// What makes this event unique for idempotency: the sequencer, else the eTag, else the event time.
    public var identity: String
    /// The record as it arrived (JSON), re-serialised.
    public var json: Data

    /// Parses a notification body. An S3 test event (`"Event": "s3:TestEvent"`) holds no records.
    /// - Throws: `SwellError` naming the field, e.g. `Records[1].s3.bucket.name: is required`.
    public static func parse(_ body: Data) throws(SwellError) -> [ObjectEventRecord] {
        guard let root = try? JSONSerialization.jsonObject(with: body) else {
            throw SwellError(.invalidJSON, "the notification must be JSON (an S3 event notification with Records)")
        }
        guard let object = root as? [String: Any] else { throw SwellError.invalid("body", "must be a JSON object with Records") }
        guard let list = object["Records"] else {
            if object["Event"] as? String == "s3:TestEvent" { return [] }
            throw SwellError.invalid("Records", "is required (a list of S3 event records)")
        }
        guard let records = list as? [Any] else { throw SwellError.invalid("Records", "must be a list") }
        var result: [ObjectEventRecord] = []
        for (i, item) in records.enumerated() {
            let path = "Records[\(i)]"
            guard let r = item as? [String: Any] else { throw SwellError.invalid(path, "must be an object") }
            guard let eventName = r["eventName"] as? String, !eventName.isEmpty else {
                throw SwellError.invalid("\(path).eventName", "is required (e.g. s3:ObjectCreated:Put)")
            }
            guard let s3 = r["s3"] as? [String: Any] else { throw SwellError.invalid("\(path).s3", "is required (an object with bucket and object)") }
            guard let bucket = (s3["bucket"] as? [String: Any])?["name"] as? String, !bucket.isEmpty else {
                throw SwellError.invalid("\(path).s3.bucket.name", "is required")
            }
            guard let obj = s3["object"] as? [String: Any], let rawKey = obj["key"] as? String else {
                throw SwellError.invalid("\(path).s3.object.key", "is required")
            }
            let key = rawKey.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? rawKey
            let identity = (obj["sequencer"] as? String) ?? (obj["eTag"] as? String) ?? (r["eventTime"] as? String) ?? ""
            let json = (try? JSONSerialization.data(withJSONObject: r, options: [.sortedKeys])) ?? Data()
            result.append(ObjectEventRecord(bucket: bucket, key: key, eventName: eventName, identity: identity, json: json))
        }
        return result
    }
}

/// What a notification did: records received, matched (record × trigger), tasks enqueued
/// (and executions started: their ids are listed under `tasks` too).
public struct ObjectEventsOutcome: Sendable, Encodable {
    public var received: Int
    public var matched = 0
    public var tasks: [String] = []
    /// Matches that could not be enqueued, with the reason.
    public var errors: [String] = []
}

/// Turns matching notification records into async tasks (or executions of its workflow);
/// each event is `{"Records": [record]}`, as Lambda hands S3 events to functions.
public actor ObjectStoreTrigger: TriggerRunner {
    let id: TriggerID
    let config: TriggerConfig
    let objectStore: ObjectStoreTriggerConfig
    let delivery: TriggerDelivery
    private var paused: Bool
    private var counters = TriggerCounters()
    private var error: (String, Date)?

    public init(id: TriggerID, config: TriggerConfig, objectStore: ObjectStoreTriggerConfig, delivery: TriggerDelivery, paused: Bool) {
        self.id = id
        self.config = config
        self.objectStore = objectStore
        self.delivery = delivery
        self.paused = paused
    }

    /// Notifications are pushed to ``deliver(_:)``; nothing to run in the background.
    public func run() async {}

    public func deliver(_ records: [ObjectEventRecord]) async -> ObjectEventsOutcome {
        var outcome = ObjectEventsOutcome(received: records.count)
        guard !paused else { return outcome }
        for record in records where objectStore.matches(bucket: record.bucket, key: record.key, eventName: record.eventName) {
            outcome.matched += 1
            counters.events += 1
            var payload = Data(#"{"Records":["#.utf8)
            payload.append(record.json)
            payload.append(Data("]}".utf8))
            do {
                let started = try await delivery.deliver(id, qualifier: config.qualifier, event: payload, idempotencyKey: Self.idempotencyKey(id.name, record))
                outcome.tasks.append(started)
                counters.invocations += 1
                error = nil
            } catch {
                let message = "\(id.function)/\(id.name): \(error.message)"
                outcome.errors.append(message)
                self.error = (message, Date())
            }
        }
        return outcome
    }

    public func setPaused(_ paused: Bool) {
        self.paused = paused
    }

    /// Trigger, bucket, key, event and the event's identity; long object keys (up to 1 KB)
    /// are folded into a 64-bit FNV-1a digest so that the key stays short.
    static func idempotencyKey(_ trigger: String, _ r: ObjectEventRecord) -> String {
        let full = "\(r.bucket)/\(r.key):\(r.eventName):\(r.identity)"
        guard full.utf8.count > 200 else { return "object-store:\(trigger):\(full)" }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in full.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return "object-store:\(trigger):\(String(hash, radix: 16))"
    }

    public func status() -> TriggerStatus {
        var s = TriggerStatus(id: id, config: config, state: paused ? .paused : (error == nil ? .running : .failing), counters: counters)
        s.error = error?.0
        s.errorAt = error?.1
        return s
    }
}
