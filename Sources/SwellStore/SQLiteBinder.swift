import Foundation
import GRDB
import GRDBSQLite

/// Runs a prepared (cached) statement with its values bound by SQLite's own calls, for the
/// task journal's hot statements: GRDB's `execute(arguments:)` builds a `StatementArguments`
/// array of `DatabaseValue`s and binds them through nested closures, which cost the journal
/// writer more than SQLite's own work for a row (a profile of a busy queue: two thirds of
/// `TaskStore.apply`). The statement is left reset and unbound, as GRDB leaves it.
///
/// ```swift
/// try SQLiteBinder.run(db.cachedStatement(sql: "UPDATE t SET a = ? WHERE id = ?"), db) { b in
///     b.bind(1.5)
///     b.bind("id")
/// }
/// ```
struct SQLiteBinder: ~Copyable {
    let statement: OpaquePointer
    private var index: Int32 = 1
    private(set) var failure: Int32 = SQLITE_OK

    private init(_ statement: OpaquePointer) { self.statement = statement }

    /// Binds with `bind` (placeholders in order), steps the statement to its end, resets it.
    /// - Throws: `DatabaseError` with SQLite's code and message when a bind or a step fails.
    static func run(_ statement: Statement, _ db: Database, bind: (inout SQLiteBinder) -> Void) throws {
        let raw = statement.sqliteStatement
        var binder = SQLiteBinder(raw)
        defer {
            sqlite3_reset(raw)
            sqlite3_clear_bindings(raw)
        }
        bind(&binder)
        if binder.failure != SQLITE_OK { throw Self.error(binder.failure, statement, db) }
        while true {
            switch sqlite3_step(raw) {
            case SQLITE_DONE: return
            case SQLITE_ROW: continue
            case let code: throw Self.error(code, statement, db)
            }
        }
    }

    private static func error(_ code: Int32, _ statement: Statement, _ db: Database) -> DatabaseError {
        let message = db.sqliteConnection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
    }

    private mutating func next(_ code: Int32) {
        if code != SQLITE_OK && failure == SQLITE_OK { failure = code }
        index += 1
    }

    mutating func bind(_ value: String) {
        // An empty string is empty text, never NULL (a nil pointer would bind NULL).
        if value.isEmpty { return next(sqlite3_bind_text(statement, index, "", 0, SQLITE_TRANSIENT)) }
        let code = value.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.withMemoryRebound(to: CChar.self) { sqlite3_bind_text(statement, index, $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT) }
        } ?? {
            var copy = value
            return copy.withUTF8 { bytes in
                bytes.withMemoryRebound(to: CChar.self) { sqlite3_bind_text(statement, index, $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT) }
            }
        }()
        next(code)
    }

    mutating func bind(_ value: String?) {
        if let value { bind(value) } else { bindNull() }
    }

    mutating func bind(_ value: Int) { next(sqlite3_bind_int64(statement, index, Int64(value))) }

    mutating func bind(_ value: Int?) {
        if let value { bind(value) } else { bindNull() }
    }

    mutating func bind(_ value: Bool) { bind(value ? 1 : 0) }

    mutating func bind(_ value: Double) { next(sqlite3_bind_double(statement, index, value)) }

    mutating func bind(_ value: Double?) {
        if let value { bind(value) } else { bindNull() }
    }

    /// A date as the tables store it: seconds since 1970.
    mutating func bind(_ value: Date) { bind(value.timeIntervalSince1970) }

    mutating func bind(_ value: Date?) { bind(value?.timeIntervalSince1970) }

    /// Bytes as a blob, bound as GRDB binds `Data`.
    mutating func bind(_ value: Data?) {
        guard let value else { return bindNull() }
        let code = value.withUnsafeBytes { bytes in
            sqlite3_bind_blob(statement, index, bytes.baseAddress, Int32(bytes.count), SQLITE_TRANSIENT)
        }
        next(code)
    }

    mutating func bindNull() { next(sqlite3_bind_null(statement, index)) }
}

/// SQLite copies the bytes it is given (`SQLITE_TRANSIENT`).
private let SQLITE_TRANSIENT = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
