import GRDB
import GRDBSQLite

/// The hot path's statements: prepared once on the board's one connection, bound by position, read
/// by column index, through SQLite's C API (GRDB's connection handle).
///
/// Why not GRDB's statements here, measured (`kanban-bench --instructions`, callgrind, 2026-12-02):
/// per statement GRDB hashes the whole SQL text to find its cached statement (2.1% of the
/// coordinator's instructions), builds a lowercased column-name table for every row it fetches
/// (1.3%), and converts every value through `DatabaseValueConvertible` existentials; `Row.fetchOne`
/// alone was 9.8%. GRDB keeps everything else (opening, migrations, reads that are not per task).
final class PreparedStatements {
    private var statements: [Int: OpaquePointer] = [:]

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
    }

    /// The statement for `key`, prepared from `sql` the first time (`sql` is only evaluated then).
    func callAsFunction(_ key: Int, _ db: Database, _ sql: @autoclosure () -> String) throws -> SQLStatement {
        if let statement = statements[key] { return SQLStatement(handle: statement, db: db) }
        var handle: OpaquePointer?
        let text = sql()
        let code = sqlite3_prepare_v3(db.sqliteConnection, text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &handle, nil)
        guard code == SQLITE_OK, let handle else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: text)
        }
        statements[key] = handle
        return SQLStatement(handle: handle, db: db)
    }

    /// Forgets every statement (before the connection closes).
    func finalizeAll() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
    }
}

/// One use of a prepared statement: bind (1-based, as SQLite counts), step, read, and always reset.
struct SQLStatement {
    let handle: OpaquePointer
    let db: Database

    /// Binds the values in order from parameter 1.
    func bind(_ values: SQLValue...) { bind(values) }

    func bind(_ values: [SQLValue]) {
        sqlite3_reset(handle)
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            switch value {
            case .null: sqlite3_bind_null(handle, index)
            case .int(let v): sqlite3_bind_int64(handle, index, v)
            case .text(let s): bindText(s, at: index)
            case .blob(let b): b.withUnsafeBytes { _ = sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT) }
            }
        }
    }

    private func bindText(_ s: String, at index: Int32) {
        var s = s
        s.withUTF8 { utf8 in
            _ = utf8.withMemoryRebound(to: CChar.self) { sqlite3_bind_text(handle, index, $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT) }
        }
    }

    /// Runs a statement that returns no rows. Returns the number of rows it changed.
    @discardableResult
    func run() throws -> Int {
        defer { sqlite3_reset(handle) }
        let code = sqlite3_step(handle)
        guard code == SQLITE_DONE || code == SQLITE_ROW else { throw error(code) }
        return Int(sqlite3_changes(db.sqliteConnection))
    }

    /// Steps to the next row; false when there is none (then the statement is reset).
    func next() throws -> Bool {
        let code = sqlite3_step(handle)
        if code == SQLITE_ROW { return true }
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else { throw error(code) }
        return false
    }

    /// Ends a query before its last row.
    func reset() { sqlite3_reset(handle) }

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func optionalInt(_ column: Int32) -> Int64? { isNull(column) ? nil : sqlite3_column_int64(handle, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    func text(_ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(handle, column) else { return nil }
        return String(decoding: UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(handle, column))), as: UTF8.self)
    }
    func blob(_ column: Int32) -> [UInt8]? {
        guard !isNull(column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let bytes = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(db.sqliteConnection) }

    private func error(_ code: Int32) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
                      sql: sqlite3_sql(handle).map { String(cString: $0) })
    }
}

/// A bound value.
enum SQLValue {
    case null
    case int(Int64)
    case text(String)
    case blob([UInt8])

    static func of(_ s: String?) -> SQLValue { s.map(SQLValue.text) ?? .null }
    static func of(_ i: Int64?) -> SQLValue { i.map(SQLValue.int) ?? .null }
}

/// SQLite's "copy the bytes now" destructor (a C macro Swift cannot import).
let SQLITE_TRANSIENT = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

/// A result row read by column index: a prepared statement's current row, or a GRDB row, so one
/// decoder serves both (`SQLiteBoard.record`).
protocol ColumnReader {
    func text(_ column: Int32) -> String?
    func int(_ column: Int32) -> Int64
    func optionalInt(_ column: Int32) -> Int64?
}

extension SQLStatement: ColumnReader {}

extension Row: ColumnReader {
    func text(_ column: Int32) -> String? { self[Int(column)] }
    func int(_ column: Int32) -> Int64 { self[Int(column)] ?? 0 }
    func optionalInt(_ column: Int32) -> Int64? { self[Int(column)] }
}
