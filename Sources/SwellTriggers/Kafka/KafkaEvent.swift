import Foundation
import NIOCore
import SwellKafka
import SwellRuntime

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
    /// Encodes the batch in one pass straight into bytes (base64 and numbers written in place).
    static func encode(_ batch: KafkaBatch, bootstrapServers: String) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(160 + batch.records.reduce(0) { $0 + 200 + ($1.value?.count ?? 0) * 4 / 3 + ($1.key?.count ?? 0) * 4 / 3 })
        out.writeStaticString(#"{"eventSource":"SelfManagedKafka","bootstrapServers":"#)
        out.writeJSONString(bootstrapServers)
        out.writeStaticString(#","records":{"#)
        out.writeJSONString("\(batch.source.topic)-\(batch.source.partition)")
        out.writeStaticString(":[")
        for (i, r) in batch.records.enumerated() {
            if i > 0 { out.writeStaticString(",") }
            out.writeStaticString(#"{"topic":"#)
            out.writeJSONString(batch.source.topic)
            out.writeStaticString(#","partition":"#)
            out.writeDecimal(batch.source.partition)
            out.writeStaticString(#","offset":"#)
            out.writeDecimal(r.offset)
            out.writeStaticString(#","timestamp":"#)
            if r.timestamp < 0 { out.writeStaticString("-") }
            out.writeDecimal(r.timestamp.magnitude)
            out.writeStaticString(#","timestampType":"CREATE_TIME""#)
            if let key = r.key {
                out.writeStaticString(#","key":""#)
                out.writeBase64(key)
                out.writeStaticString("\"")
            }
            if let value = r.value {
                out.writeStaticString(#","value":""#)
                out.writeBase64(value)
                out.writeStaticString("\"")
            } else {
                out.writeStaticString(#","value":null"#)
            }
            out.writeStaticString(#","headers":["#)
            for (j, h) in r.headers.enumerated() {
                if j > 0 { out.writeStaticString(",") }
                out.writeStaticString("{")
                out.writeJSONString(h.key)
                out.writeStaticString(":[")
                if let v = h.value {
                    for (k, byte) in v.enumerated() {
                        if k > 0 { out.writeStaticString(",") }
                        out.writeDecimal(byte)
                    }
                }
                out.writeStaticString("]}")
            }
            out.writeStaticString("]}")
        }
        out.writeStaticString("]}}")
        return out
    }
}
