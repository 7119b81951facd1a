import NIOCore

/// Record batch v2 (magic 2), the on-disk and on-wire format of Kafka records since 0.11.
///
/// ```
/// baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 (2)
/// crc uint32 (CRC-32C of everything after it) | attributes int16 | lastOffsetDelta int32
/// baseTimestamp int64 | maxTimestamp int64 | producerId int64 | producerEpoch int16
/// baseSequence int32 | recordCount int32 | records (compressed as a whole when attributes say so)
/// ```
enum RecordBatch {
    /// Bytes from the start of a batch to the end of `batchLength`.
    static let logOverhead = 12
    /// Bytes of a batch header, up to and including the record count.
    static let headerSize = 61
    /// Offset of the CRC field, and of the attributes field where the CRC starts.
    static let crcOffset = 17
    static let attributesOffset = 21

    static let compressionMask: Int16 = 0x07
    static let timestampTypeFlag: Int16 = 0x08
    static let transactionalFlag: Int16 = 0x10
    static let controlFlag: Int16 = 0x20

    /// A cap on decompressed batch size, so that a hostile batch cannot exhaust memory.
    static let maxDecompressedSize = 256 << 20

    /// The name of a compression codec id, for errors.
    static func codecName(_ id: Int16) -> String {
        switch id {
        case 0: "none"
        case 1: "gzip"
        case 2: "snappy"
        case 3: "lz4"
        case 4: "zstd"
        default: "unknown(\(id))"
        }
    }

    // MARK: Encoding

    /// Encodes `records` as one batch with base offset 0 (the broker assigns offsets),
    /// no producer id (not idempotent) and create-time timestamps.
    static func encode(_ records: [KafkaProducerRecord], compression: KafkaCompression, now: Int64) throws -> ByteBuffer {
        precondition(!records.isEmpty, "a record batch holds at least one record")
        let timestamps = records.map { $0.timestamp ?? now }
        let baseTimestamp = timestamps[0]
        let maxTimestamp = timestamps.max() ?? baseTimestamp

        var body = ByteBuffer()
        for (index, record) in records.enumerated() {
            encodeRecord(record, offsetDelta: Int32(index), timestampDelta: timestamps[index] - baseTimestamp, into: &body)
        }
        if compression == .gzip {
            let compressed = try Gzip.compress(Array(body.readableBytesView))
            body = ByteBuffer(bytes: compressed)
        }

        var batch = ByteBuffer()
        batch.reserveCapacity(headerSize + body.readableBytes)
        batch.writeKafkaInt64(0) // baseOffset
        batch.writeKafkaInt32(Int32(headerSize - logOverhead + body.readableBytes)) // batchLength
        batch.writeKafkaInt32(-1) // partitionLeaderEpoch
        batch.writeKafkaInt8(2) // magic
        batch.writeInteger(UInt32(0)) // crc, filled in below
        batch.writeKafkaInt16(compression.rawValue) // attributes
        batch.writeKafkaInt32(Int32(records.count - 1)) // lastOffsetDelta
        batch.writeKafkaInt64(baseTimestamp)
        batch.writeKafkaInt64(maxTimestamp)
        batch.writeKafkaInt64(-1) // producerId
        batch.writeKafkaInt16(-1) // producerEpoch
        batch.writeKafkaInt32(-1) // baseSequence
        batch.writeKafkaInt32(Int32(records.count))
        batch.writeBuffer(&body)
        let crc = batch.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[attributesOffset...])) }
        batch.setInteger(crc, at: batch.readerIndex + crcOffset)
        return batch
    }

    static func encodeRecord(_ record: KafkaProducerRecord, offsetDelta: Int32, timestampDelta: Int64, into buffer: inout ByteBuffer) {
        var body = ByteBuffer()
        body.writeKafkaInt8(0) // attributes (unused)
        body.writeKafkaVarlong(timestampDelta)
        body.writeKafkaVarint(offsetDelta)
        body.writeKafkaVarintBytes(record.key.map { ByteBuffer(bytes: $0) })
        body.writeKafkaVarintBytes(record.value.map { ByteBuffer(bytes: $0) })
        body.writeKafkaVarint(Int32(record.headers.count))
        for header in record.headers {
            body.writeKafkaVarintBytes(ByteBuffer(string: header.key))
            body.writeKafkaVarintBytes(header.value.map { ByteBuffer(bytes: $0) })
        }
        buffer.writeKafkaVarint(Int32(body.readableBytes))
        buffer.writeBuffer(&body)
    }

    // MARK: Decoding

    /// What a record set (the `records` field of a Fetch partition) decoded to.
    struct DecodedSet: Equatable {
        /// Data records at or above the requested offset, in offset order.
        var records: [KafkaRecord]
        /// The offset after the last complete batch (control batches included), or `nil`
        /// when the set held no complete batch.
        var nextOffset: Int64?
    }

    /// Decodes every complete batch in `buffer`, verifying each CRC-32C.
    ///
    /// A partial batch at the end (a broker cuts the set at the fetch's byte limit) is
    /// ignored. Control batches (transaction markers) yield no records. Records below
    /// `fromOffset` (a compressed batch is returned whole) are skipped.
    static func decodeRecordSet(_ buffer: ByteBuffer, fromOffset: Int64) throws -> DecodedSet {
        var buffer = buffer
        var result = DecodedSet(records: [], nextOffset: nil)
        while buffer.readableBytes >= logOverhead {
            let start = buffer.readerIndex
            guard let batchLength = buffer.getInteger(at: start + 8, as: Int32.self) else { break }
            guard batchLength >= 0 else { throw KafkaError.malformedMessage("negative batch length \(batchLength)") }
            let total = logOverhead + Int(batchLength)
            guard buffer.readableBytes >= total else { break } // partial trailing batch
            guard total > 16, let magic = buffer.getInteger(at: start + 16, as: Int8.self) else {
                throw KafkaError.malformedMessage("batch of \(batchLength) bytes is too short")
            }
            guard magic == 2 else { throw KafkaError.unsupportedMessageFormat(magic: magic) }
            guard total >= headerSize else { throw KafkaError.malformedMessage("batch of \(batchLength) bytes is too short") }
            let batch = buffer.readSlice(length: total)!
            try decodeBatch(batch, fromOffset: fromOffset, into: &result)
        }
        return result
    }

    private static func decodeBatch(_ batch: ByteBuffer, fromOffset: Int64, into result: inout DecodedSet) throws {
        var batch = batch
        let storedCRC = batch.getInteger(at: batch.readerIndex + crcOffset, as: UInt32.self)!
        let actualCRC = batch.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[attributesOffset...])) }
        guard storedCRC == actualCRC else { throw KafkaError.corruptBatch(expectedCRC: storedCRC, actualCRC: actualCRC) }

        let baseOffset = try batch.readKafkaInt64()
        _ = try batch.readKafkaInt32() // batchLength
        _ = try batch.readKafkaInt32() // partitionLeaderEpoch
        _ = try batch.readKafkaInt8() // magic
        _ = try batch.readKafkaInteger(as: UInt32.self) // crc
        let attributes = try batch.readKafkaInt16()
        let lastOffsetDelta = try batch.readKafkaInt32()
        let baseTimestamp = try batch.readKafkaInt64()
        let maxTimestamp = try batch.readKafkaInt64()
        _ = try batch.readKafkaInt64() // producerId
        _ = try batch.readKafkaInt16() // producerEpoch
        _ = try batch.readKafkaInt32() // baseSequence
        let count = try batch.readKafkaInt32()

        let lastOffset = baseOffset + Int64(lastOffsetDelta)
        result.nextOffset = max(result.nextOffset ?? Int64.min, lastOffset + 1)
        if attributes & controlFlag != 0 { return } // a transaction marker: no data records
        if lastOffset < fromOffset { return } // wholly below the requested offset

        let codec = attributes & compressionMask
        var records: ByteBuffer
        switch codec {
        case 0:
            records = batch
        case 1:
            records = ByteBuffer(bytes: try Gzip.decompress(Array(batch.readableBytesView), limit: maxDecompressedSize))
        default:
            throw KafkaError.unsupportedCompression(codecName(codec))
        }
        guard count >= 0, Int(count) <= records.readableBytes else {
            throw KafkaError.malformedMessage("record count \(count) in a batch of \(records.readableBytes) bytes")
        }
        let logAppendTime = attributes & timestampTypeFlag != 0
        result.records.reserveCapacity(result.records.count + Int(count))
        for _ in 0..<count {
            let length = try records.readKafkaVarint()
            guard length >= 0, var record = records.readSlice(length: Int(length)) else {
                throw KafkaError.malformedMessage("truncated record of \(length) bytes")
            }
            _ = try record.readKafkaInt8() // attributes
            let timestampDelta = try record.readKafkaVarlong()
            let offsetDelta = try record.readKafkaVarint()
            let key = try record.readKafkaVarintBytes()
            let value = try record.readKafkaVarintBytes()
            let headerCount = try record.readKafkaVarint()
            guard headerCount >= 0, Int(headerCount) <= record.readableBytes else {
                throw KafkaError.malformedMessage("header count \(headerCount)")
            }
            var headers: [KafkaHeader] = []
            if headerCount > 0 { headers.reserveCapacity(Int(headerCount)) }
            for _ in 0..<headerCount {
                guard let keyBytes = try record.readKafkaVarintBytes() else {
                    throw KafkaError.malformedMessage("null header key")
                }
                let headerValue = try record.readKafkaVarintBytes()
                headers.append(KafkaHeader(key: String(decoding: keyBytes.readableBytesView, as: UTF8.self),
                                           value: headerValue.map { Array($0.readableBytesView) }))
            }
            guard record.readableBytes == 0 else {
                throw KafkaError.malformedMessage("\(record.readableBytes) stray bytes after a record")
            }
            let offset = baseOffset + Int64(offsetDelta)
            if offset < fromOffset { continue }
            result.records.append(KafkaRecord(
                offset: offset,
                timestamp: logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta,
                key: key.map { Array($0.readableBytesView) },
                valueBytes: value, // a slice of the fetched set: no copy per record
                headers: headers
            ))
        }
        guard records.readableBytes == 0 else {
            throw KafkaError.malformedMessage("\(records.readableBytes) stray bytes after \(count) records")
        }
    }
}
