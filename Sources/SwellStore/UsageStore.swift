import Foundation
import SwellModel

/// Metering: per-hour usage of every function version, roll-ups that keep month-long reports
/// cheap, and the price table.
///
/// Written in batches by the usage meter (never on the invoke path), read by `GET /v1/usage`.
/// `add` merges each delta into its version's hour (counters add up, peak and memory take the
/// larger value, latency histograms merge) and, in the same transaction, into two roll-ups:
/// the namespace's hour (all its functions and versions) and the function's UTC day. A month's
/// report then reads about 720 namespace hours or 30 days per function instead of every
/// version's hour. Implementations: SQLite (`SQLiteUsageStore`, `usage.db`); a PostgreSQL one
/// follows the same contract.
public protocol UsageStore: Sendable {
    /// Merges hourly deltas (one record per version and hour) into the store, in one transaction.
    func add(_ deltas: [UsageRecord]) async throws
    /// Per-version hours of `namespace` (every namespace when nil), optionally of one function,
    /// whose hour starts in `fromHour..<toHour` (seconds since the epoch).
    func versionHours(namespace: String?, function: String?, fromHour: Int64, toHour: Int64) async throws -> [UsageRecord]
    /// One record per namespace and hour (`function` and `version` empty): the sums of its
    /// versions' hours, `peakInstances` the sum of their peaks, `alwaysOnMBHours` the sum of theirs.
    func namespaceHours(namespace: String?, fromHour: Int64, toHour: Int64) async throws -> [UsageRecord]
    /// One record per namespace, function and UTC day (`key.hour` is the day's midnight,
    /// `version` empty) for days starting in `fromDay..<toDay`: the sums of the function's hours,
    /// `peakInstances` the largest hour of the day (its versions added up).
    func functionDays(namespace: String?, function: String?, fromDay: Int64, toDay: Int64) async throws -> [UsageRecord]
    /// The largest number of instances alive in any hour of the range, over every function of
    /// `namespace` (every namespace when nil) added up.
    func peakInstances(namespace: String?, fromHour: Int64, toHour: Int64) async throws -> Int64
    /// The price table set through the API or `--prices` (nil: none stored yet).
    func prices() async throws -> PriceTable?
    func setPrices(_ prices: PriceTable) async throws
}

extension UsageStore {
    /// The usage report of `fromHour..<toHour`, read at the coarsest granularity that gives
    /// exact figures: namespace hours for rows by hour or day over every function, daily
    /// roll-ups (with the edge hours of partial days) for rows by function, version hours for
    /// one function by hour or day.
    public func report(
        namespace: String?, function: String?, fromHour: Int64, toHour: Int64, by grouping: UsageGrouping, prices: PriceTable
    ) async throws -> UsageReport {
        let label = namespace ?? "*"
        switch grouping {
        case .hour, .day:
            let records = function == nil
                ? try await namespaceHours(namespace: namespace, fromHour: fromHour, toHour: toHour)
                : try await versionHours(namespace: namespace, function: function, fromHour: fromHour, toHour: toHour)
            return UsageReport.build(records, by: grouping, prices: prices, namespaceLabel: label)
        case .function:
            let span = UsageSpan(fromHour: fromHour, toHour: toHour)
            var records = try await functionDays(
                namespace: namespace, function: function, fromDay: span.days.lowerBound, toDay: span.days.upperBound)
            records += try await versionHours(
                namespace: namespace, function: function, fromHour: span.head.lowerBound, toHour: span.head.upperBound)
            records += try await versionHours(
                namespace: namespace, function: function, fromHour: span.tail.lowerBound, toHour: span.tail.upperBound)
            // Functions peak at different hours of a day: the total's peak comes from the namespace hours.
            let totalPeak = function == nil ? try await peakInstances(namespace: namespace, fromHour: fromHour, toHour: toHour) : nil
            return UsageReport.build(records, by: .function, prices: prices, namespaceLabel: label, totalPeak: totalPeak)
        }
    }
}
