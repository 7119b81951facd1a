import Foundation
import Hummingbird
import SwellInvoker
import SwellModel
import SwellStore

/// `GET /v1/usage` (metered usage and its cost) and `GET`/`PUT /v1/prices`.
struct UsageRoutes {
    let meter: UsageMeter

    /// Longest range one request may ask for.
    static let maxRangeDays = 400

    func register(on group: RouterGroup<SwellRequestContext>) {
        group.get("usage") { request, ctx in
            let p = try ctx.requirePrincipal()
            let q = request.uri.queryParameters
            let query = try Self.query(
                namespace: q.get("namespace"), function: q.get("function"), since: q.get("since"), until: q.get("until"),
                by: q.get("by"), principal: p, now: Date())
            // Everything metered up to now is in the store before it is read.
            await meter.flush()
            let prices = meter.prices
            let report = try await meter.store.report(
                namespace: query.namespace, function: query.function, fromHour: UsageHour.start(of: query.since),
                toHour: Self.hourCeiling(query.until), by: query.by, prices: prices)
            return try JSONBody.response(API.UsageAnswer(
                since: Timestamps.iso8601(query.since), until: Timestamps.iso8601(query.until), by: query.by.rawValue,
                namespace: query.namespace ?? "*", prices: prices, rows: report.rows, totals: report.totals))
        }
        group.get("prices") { _, ctx in
            _ = try ctx.requirePrincipal()
            return try JSONBody.response(meter.prices)
        }
        group.put("prices") { request, ctx in
            let p = try ctx.requirePrincipal()
            guard p.isPlatformAdmin else {
                throw SwellError(.forbidden, "prices are set by an admin key of the default namespace")
            }
            let prices = try meter.prices.updated(with: try await JSONBody.read(request))
            try await meter.setPrices(prices)
            return try JSONBody.response(prices)
        }
    }

    struct Query: Equatable {
        /// nil: every namespace (platform admins, `namespace=*`).
        var namespace: String?
        var function: String?
        var since: Date
        var until: Date
        var by: UsageGrouping
    }

    /// Reads and checks the query of `GET /v1/usage`.
    static func query(
        namespace: String?, function: String?, since: String?, until: String?, by: String?, principal p: Principal, now: Date
    ) throws(SwellError) -> Query {
        var ns: String? = namespace ?? p.namespace
        if ns == "*" {
            guard p.isPlatformAdmin else { throw SwellError(.forbidden, "only an admin key of the default namespace may read every namespace (namespace=*)") }
            ns = nil
        } else if let n = ns {
            guard Names.isNamespaceName(n) else {
                throw SwellError.invalid("namespace", "namespace names are 1-32 characters of a-z 0-9 - (got \"\(n)\")")
            }
            try p.authorize(namespace: n, role: .invoker)
        }
        if let function, !Names.isFunctionName(function) {
            throw SwellError.invalid("function", "not a function name (got \"\(function)\")")
        }
        let grouping: UsageGrouping
        if let by {
            guard let g = UsageGrouping(rawValue: by) else { throw SwellError.invalid("by", "must be hour, day or function (got \"\(by)\")") }
            grouping = g
        } else {
            grouping = .day
        }
        let end = try until.map { text throws(SwellError) in try time(text, field: "until") } ?? now
        let start = try since.map { text throws(SwellError) in try time(text, field: "since") }
            ?? Date(timeIntervalSince1970: TimeInterval(UsageHour.day(of: UsageHour.start(of: end)) - 29 * 86_400))
        guard start < end else { throw SwellError.invalid("since", "must be before until") }
        guard end.timeIntervalSince(start) <= Double(maxRangeDays) * 86_400 else {
            throw SwellError.invalid("since", "the range may span at most \(maxRangeDays) days")
        }
        return Query(namespace: ns, function: function, since: start, until: end, by: grouping)
    }

    /// An RFC 3339 time, or a UTC date (`2026-12-01`, its midnight).
    static func time(_ text: String, field: String) throws(SwellError) -> Date {
        if let date = AsyncInvoke.parseTime(text) { return date }
        if text.utf8.count == 10, let date = AsyncInvoke.parseTime(text + "T00:00:00Z") { return date }
        throw SwellError.invalid(field, "must be an RFC 3339 time such as 2026-12-01T14:00:00Z or a date such as 2026-12-01 (got \"\(text)\")")
    }

    /// The first hour start at or after `date` (hours are included whole).
    static func hourCeiling(_ date: Date) -> Int64 {
        let start = UsageHour.start(of: date)
        return Double(start) == date.timeIntervalSince1970 ? start : start + 3600
    }
}

extension API {
    /// The body of `GET /v1/usage`.
    struct UsageAnswer: Encodable {
        var since: String
        var until: String
        var by: String
        var namespace: String
        var prices: PriceTable
        var rows: [UsageReport.Row]
        var totals: UsageFigures
    }
}
