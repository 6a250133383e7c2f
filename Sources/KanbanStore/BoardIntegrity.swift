import Foundation
import GRDB
import KanbanModel

extension SQLiteBoard {
    /// Refuses a damaged board file before anything writes to it: SQLite's `PRAGMA quick_check`
    /// (`thorough`: the complete and slower `integrity_check`, which also compares every index with
    /// its table) on a read-only connection, so the main file is left byte for byte as it was.
    /// Writing to a damaged board spreads the damage, and every later op would fail as `internal`.
    /// Throws `BoardError.incompatibleBoard` naming the problem and the way back. A missing or empty
    /// file has nothing to check.
    ///
    /// Returns false when the file could not be checked read-only: it holds an interrupted
    /// transaction (a hot `-journal` from a crash in rollback mode) that only a writer may roll back.
    @discardableResult
    public static func verifyIntact(path: String, thorough: Bool = false, busyTimeoutSeconds: Double = 10) throws -> Bool {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size > 0 else { return true }
        let pragma = thorough ? "integrity_check" : "quick_check"
        do {
            let queue = try readOnlyQueue(path: path, busyTimeoutSeconds: busyTimeoutSeconds)
            defer { try? queue.close() }
            try queue.read { db in try judge(path: path, pragma: pragma, db) }
            return true
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_READONLY_ROLLBACK {
            return false
        } catch let error as DatabaseError {
            throw plainRefusal(path: path, error)
        }
    }

    /// Runs `PRAGMA <pragma>` on `db` and throws the refusal when it finds anything.
    static func judge(path: String, pragma: String, _ db: Database) throws {
        // At most 10 findings: the first few say enough, and a badly damaged file has thousands.
        let lines = try findings(db, pragma: pragma, limit: 10)
        guard !lines.isEmpty else { return }
        let what = "SQLite's \(pragma) says: " + lines.prefix(3).joined(separator: "; ")
        if lines.allSatisfy(isIndexFinding) { throw indexDamaged(path: path, what: what) }
        throw damaged(path: path, what: what)
    }

    /// What `PRAGMA <pragma>(limit)` found, a line each; empty when it says `ok`. Findings can span
    /// lines; "*** in database main ***" only says which attached file, and is dropped.
    static func findings(_ db: Database, pragma: String, limit: Int) throws -> [String] {
        let rows = try String.fetchAll(db, sql: "PRAGMA \(pragma)(\(limit))")
        guard rows != ["ok"] else { return [] }
        return rows.flatMap { $0.split(separator: "\n").map(String.init) }.filter { !$0.hasPrefix("***") }
    }

    /// A read-only connection to the board file: no WAL switch, no tables created, the file left as it
    /// was. It waits up to `busyTimeoutSeconds` for a writer's lock.
    static func readOnlyQueue(path: String, busyTimeoutSeconds: Double) throws -> DatabaseQueue {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(busyTimeoutSeconds)
        return try DatabaseQueue(path: path, configuration: config)
    }

    /// An `integrity_check` finding about an index only ("row 5 missing from index …", "wrong # of
    /// entries in index …", "non-unique entry in index …"): the table rows are intact and the index
    /// can be rebuilt from them.
    public static func isIndexFinding(_ line: String) -> Bool { line.contains(" index ") }

    /// The refusal of a file whose tables are intact but an index disagrees with them (issue #19,
    /// finding 3): `REINDEX` rebuilds every index from the tables, in place.
    static func indexDamaged(path: String, what: String) -> BoardError {
        .incompatibleBoard(
            "\(path) has a damaged index (\(what)); its tables are intact. Rebuild the indexes from them: stop writers if you can, "
                + "run `sqlite3 \(path) 'REINDEX'`, then check again with `kanban-bridge doctor --db \(path)`. A running `serve` "
                + "skips the tasks the index hides until its next integrity check (every 10 minutes while any are skipped) or a restart. "
                + "If REINDEX fails, restore a copy made with `kanban-bridge backup`.")
    }

    /// A refusal in plain words for the SQLite errors a file that is not a healthy board gives
    /// (GRDB's own text, "SQLite error 26: …", means nothing to an operator).
    static func plainRefusal(path: String, _ error: DatabaseError) -> BoardError {
        switch error.resultCode {
        case .SQLITE_NOTADB:
            return .incompatibleBoard("\(path) is not an SQLite database")
        case .SQLITE_CORRUPT:
            return damaged(path: path, what: "SQLite says: \(error.message ?? "database disk image is malformed")")
        default:
            return .incompatibleBoard("\(path) cannot be read: \(error.message ?? "SQLite result \(error.resultCode.rawValue)")")
        }
    }

    /// The refusal of a damaged file, with the way back. `.recover` needs a sqlite3 shell built with
    /// the dbpage table (Debian 12's is not: "SQL logic error"); `.dump` reads what the tables still hold.
    static func damaged(path: String, what: String) -> BoardError {
        .incompatibleBoard(
            "\(path) is damaged (\(what)); nothing was written to it. Recover what is readable into a new file with "
                + "`sqlite3 \(path) \".recover\" | sqlite3 recovered.db` (if that fails, as with sqlite3 shells built without .recover: \".dump\" in its place), "
                + "check the result with `kanban-bridge doctor --db recovered.db`, and put it in place of \(path) "
                + "(removing \(path)-wal and \(path)-shm); or restore a copy made with `kanban-bridge backup`.")
    }
}
