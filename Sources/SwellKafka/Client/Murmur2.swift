/// The Java client's default partitioner for keyed records: murmur2 (seed 0x9747b28c) of
/// the key bytes, made positive with `& 0x7fffffff`, modulo the partition count. Using
/// the same function puts a key in the same partition as Java clients and librdkafka's
/// `murmur2_random` partitioner.
enum Murmur2 {
    /// Kafka's `Utils.murmur2` as a signed 32-bit value.
    static func hash(_ data: [UInt8]) -> Int32 {
        let m: UInt32 = 0x5BD1_E995
        let r: UInt32 = 24
        let length = data.count
        var h: UInt32 = 0x9747_B28C ^ UInt32(truncatingIfNeeded: length)
        let blocks = length / 4
        for block in 0..<blocks {
            let i = block * 4
            var k = UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24
            k &*= m
            k ^= k >> r
            k &*= m
            h &*= m
            h ^= k
        }
        let tail = length & ~3
        let remainder = length % 4
        if remainder >= 3 { h ^= UInt32(data[tail + 2]) << 16 }
        if remainder >= 2 { h ^= UInt32(data[tail + 1]) << 8 }
        if remainder >= 1 {
            h ^= UInt32(data[tail])
            h &*= m
        }
        h ^= h >> 13
        h &*= m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    /// The partition the Java client's default partitioner picks for `key`.
    static func partition(forKey key: [UInt8], partitionCount: Int) -> Int32 {
        precondition(partitionCount > 0)
        let positive = UInt32(bitPattern: hash(key)) & 0x7FFF_FFFF
        return Int32(positive % UInt32(partitionCount))
    }
}
