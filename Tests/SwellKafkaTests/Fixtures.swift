import NIOCore

/// Bytes from hex, ignoring spaces, newlines and `|` separators used to annotate fields.
func hexBytes(_ text: String) -> [UInt8] {
    let digits = text.filter { $0.isHexDigit }
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    var bytes: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        bytes.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

func hexBuffer(_ text: String) -> ByteBuffer { ByteBuffer(bytes: hexBytes(text)) }

func hexString(_ buffer: ByteBuffer) -> String {
    buffer.readableBytesView.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// Captured fixtures (not hand-computed): bytes that other implementations produced.
enum CapturedFixtures {
    /// The record batch librdkafka 2.16 (confluent-kafka, compression.type=gzip) sent in a
    /// Produce request: three records, keys "k0", "k1", null, values "gzip-N " + "swell " x 20,
    /// header h=0 on the first.
    static let librdkafkaGzipBatch = """
    0000000000000000 0000007c 00000000 02 00631c47 0001 00000002 000001a1fffc83e2 000001a1fffc83e2
    ffffffffffffffff ffff ffffffff 00000003
    1f8b08000000000000039bc1c4c0c0c0926df08f31bd2ab340d740a1b83c352767004826a60c26830940d730b1641b
    425d633860ae61e801ba848511ea0ea381730700fb70bd80a0010000
    """

    /// tansu 0.6's Fetch v11 response body (after the correlation id) for topic "fx",
    /// partition 0 from offset 0: one uncompressed batch of three records (keys k0, k1,
    /// null; values gzip-0..2; header h=0 on the first), high watermark 3.
    static let tansuFetchV11 = """
    00000000 0000 00000000 00000001 0002 6678 00000001
    00000000 0000 0000000000000003 0000000000000003 0000000000000000 ffffffff 00000000
    0000006c
    0000000000000000 00000060 00000000 02 3e78ac7e 0000 00000002 000001a1fffc3994 000001a1fffc3994
    ffffffffffffffff ffff ffffffff 00000003
    24000000046b300c677a69702d3002026802301c000002046b310c677a69702d310018000004010c677a69702d3200
    """

    /// tansu 0.6's Fetch v11 response body for topic "gz" from offset 3: it stored
    /// librdkafka's gzip batch as is (base offset 3).
    static let tansuFetchV11Gzip = """
    00000000 0000 00000000 00000001 0002 677a 00000001
    00000000 0000 0000000000000006 0000000000000006 0000000000000000 ffffffff 00000000
    00000088
    0000000000000003 0000007c 00000000 02 00631c47 0001 00000002 000001a1fffc83e2 000001a1fffc83e2
    ffffffffffffffff ffff ffffffff 00000003
    1f8b08000000000000039bc1c4c0c0c0926df08f31bd2ab340d740a1b83c352767004826a60c26830940d730b1641b
    425d633860ae61e801ba848511ea0ea381730700fb70bd80a0010000
    """

    /// tansu 0.6's Metadata v8 response body for topic "fx".
    static let tansuMetadataV8 = """
    00000000 | 00000001 0000006f 0009 3132372e302e302e31 00004a94 ffff
    | 000d 74616e73755f636c7573746572 | 0000006f
    | 00000001 0000 0002 6678 00 00000001 0000 00000000 0000006f 00000000 00000001 0000006f 00000001 0000006f 00000000 80000000
    | ffffffff
    """
}
