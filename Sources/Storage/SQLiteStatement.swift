import GRDB
import GRDBSQLite

/// A cached prepared statement driven through the SQLite C API, for the loops that run once per
/// record or per person (commits and the delivery index): GRDB's rows and argument arrays cost
/// more there than the SQL. Values are bound as transient copies, so no buffer must outlive a call.
struct SQLiteStatement {
    let s: OpaquePointer
    /// Held so that the SQLite statement outlives GRDB's cache, which a schema change empties.
    private let statement: Statement
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(_ db: Database, _ sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
        s = statement.sqliteStatement
    }

    /// Binds `values` (1-based in order) after resetting the statement.
    func bind(_ values: Value...) { bind(values) }

    private func bind(_ values: [Value]) {
        sqlite3_reset(s)
        for (i, value) in values.enumerated() {
            let k = Int32(i + 1)
            switch value {
            case .int(let n): sqlite3_bind_int64(s, k, n)
            case .double(let d): sqlite3_bind_double(s, k, d)
            case .null: sqlite3_bind_null(s, k)
            case .blob(let b):
                b.withUnsafeBytes { _ = sqlite3_bind_blob(s, k, $0.baseAddress, Int32($0.count), Self.transient) }
            case .text(let t): _ = sqlite3_bind_text(s, k, t, -1, Self.transient)
            }
        }
    }

    enum Value {
        case int(Int64)
        case double(Double)
        case null
        case blob([UInt8])
        case text(String)
    }

    /// The next row (`true`), or the end (`false`).
    func step() throws -> Bool {
        let status = sqlite3_step(s)
        if status == SQLITE_ROW { return true }
        guard status == SQLITE_DONE else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: status),
                message: String(cString: sqlite3_errmsg(sqlite3_db_handle(s)))
            )
        }
        return false
    }

    /// Runs a statement that returns no rows.
    func run(_ values: Value...) throws {
        bind(values)
        _ = try step()
    }

    func int(_ c: Int32) -> Int64 { sqlite3_column_int64(s, c) }
    func double(_ c: Int32) -> Double { sqlite3_column_double(s, c) }
    func isNull(_ c: Int32) -> Bool { sqlite3_column_type(s, c) == SQLITE_NULL }
    func blob(_ c: Int32) -> [UInt8] {
        guard let p = sqlite3_column_blob(s, c) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: Int(sqlite3_column_bytes(s, c))))
    }
    /// The blob in place, valid until the next step.
    func withBlob<R>(_ c: Int32, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: sqlite3_column_blob(s, c), count: Int(sqlite3_column_bytes(s, c))))
    }
    func text(_ c: Int32) -> String? {
        guard sqlite3_column_type(s, c) != SQLITE_NULL, let p = sqlite3_column_text(s, c) else { return nil }
        return String(decoding: UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(s, c))), as: UTF8.self)
    }
    /// The text's bytes in place, valid until the next step.
    func withText<R>(_ c: Int32, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        body(UnsafeBufferPointer(start: sqlite3_column_text(s, c), count: Int(sqlite3_column_bytes(s, c))))
    }
    /// Rows changed by the last statement of the connection.
    var changes: Int { Int(sqlite3_changes(sqlite3_db_handle(s))) }
}
