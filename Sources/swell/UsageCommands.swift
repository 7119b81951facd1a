import ArgumentParser
import Foundation
import SwellModel

/// `swell usage`: metered usage and its cost, beside what always-on machines would cost.
struct Usage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show metered usage (invocations, GB-seconds, p50/p99, cold starts) and its cost, with the always-on comparison.")

    @Option(help: "Namespace (default: the key's; * for every namespace with a platform admin key).") var namespace: String?
    @Option(help: "Start: an RFC 3339 time or a date such as 2026-12-01 (default: 30 days ago).") var since: String?
    @Option(help: "End: an RFC 3339 time or a date (default: now).") var until: String?
    @Option(help: "Group rows by function, day or hour.") var by = "day"
    @Option(help: "Only this function.") var function: String?
    @Flag(help: "Print the API's JSON.") var json = false

    func run() async throws {
        try await runClient {
            let client = try APIClient.fromEnvironment()
            var query = ["by=\(by.pathEscaped)"]
            if let namespace { query.append("namespace=\(namespace.pathEscaped)") }
            if let since { query.append("since=\(since.pathEscaped)") }
            if let until { query.append("until=\(until.pathEscaped)") }
            if let function { query.append("function=\(function.pathEscaped)") }
            let answer = try await client.json("GET", "/v1/usage?" + query.joined(separator: "&"))
            if json { return printJSON(answer) }
            let rows = answer["rows"] as? [[String: Any]] ?? []
            let first = by == "function" ? ("FUNCTION", 24) : ("PERIOD", 19)
            func cells(_ label: String, _ r: [String: Any]) -> [String] {
                let cost = r["cost"] as? [String: Any] ?? [:]
                return [
                    Audit.cell(label, first.1 - 1), "\(r["invocations"] ?? 0)", "\(r["errors"] ?? 0)", "\(r["coldStarts"] ?? 0)",
                    Self.number(r["gbSeconds"], digits: 6), Self.number(r["p50Ms"], digits: 1), Self.number(r["p99Ms"], digits: 1),
                    "\(r["peakInstances"] ?? 0)", Self.money(cost["total"]), Self.money(r["alwaysOnCost"]),
                ]
            }
            var table = rows.map { r in
                cells(by == "function" ? "\(r["namespace"] ?? "")/\(r["function"] ?? "")" : "\(r["period"] ?? "")", r)
            }
            if let totals = answer["totals"] as? [String: Any] { table.append(cells("TOTAL", totals)) }
            printTable(
                [first, ("INVOCATIONS", 13), ("ERRORS", 8), ("COLD", 6), ("GB-S", 14), ("P50 MS", 9), ("P99 MS", 9), ("PEAK", 6),
                 ("COST", 12), ("ALWAYS-ON", 0)],
                table)
            if let p = answer["prices"] as? [String: Any] {
                print("\nprices: \(p["perGBSecond"] ?? "") per GB-s, \(p["perMillionRequests"] ?? "") per million requests, "
                    + "\(p["alwaysOnPerGBHour"] ?? "") per GB-hour always-on (\(answer["since"] ?? "") to \(answer["until"] ?? ""))")
            }
        }
    }

    static func number(_ value: Any?, digits: Int) -> String {
        guard let n = value as? Double ?? (value as? Int).map(Double.init) else { return "-" }
        return String(format: "%.\(digits)f", n)
    }

    static func money(_ value: Any?) -> String {
        guard let n = value as? Double ?? (value as? Int).map(Double.init) else { return "-" }
        return String(format: "%.6f", n)
    }
}

/// `swell audit`: who changed what, newest first.
struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the audit log of control-plane changes, newest first.")

    @Option(help: "Namespace (default: the key's; * for every namespace with a platform admin key).") var namespace: String?
    @Option(help: "How many entries.") var limit = 50
    @Option(help: "Only entries older than this cursor (the `next` of a previous page).") var before: String?
    @Flag(help: "Print the API's JSON.") var json = false

    func run() async throws {
        try await runClient {
            let client = try APIClient.fromEnvironment()
            var query = ["limit=\(limit)"]
            if let namespace { query.append("namespace=\(namespace.pathEscaped)") }
            if let before { query.append("before=\(before.pathEscaped)") }
            let answer = try await client.json("GET", "/v1/audit?" + query.joined(separator: "&"))
            if json { return printJSON(answer) }
            let entries = answer["entries"] as? [[String: Any]] ?? []
            printTable([("TIME", 26), ("NAMESPACE", 12), ("ACTION", 18), ("TARGET", 22), ("KEY", 18), ("ROLE", 11), ("ADDRESS", 17), ("DETAILS", 0)],
                entries.map { e in
                    ["\(e["time"] ?? "")", Audit.cell("\(e["namespace"] ?? "")", 11), "\(e["action"] ?? "")", Self.cell("\(e["target"] ?? "")", 21),
                     Self.cell("\(e["keyId"] ?? "")", 17),
                     "\(e["role"] ?? "")", "\(e["address"] ?? "")", jsonText(e["details"] ?? [:])]
                })
            if let next = answer["next"] as? String { print("\nmore: swell audit --before \(next)") }
        }
    }

    /// A value cut to fit a column of `width` (with the space before the next column).
    static func cell(_ text: String, _ width: Int) -> String {
        text.count < width ? text : String(text.prefix(width - 2)) + "…"
    }
}
