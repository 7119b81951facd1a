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
    /// Encodes the batch in one pass straight into bytes (base64 and numbers written in place,
    /// values read from the fetched slices). Called off the trigger's actor.
    static func encode(_ batch: KafkaBatch, bootstrapServers: String) -> ByteBuffer {
        var out = ByteBuffer()
        var capacity = 160
        for r in batch.records {
            let key: Int = base64Length(r.key?.count ?? 0)
            let value: Int = base64Length(r.valueBytes?.readableBytes ?? 0)
            capacity += 200 + key + value
        }
        out.reserveCapacity(capacity)
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
                key.withUnsafeBytes { writeBase64($0, into: &out) }
                out.writeStaticString("\"")
            }
            if let value = r.valueBytes {
                out.writeStaticString(#","value":""#)
                value.withUnsafeReadableBytes { writeBase64($0, into: &out) }
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

    static func base64Length(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 (with padding) of `bytes`, written in one pass straight from the
    /// record's bytes into the event (no intermediate array, string or per-byte write).
    static func writeBase64(_ src: UnsafeRawBufferPointer, into out: inout ByteBuffer) {
        let length = base64Length(src.count)
        guard length > 0 else { return }
        alphabet.withUnsafeBufferPointer { table in
            do {
                _ = out.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { dst in
                    var i = 0, o = 0
                    let n = src.count
                    while i + 3 <= n {
                        let v = UInt32(src[i]) << 16 | UInt32(src[i + 1]) << 8 | UInt32(src[i + 2])
                        dst[o] = table[Int(v >> 18 & 63)]
                        dst[o + 1] = table[Int(v >> 12 & 63)]
                        dst[o + 2] = table[Int(v >> 6 & 63)]
                        dst[o + 3] = table[Int(v & 63)]
                        i += 3
                        o += 4
                    }
                    if i < n {
                        let b = i + 1 < n ? UInt32(src[i + 1]) : 0
                        let v = UInt32(src[i]) << 16 | b << 8
                        dst[o] = table[Int(v >> 18 & 63)]
                        dst[o + 1] = table[Int(v >> 12 & 63)]
                        dst[o + 2] = i + 1 < n ? table[Int(v >> 6 & 63)] : UInt8(ascii: "=")
                        dst[o + 3] = UInt8(ascii: "=")
                        o += 4
                    }
                    return o
                }
            }
        }
    }
}
