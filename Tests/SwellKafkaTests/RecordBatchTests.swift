import NIOCore
import Testing
@testable import SwellKafka

@Suite struct RecordBatchTests {
    private func utf8(_ string: String) -> [UInt8] { Array(string.utf8) }

    /// Rewrites a batch's base offset and attributes and recomputes its CRC-32C, as a
    /// broker's log would hold it.
    private func patched(_ batch: ByteBuffer, baseOffset: Int64? = nil, attributes: Int16? = nil) -> ByteBuffer {
        var batch = batch
        if let baseOffset { batch.setInteger(baseOffset, at: batch.readerIndex) }
        if let attributes { batch.setInteger(attributes, at: batch.readerIndex + 21) }
        let crc = batch.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[21...])) }
        batch.setInteger(crc, at: batch.readerIndex + 17)
        return batch
    }

    /// One record, key "k", value "v", timestamp 1000: every byte computed by hand.
    /// CRC-32C 0x716a6189 computed independently over attributes...end.
    @Test func goldenSingleRecordBatch() throws {
        let batch = try RecordBatch.encode([KafkaProducerRecord(key: utf8("k"), value: utf8("v"), timestamp: 1000)],
                                           compression: .none, now: 0)
        #expect(hexString(batch) == hexString(hexBuffer("""
        0000000000000000 | 0000003a | ffffffff | 02 | 716a6189 | 0000 | 00000000
        | 00000000000003e8 | 00000000000003e8 | ffffffffffffffff | ffff | ffffffff | 00000001
        | 10 | 00 | 00 | 00 | 02 6b | 02 76 | 00
        """)))
        let decoded = try RecordBatch.decodeRecordSet(batch, fromOffset: 0)
        #expect(decoded == .init(records: [KafkaRecord(offset: 0, timestamp: 1000, key: utf8("k"), value: utf8("v"))], nextOffset: 1))
    }

    @Test func recordsWithHeadersNullsAndTimestampDeltas() throws {
        let batch = try RecordBatch.encode([
            KafkaProducerRecord(key: nil, value: utf8("a"), headers: [KafkaHeader(key: "h", value: nil)], timestamp: 5000),
            KafkaProducerRecord(key: utf8("k"), value: nil, timestamp: 4000),
        ], compression: .none, now: 0)
        // Second record: length 8, attributes 0, timestamp delta -1000 (zigzag 1999 = cf0f),
        // offset delta 1 (02), key "k", null value (01), no headers.
        #expect(hexString(batch).hasSuffix("1000cf0f02026b0100"))
        // maxTimestamp is the larger of the two.
        #expect(batch.getInteger(at: 35, as: Int64.self) == 5000)
        let decoded = try RecordBatch.decodeRecordSet(batch, fromOffset: 0)
        #expect(decoded.records == [
            KafkaRecord(offset: 0, timestamp: 5000, key: nil, value: utf8("a"), headers: [KafkaHeader(key: "h", value: nil)]),
            KafkaRecord(offset: 1, timestamp: 4000, key: utf8("k"), value: nil),
        ])
    }

    @Test(arguments: [KafkaCompression.none, .gzip])
    func roundTrip(compression: KafkaCompression) throws {
        let records = (0..<50).map { index in
            KafkaProducerRecord(key: index % 3 == 0 ? nil : utf8("key-\(index)"),
                                value: utf8(String(repeating: "value \(index) ", count: index)),
                                headers: (0..<(index % 4)).map { KafkaHeader(key: "h\($0)", value: utf8("\($0)")) },
                                timestamp: 1_700_000_000_000 + Int64(index))
        }
        let batch = try RecordBatch.encode(records, compression: compression, now: 0)
        #expect(batch.getInteger(at: 21, as: Int16.self) == compression.rawValue)
        let logged = patched(batch, baseOffset: 100)
        let decoded = try RecordBatch.decodeRecordSet(logged, fromOffset: 0)
        #expect(decoded.nextOffset == 150)
        #expect(decoded.records.count == 50)
        for (index, record) in decoded.records.enumerated() {
            #expect(record.offset == 100 + Int64(index))
            #expect(record.timestamp == records[index].timestamp)
            #expect(record.key == records[index].key)
            #expect(record.value == records[index].value)
            #expect(record.headers == records[index].headers)
        }
    }

    /// Decoded values are slices of the fetched set (its storage, not a copy per record).
    @Test func decodedValuesAreSlicesOfTheFetchedSet() throws {
        let records = (0..<10).map { KafkaProducerRecord(key: utf8("key-\($0)"), value: utf8("value-\($0)")) }
        let set = patched(try RecordBatch.encode(records, compression: .none, now: 1), baseOffset: 0)
        let decoded = try RecordBatch.decodeRecordSet(set, fromOffset: 0)
        let range = set.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!)..<UInt(bitPattern: $0.baseAddress! + $0.count) }
        #expect(decoded.records.count == 10)
        for (index, record) in decoded.records.enumerated() {
            let value = try #require(record.valueBytes)
            #expect(value.withUnsafeReadableBytes { range.contains(UInt(bitPattern: $0.baseAddress!)) })
            #expect(record.key == utf8("key-\(index)"))
            #expect(record.value == utf8("value-\(index)"))
        }
        // Equality and hashing are by content, whatever buffer holds the bytes.
        let copy = KafkaRecord(offset: 3, timestamp: 1, key: utf8("key-3"), value: utf8("value-3"))
        #expect(decoded.records[3] == copy)
        #expect(Set([decoded.records[3], copy]).count == 1)
    }

    @Test func gzipShrinksRepetitiveRecords() throws {
        let records = (0..<20).map { _ in KafkaProducerRecord(value: utf8(String(repeating: "swell ", count: 50))) }
        let plain = try RecordBatch.encode(records, compression: .none, now: 1)
        let gzip = try RecordBatch.encode(records, compression: .gzip, now: 1)
        #expect(gzip.readableBytes < plain.readableBytes / 5)
    }

    @Test func librdkafkaGzipBatchDecodes() throws {
        let batch = hexBuffer(CapturedFixtures.librdkafkaGzipBatch)
        let decoded = try RecordBatch.decodeRecordSet(batch, fromOffset: 0)
        let tail = String(repeating: "swell ", count: 20)
        #expect(decoded.records == [
            KafkaRecord(offset: 0, timestamp: 0x01A1_FFFC_83E2, key: utf8("k0"), value: utf8("gzip-0 " + tail), headers: [KafkaHeader(key: "h", value: utf8("0"))]),
            KafkaRecord(offset: 1, timestamp: 0x01A1_FFFC_83E2, key: utf8("k1"), value: utf8("gzip-1 " + tail)),
            KafkaRecord(offset: 2, timestamp: 0x01A1_FFFC_83E2, key: nil, value: utf8("gzip-2 " + tail)),
        ])
        #expect(decoded.nextOffset == 3)
    }

    @Test func recordsBelowTheFetchOffsetAreSkipped() throws {
        let batch = patched(hexBuffer(CapturedFixtures.librdkafkaGzipBatch), baseOffset: 10)
        #expect(try RecordBatch.decodeRecordSet(batch, fromOffset: 11).records.map(\.offset) == [11, 12])
        #expect(try RecordBatch.decodeRecordSet(batch, fromOffset: 13) == .init(records: [], nextOffset: 13))
    }

    @Test func corruptedCRCIsRejected() throws {
        var batch = hexBuffer(CapturedFixtures.librdkafkaGzipBatch)
        let last = batch.writerIndex - 5
        batch.setInteger(batch.getInteger(at: last, as: UInt8.self)! ^ 0x01, at: last)
        #expect {
            try RecordBatch.decodeRecordSet(batch, fromOffset: 0)
        } throws: { error in
            guard case let .corruptBatch(expected, _)? = error as? KafkaError else { return false }
            return expected == 0x0063_1C47
        }
    }

    @Test func partialTrailingBatchIsIgnored() throws {
        let first = try RecordBatch.encode([KafkaProducerRecord(value: utf8("one"))], compression: .none, now: 7)
        let second = patched(try RecordBatch.encode([KafkaProducerRecord(value: utf8("two")), KafkaProducerRecord(value: utf8("three"))],
                                                    compression: .none, now: 7), baseOffset: 1)
        var set = first
        set.writeImmutableBuffer(second)
        #expect(try RecordBatch.decodeRecordSet(set, fromOffset: 0).records.map(\.offset) == [0, 1, 2])
        for cut in [1, 11, 12, 17, 40, second.readableBytes - 1] {
            var truncated = first
            truncated.writeImmutableBuffer(second.getSlice(at: second.readerIndex, length: cut)!)
            let decoded = try RecordBatch.decodeRecordSet(truncated, fromOffset: 0)
            #expect(decoded.records.map(\.offset) == [0], "cut at \(cut)")
            #expect(decoded.nextOffset == 1)
        }
        // Only a partial batch: nothing, and no next offset.
        let alone = try RecordBatch.decodeRecordSet(second.getSlice(at: second.readerIndex, length: 30)!, fromOffset: 1)
        #expect(alone == .init(records: [], nextOffset: nil))
        #expect(try RecordBatch.decodeRecordSet(ByteBuffer(), fromOffset: 0) == .init(records: [], nextOffset: nil))
    }

    @Test func controlBatchesYieldNoRecordsButAdvance() throws {
        // A commit marker: control record key (version 0, type 1), value (version 0, coordinator epoch 0).
        let marker = KafkaProducerRecord(key: [0, 0, 0, 1], value: [0, 0, 0, 0, 0, 0])
        let control = patched(try RecordBatch.encode([marker], compression: .none, now: 1), baseOffset: 5,
                              attributes: RecordBatch.controlFlag | RecordBatch.transactionalFlag)
        let data = patched(try RecordBatch.encode([KafkaProducerRecord(value: utf8("after"))], compression: .none, now: 1), baseOffset: 6)
        var set = control
        set.writeImmutableBuffer(data)
        let decoded = try RecordBatch.decodeRecordSet(set, fromOffset: 5)
        #expect(decoded.records.map(\.offset) == [6])
        #expect(try RecordBatch.decodeRecordSet(control, fromOffset: 5) == .init(records: [], nextOffset: 6))
    }

    @Test(arguments: [(Int16(2), "snappy"), (3, "lz4"), (4, "zstd"), (5, "unknown(5)")])
    func unsupportedCompressionFailsClearly(codec: Int16, name: String) throws {
        let batch = patched(try RecordBatch.encode([KafkaProducerRecord(value: utf8("x"))], compression: .none, now: 1), attributes: codec)
        #expect(throws: KafkaError.unsupportedCompression(name)) {
            try RecordBatch.decodeRecordSet(batch, fromOffset: 0)
        }
    }

    @Test func logAppendTimeUsesMaxTimestamp() throws {
        let batch = patched(try RecordBatch.encode([KafkaProducerRecord(value: utf8("a"), timestamp: 10), KafkaProducerRecord(value: utf8("b"), timestamp: 30)],
                                                   compression: .none, now: 0), attributes: RecordBatch.timestampTypeFlag)
        #expect(try RecordBatch.decodeRecordSet(batch, fromOffset: 0).records.map(\.timestamp) == [30, 30])
    }

    @Test func oldMessageFormatsAreRejected() {
        // A magic-1 message: offset, size, crc, magic 1, ...
        let message = hexBuffer("0000000000000000 00000012 01020304 01 00 0000000000000000 ffffffff")
        #expect(throws: KafkaError.unsupportedMessageFormat(magic: 1)) {
            try RecordBatch.decodeRecordSet(message, fromOffset: 0)
        }
    }

    @Test func inconsistentRecordCountIsMalformed() throws {
        var batch = try RecordBatch.encode([KafkaProducerRecord(value: utf8("x"))], compression: .none, now: 1)
        batch.setInteger(Int32(2), at: 57) // claims two records, holds one
        #expect(throws: KafkaError.self) { try RecordBatch.decodeRecordSet(patched(batch), fromOffset: 0) }
    }
}
