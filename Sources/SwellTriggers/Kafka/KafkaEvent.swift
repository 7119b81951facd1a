import Foundation
import NIOCore
import SwellKafka

/// The event a Kafka trigger hands to its function: the shape of a Lambda self-managed
/// Kafka event source, keys and values base64-encoded (so that any bytes arrive intact),
/// headers as arrays of byte values.
///
/// ```json
/// {"eventSource":"SelfManagedKafka","bootstrapServers":"127.0.0.1:19092",
///  "records":{"homework-0":[{"topic":"homework","partition":0,"offset":15,"timestamp":1545084650987,
///   "timestampType":"CREATE_TIME","key":"c3R1ZGVudC0x","value":"eyJpZCI6MX0=","headers":[{"trace":[97,98]}]}]}}
/// ```
enum KafkaEvent {
    static func encode(_ batch: KafkaBatch, bootstrapServers: String) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(160 + batch.records.reduce(0) { $0 + 200 + ($1.value?.count ?? 0) * 4 / 3 + ($1.key?.count ?? 0) * 4 / 3 })
        out.writeString(#"{"eventSource":"SelfManagedKafka","bootstrapServers":"#)
        writeJSONString(bootstrapServers, to: &out)
        out.writeString(#","records":{""#)
        // Topic names are limited to a-z A-Z 0-9 . _ - and need no escaping.
        out.writeString("\(batch.source.topic)-\(batch.source.partition)\":[")
        for (i, r) in batch.records.enumerated() {
            if i > 0 { out.writeString(",") }
            out.writeString(#"{"topic":""#)
            out.writeString(batch.source.topic)
            out.writeString(#"","partition":"#)
            out.writeString(String(batch.source.partition))
            out.writeString(#","offset":"#)
            out.writeString(String(r.offset))
            out.writeString(#","timestamp":"#)
            out.writeString(String(r.timestamp))
            out.writeString(#","timestampType":"CREATE_TIME""#)
            if let key = r.key {
                out.writeString(#","key":""#)
                out.writeString(Data(key).base64EncodedString())
                out.writeString("\"")
            }
            if let value = r.value {
                out.writeString(#","value":""#)
                out.writeString(Data(value).base64EncodedString())
                out.writeString("\"")
            } else {
                out.writeString(#","value":null"#)
            }
            out.writeString(#","headers":["#)
            for (j, h) in r.headers.enumerated() {
                if j > 0 { out.writeString(",") }
                out.writeString("{")
                writeJSONString(h.key, to: &out)
                out.writeString(":[")
                if let v = h.value { out.writeString(v.map { String($0) }.joined(separator: ",")) }
                out.writeString("]}")
            }
            out.writeString("]}")
        }
        out.writeString("]}}")
        return out
    }

    static func writeJSONString(_ s: String, to out: inout ByteBuffer) {
        out.writeString("\"")
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out.writeString("\\\"")
            case "\\": out.writeString("\\\\")
            case "\n": out.writeString("\\n")
            case "\r": out.writeString("\\r")
            case "\t": out.writeString("\\t")
            case _ where scalar.value < 0x20: out.writeString(String(format: "\\u%04x", scalar.value))
            default: out.writeString(String(scalar))
            }
        }
        out.writeString("\"")
    }
}
