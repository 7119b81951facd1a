import Foundation
import SwellModel

/// Metering: per-hour usage of every function version, and the price table.
///
/// Written in batches by the usage meter (never on the invoke path), read by `GET /v1/usage`.
/// `add` merges: counters add up, peaks and memory take the larger value, latency histograms
/// merge, so writers may send any number of deltas for the same hour. Implementations: SQLite
/// (`SQLiteUsageStore`, `usage.db`); a PostgreSQL one follows the same contract.
public protocol UsageStore: Sendable {
    /// Merges hourly deltas into the stored rows, in one transaction.
    func add(_ deltas: [UsageRecord]) async throws
    /// Stored rows of `namespace` (every namespace when nil), optionally of one function, whose
    /// hour starts in `fromHour..<toHour` (seconds since the epoch).
    func usage(namespace: String?, function: String?, fromHour: Int64, toHour: Int64) async throws -> [UsageRecord]
    /// The price table set through the API or `--prices` (nil: none stored yet).
    func prices() async throws -> PriceTable?
    func setPrices(_ prices: PriceTable) async throws
}
