import NIOCore
import Testing
@testable import SwellKafka

@Suite struct KafkaPrimitivesTests {
    @Test func integersAreBigEndian() throws {
        var buffer = ByteBuffer()
        buffer.writeKafkaInt8(-2)
        buffer.writeKafkaInt16(0x0102)
        buffer.writeKafkaInt32(-1)
        buffer.writeKafkaInt64(0x0102_0304_0506_0708)
        buffer.writeKafkaBool(true)
        #expect(hexString(buffer) == "fe0102ffffffff010203040506070801")
        #expect(try buffer.readKafkaInt8() == -2)
        #expect(try buffer.readKafkaInt16() == 0x0102)
        #expect(try buffer.readKafkaInt32() == -1)
        #expect(try buffer.readKafkaInt64() == 0x0102_0304_0506_0708)
        #expect(try buffer.readKafkaBool())
        #expect(throws: KafkaError.self) { try buffer.readKafkaInt16() }
    }

    @Test func stringsAndNullableStrings() throws {
        var buffer = ByteBuffer()
        buffer.writeKafkaString("abc")
        buffer.writeKafkaNullableString(nil)
        buffer.writeKafkaString("")
        buffer.writeKafkaString("é")
        #expect(hexString(buffer) == "0003616263ffff00000002c3a9")
        #expect(try buffer.readKafkaString() == "abc")
        #expect(try buffer.readKafkaNullableString() == nil)
        #expect(try buffer.readKafkaString() == "")
        #expect(try buffer.readKafkaString() == "é")
    }

    @Test func nullStringWhereRequiredAndTruncatedStringsFail() {
        var null = hexBuffer("ffff")
        #expect(throws: KafkaError.self) { try null.readKafkaString() }
        var short = hexBuffer("0005 6162")
        #expect(throws: KafkaError.self) { try short.readKafkaString() }
        var negative = hexBuffer("fffe")
        #expect(throws: KafkaError.self) { try negative.readKafkaNullableString() }
    }

    @Test func bytesAndArrays() throws {
        var buffer = ByteBuffer()
        buffer.writeKafkaNullableBytes(ByteBuffer(bytes: [1, 2]))
        buffer.writeKafkaNullableBytes(nil)
        buffer.writeKafkaArray([Int32(7), 8]) { $0.writeKafkaInt32($1) }
        buffer.writeKafkaNullableArray(nil as [Int32]?) { $0.writeKafkaInt32($1) }
        #expect(hexString(buffer) == "000000020102ffffffff000000020000000700000008ffffffff")
        #expect(try buffer.readKafkaNullableBytes() == ByteBuffer(bytes: [1, 2]))
        #expect(try buffer.readKafkaNullableBytes() == nil)
        #expect(try buffer.readKafkaArray { try $0.readKafkaInt32() } == [7, 8])
        #expect(try buffer.readKafkaNullableArray { try $0.readKafkaInt32() } == nil)
    }

    @Test func arrayCountsBeyondTheBufferAreRejectedBeforeAllocating() {
        var buffer = hexBuffer("7fffffff 00000001")
        #expect(throws: KafkaError.self) { try buffer.readKafkaArray { try $0.readKafkaInt32() } }
    }

    /// Zigzag varints: 0→00, -1→01, 1→02, -64→7f, 64→8001, extremes take 5 (10) bytes.
    @Test(arguments: [
        (Int32(0), "00"), (-1, "01"), (1, "02"), (-2, "03"), (63, "7e"), (-64, "7f"), (64, "8001"),
        (300, "d804"), (-8193, "818001"), (Int32.max, "feffffff0f"), (Int32.min, "ffffffff0f"),
    ])
    func varints(value: Int32, hex: String) throws {
        var buffer = ByteBuffer()
        buffer.writeKafkaVarint(value)
        #expect(hexString(buffer) == hex)
        #expect(ByteBuffer.kafkaVarintSize(Int64(value)) == hex.count / 2)
        #expect(try buffer.readKafkaVarint() == value)
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: [
        (Int64(0), "00"), (-1, "01"), (1_700_000_000_000, "80a0abfef962"),
        (Int64.max, "feffffffffffffffff01"), (Int64.min, "ffffffffffffffffff01"),
    ])
    func varlongs(value: Int64, hex: String) throws {
        var buffer = ByteBuffer()
        buffer.writeKafkaVarlong(value)
        #expect(hexString(buffer) == hex)
        #expect(try buffer.readKafkaVarlong() == value)
    }

    @Test(arguments: [
        "80", // truncated
        "ffffffffff01", // six bytes for a 32-bit varint
        "ffffffff1f", // fifth byte carries more than 4 bits
    ])
    func malformedVarintsAreRejected(hex: String) {
        var buffer = hexBuffer(hex)
        #expect(throws: KafkaError.self) { try buffer.readKafkaVarint() }
    }

    @Test func overlongVarlongIsRejected() {
        var buffer = hexBuffer("ffffffffffffffffff03")
        #expect(throws: KafkaError.self) { try buffer.readKafkaVarlong() }
        var eleven = hexBuffer("8080808080808080808000")
        #expect(throws: KafkaError.self) { try eleven.readKafkaVarlong() }
    }

    @Test func varintBytes() throws {
        var buffer = ByteBuffer()
        buffer.writeKafkaVarintBytes(ByteBuffer(string: "k"))
        buffer.writeKafkaVarintBytes(nil)
        #expect(hexString(buffer) == "026b01")
        #expect(try buffer.readKafkaVarintBytes() == ByteBuffer(string: "k"))
        #expect(try buffer.readKafkaVarintBytes() == nil)
    }

    @Test func crc32cKnownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // RFC 3720 (iSCSI) B.4 vectors.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func crc32cSlicedAgreesWithBytewise() {
        var generator = SystemRandomNumberGenerator()
        for length in [0, 1, 7, 8, 9, 63, 64, 65, 1000] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let sliced = bytes.withUnsafeBytes { CRC32C.checksum($0) }
            #expect(sliced == CRC32C.checksum(bytes), "length \(length)")
        }
    }

    /// Vectors of the Java client's `UtilsTest.testMurmur2`.
    @Test(arguments: [
        ("21", Int32(-973_932_308)), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829), ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107),
    ])
    func murmur2MatchesTheJavaClient(key: String, hash: Int32) {
        #expect(Murmur2.hash(Array(key.utf8)) == hash)
    }

    @Test func murmur2Partitioning() {
        // murmur2("foobar") & 0x7fffffff = 1357151166; mod 4 = 2 (where librdkafka's murmur2_random put it).
        #expect(Murmur2.partition(forKey: Array("foobar".utf8), partitionCount: 4) == 2)
        #expect(Murmur2.partition(forKey: [], partitionCount: 3) == Int32((UInt32(bitPattern: Murmur2.hash([])) & 0x7FFF_FFFF) % 3))
    }

    @Test func gzipRoundTripAndFailures() throws {
        let input = Array(String(repeating: "swell kafka ", count: 100).utf8)
        let compressed = try Gzip.compress(input)
        #expect(compressed.count < input.count)
        #expect(Array(compressed.prefix(2)) == [0x1F, 0x8B])
        #expect(try Gzip.decompress(compressed, limit: 1 << 20) == input)
        #expect(throws: KafkaError.self) { try Gzip.decompress(Array(compressed.dropLast(10)), limit: 1 << 20) }
        #expect(throws: KafkaError.self) { try Gzip.decompress(compressed, limit: 100) }
        #expect(throws: KafkaError.self) { try Gzip.decompress([1, 2, 3, 4], limit: 100) }
        // Two concatenated members inflate to both inputs.
        let second = try Gzip.compress(Array("more".utf8))
        #expect(try Gzip.decompress(compressed + second, limit: 1 << 20) == input + Array("more".utf8))
        #expect(try Gzip.decompress(try Gzip.compress([]), limit: 10) == [])
    }

    @Test func frameDecoderWaitsForWholeFrames() throws {
        var buffer = hexBuffer("00000003 0102")
        #expect(try KafkaFrameDecoder.readFrame(from: &buffer, maxFrameSize: 100) == nil)
        buffer.writeBytes([3, 0, 0])
        #expect(try KafkaFrameDecoder.readFrame(from: &buffer, maxFrameSize: 100) == ByteBuffer(bytes: [1, 2, 3]))
        #expect(try KafkaFrameDecoder.readFrame(from: &buffer, maxFrameSize: 100) == nil)
        buffer.writeBytes([0, 0, 0, 0])
        #expect(try KafkaFrameDecoder.readFrame(from: &buffer, maxFrameSize: 100) == ByteBuffer())
        var huge = hexBuffer("00100000")
        #expect(throws: KafkaError.self) { try KafkaFrameDecoder.readFrame(from: &huge, maxFrameSize: 100) }
        var negative = hexBuffer("ffffffff")
        #expect(throws: KafkaError.self) { try KafkaFrameDecoder.readFrame(from: &negative, maxFrameSize: 100) }
    }

    @Test func errorCodes() {
        #expect(KafkaErrorCode(code: 6) == .notLeaderOrFollower)
        #expect(KafkaErrorCode(code: 6).isRetriable)
        #expect(KafkaErrorCode(code: 3).isRetriable) // UNKNOWN_TOPIC_OR_PARTITION, while topics are created
        #expect(KafkaErrorCode(code: 5).isRetriable)
        #expect(KafkaErrorCode(code: 7).isRetriable)
        #expect(KafkaErrorCode(code: 14).isRetriable)
        #expect(KafkaErrorCode(code: 15).isRetriable)
        #expect(KafkaErrorCode(code: 16).isRetriable)
        #expect(!KafkaErrorCode(code: 1).isRetriable) // OFFSET_OUT_OF_RANGE
        #expect(!KafkaErrorCode(code: 25).isRetriable)
        #expect(KafkaErrorCode(code: 1).name == "OFFSET_OUT_OF_RANGE")
        #expect(KafkaErrorCode(code: 0) == .none)
        #expect(KafkaErrorCode(code: -1) == .unknownServerError)
        #expect(KafkaErrorCode(code: 9999) == .unknown(9999))
        #expect(KafkaErrorCode(code: 9999).code == 9999)
        #expect(!KafkaErrorCode(code: 9999).isRetriable)
        #expect(KafkaErrorCode.notCoordinator.code == 16)
        #expect(KafkaError.broker(.notLeaderOrFollower, context: "Fetch t/0").isRetriable)
        #expect(!KafkaError.broker(.offsetOutOfRange, context: "Fetch t/0").isRetriable)
        #expect(KafkaError.unsupportedCompression("snappy").description.contains("supported: none, gzip"))
    }

    @Test func versionNegotiationPicksTheHighestCommonVersion() throws {
        #expect(try KafkaVersionNegotiation.choose(api: .fetch, ours: 4...11, broker: 0...17) == 11)
        #expect(try KafkaVersionNegotiation.choose(api: .fetch, ours: 4...11, broker: 0...6) == 6)
        #expect(throws: KafkaError.unsupportedVersion(api: "Fetch", brokerMin: 12, brokerMax: 17)) {
            try KafkaVersionNegotiation.choose(api: .fetch, ours: 4...11, broker: 12...17)
        }
        #expect(throws: KafkaError.unsupportedAPI("Fetch")) {
            try KafkaVersionNegotiation.choose(api: .fetch, ours: 4...11, broker: nil)
        }
    }
}
