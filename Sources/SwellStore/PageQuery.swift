import Foundation
import GRDB
import PostgresNIO
import SwellModel

/// A newest-first page of rows (tasks, executions) as SQL with `?` placeholders and its
/// arguments, written once for both engines: equality filters, a time window, and the keyset
/// cursor `before` (the last row's time and id), ordered by time then id, both descending.
struct PageQuery: Sendable {
    enum Value: Sendable, Equatable {
        case text(String)
        case real(Double)
        case integer(Int)
    }

    private(set) var sql: String
    private(set) var arguments: [Value]
    let timeColumn: String

    /// `SELECT * FROM table WHERE column = value AND …` for the filters always present.
    init(table: String, timeColumn: String, equal: [(column: String, value: String)]) {
        sql = "SELECT * FROM \(table) WHERE " + equal.map { "\($0.column) = ?" }.joined(separator: " AND ")
        arguments = equal.map { .text($0.value) }
        self.timeColumn = timeColumn
    }

    /// Adds `column = value` when there is a value.
    mutating func equal(_ column: String, _ value: String?) {
        guard let value else { return }
        sql += " AND \(column) = ?"
        arguments.append(.text(value))
    }

    /// Keeps rows from `since` (inclusive) to `until` (exclusive).
    mutating func window(since: Date?, until: Date?) {
        if let since {
            sql += " AND \(timeColumn) >= ?"
            arguments.append(.real(since.timeIntervalSince1970))
        }
        if let until {
            sql += " AND \(timeColumn) < ?"
            arguments.append(.real(until.timeIntervalSince1970))
        }
    }

    /// The rows after the cursor, newest first, at most `limit`: the query is complete.
    func page(before: (Date, String)?, limit: Int) -> PageQuery {
        var q = self
        if let (time, id) = before {
            q.sql += " AND (\(timeColumn) < ? OR (\(timeColumn) = ? AND id < ?))"
            q.arguments += [.real(time.timeIntervalSince1970), .real(time.timeIntervalSince1970), .text(id)]
        }
        q.sql += " ORDER BY \(timeColumn) DESC, id DESC LIMIT ?"
        q.arguments.append(.integer(limit))
        return q
    }
}

extension TaskStore {
    /// The tasks list of both engines.
    static func listQuery(
        namespace: String, function: String?, state: TaskState?, since: Date?, until: Date?, before: (Date, String)?, limit: Int
    ) -> PageQuery {
        var q = PageQuery(table: "tasks", timeColumn: "created_at", equal: [("namespace", namespace)])
        q.equal("function", function)
        q.equal("state", state?.rawValue)
        q.window(since: since, until: until)
        return q.page(before: before, limit: limit)
    }
}

extension SQLiteWorkflowStore {
    /// A workflow's executions list, of both engines.
    static func executionsQuery(namespace: String, workflow: String, status: ExecutionStatus?, before: (Date, String)?, limit: Int) -> PageQuery {
        var q = PageQuery(table: "executions", timeColumn: "started_at", equal: [("namespace", namespace), ("workflow", workflow)])
        q.equal("status", status?.rawValue)
        return q.page(before: before, limit: limit)
    }
}

extension PageQuery {
    var sqliteArguments: StatementArguments {
        StatementArguments(arguments.map { v -> DatabaseValue in
            switch v {
            case .text(let s): s.databaseValue
            case .real(let d): d.databaseValue
            case .integer(let i): i.databaseValue
            }
        })
    }

    var postgresArguments: [(any PostgresThrowingDynamicTypeEncodable)?] {
        arguments.map { v -> (any PostgresThrowingDynamicTypeEncodable)? in
            switch v {
            case .text(let s): s
            case .real(let d): d
            case .integer(let i): i
            }
        }
    }
}
