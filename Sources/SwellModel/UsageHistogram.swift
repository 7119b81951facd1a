import Foundation

/// A mergeable latency histogram with logarithmic buckets: eight per doubling of the value
/// in microseconds (each bucket about 9% wide), from 1 µs to about 71 minutes, so that the
/// histograms of many hours and functions add up to one whose percentiles are as exact as
/// each hour's (within half a bucket, about 4.5%, and clamped to the smallest and largest
/// value seen).
///
/// ```swift
/// var h = LatencyHistogram()
/// h.record(milliseconds: 12.5)
/// h.merge(other)
/// let p99 = h.percentile(0.99)
/// ```
public struct LatencyHistogram: Sendable, Hashable {
    /// Buckets per doubling.
    public static let bucketsPerDoubling = 8
    /// Bucket count: index 255 holds everything from 2^31.875 µs (about 68 minutes) up.
    public static let bucketCount = 256

    /// Counts per bucket index: empty, or `bucketCount` entries (dense, so that merging and
    /// walking are plain loops).
    public private(set) var counts: [Int64]
    /// Values recorded.
    public private(set) var count: Int64
    /// Smallest and largest value recorded, in microseconds (0 when empty).
    public private(set) var minMicros: Int64
    public private(set) var maxMicros: Int64

    public init() {
        counts = []
        count = 0
        minMicros = 0
        maxMicros = 0
    }

    public var isEmpty: Bool { count == 0 }

    /// The bucket of a value in microseconds.
    public static func bucket(micros: Int64) -> UInt8 {
        guard micros > 1 else { return 0 }
        let index = Int((log2(Double(micros)) * Double(bucketsPerDoubling)).rounded(.down))
        return UInt8(clamping: min(bucketCount - 1, max(0, index)))
    }

    /// The value that stands for a bucket: the geometric middle of its bounds, in microseconds.
    public static func representative(bucket: UInt8) -> Double {
        exp2((Double(bucket) + 0.5) / Double(bucketsPerDoubling))
    }

    /// Records one value in milliseconds (negative values count as zero).
    public mutating func record(milliseconds: Double) {
        let micros = Int64(max(0, min(milliseconds * 1000, 9.0e15)).rounded())
        record(micros: micros, count: 1)
    }

    mutating func record(micros: Int64, count n: Int64) {
        guard n > 0 else { return }
        if count == 0 {
            minMicros = micros
            maxMicros = micros
            if counts.isEmpty { counts = [Int64](repeating: 0, count: Self.bucketCount) }
        } else {
            minMicros = min(minMicros, micros)
            maxMicros = max(maxMicros, micros)
        }
        counts[Int(Self.bucket(micros: micros))] += n
        count += n
    }

    /// Adds another histogram's values to this one.
    public mutating func merge(_ other: LatencyHistogram) {
        guard other.count > 0 else { return }
        guard count > 0 else {
            self = other
            return
        }
        minMicros = min(minMicros, other.minMicros)
        maxMicros = max(maxMicros, other.maxMicros)
        count += other.count
        counts.withUnsafeMutableBufferPointer { mine in
            other.counts.withUnsafeBufferPointer { theirs in
                for i in 0..<Self.bucketCount { mine[i] &+= theirs[i] }
            }
        }
    }

    /// The value below which the fraction `q` (0...1) of the recorded values fall, in
    /// milliseconds (nearest rank); nil when empty.
    public func percentile(_ q: Double) -> Double? {
        let total = count
        guard total > 0 else { return nil }
        let rank = max(1, Int64((q * Double(total)).rounded(.up)))
        // The extremes are known exactly.
        if rank >= total { return Double(maxMicros) / 1000 }
        if rank == 1 { return Double(minMicros) / 1000 }
        var seen: Int64 = 0
        for bucket in 0..<Self.bucketCount {
            seen += counts[bucket]
            if seen >= rank {
                let value = Self.representative(bucket: UInt8(bucket))
                return min(Double(maxMicros), max(Double(minMicros), value)) / 1000
            }
        }
        return Double(maxMicros) / 1000
    }

    // MARK: Storage encoding

    /// A compact binary form for storage: a format byte (1), the minimum and maximum as
    /// 8 bytes little-endian each, then per non-empty bucket its index (1 byte) and count
    /// (8 bytes little-endian), by increasing index.
    public var encoded: [UInt8] {
        var out: [UInt8] = [1]
        out.reserveCapacity(17 + 9 * 32)
        func put(_ v: Int64) {
            var le = v.littleEndian
            withUnsafeBytes(of: &le) { out.append(contentsOf: $0) }
        }
        put(minMicros)
        put(maxMicros)
        for (bucket, n) in counts.enumerated() where n != 0 {
            out.append(UInt8(bucket))
            put(n)
        }
        return out
    }

    /// Reads `encoded`; nil for bytes that are not such a histogram.
    public init?<Bytes: Collection>(encoded bytes: Bytes) where Bytes.Element == UInt8 {
        let decoded = bytes.withContiguousStorageIfAvailable { b in Self(encoded: UnsafeRawBufferPointer(b)) }
            ?? Array(bytes).withUnsafeBytes { Self(encoded: $0) }
        guard let decoded else { return nil }
        self = decoded
    }

    /// Reads `encoded` from raw bytes; nil for bytes that are not such a histogram.
    public init?(encoded b: UnsafeRawBufferPointer) {
        guard b.count >= 17, b[0] == 1, (b.count - 17) % 9 == 0 else { return nil }
        func get(_ at: Int) -> Int64 {
            Int64(littleEndian: b.loadUnaligned(fromByteOffset: at, as: Int64.self))
        }
        self.init()
        minMicros = get(1)
        maxMicros = get(9)
        var counts = [Int64](repeating: 0, count: Self.bucketCount)
        var total: Int64 = 0
        var at = 17
        while at < b.count {
            let n = get(at + 1)
            guard n > 0 else { return nil }
            counts[Int(b[at])] += n
            total += n
            at += 9
        }
        if total > 0 {
            self.counts = counts
            count = total
        }
    }
}
