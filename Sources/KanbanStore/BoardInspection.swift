import Foundation
import GRDB
import KanbanModel

extension SQLiteBoard {
    /// The bridge-table version this build writes.
    public static var bridgeSchemaVersion: Int { Schema.bridgeVersion }

    /// Runs the same compatibility check as opening the board, on a read-only connection, so the file
    /// is left exactly as it was (no WAL switch, no tables created). Throws
    /// `BoardError.incompatibleBoard` with the reason `serve` would give.
    public static func inspect(path: String) throws -> BoardReport {
        guard FileManager.default.fileExists(atPath: path) else {
            return BoardReport(path: path, kind: .missing, journalMode: nil, tasks: 0, lanes: 0)
        }
        do {
            let queue = try readOnlyQueue(path: path, busyTimeoutSeconds: 5)
            defer { try? queue.close() }
            return try queue.read { db in
                let tables = try Schema.check(db, path: path)
                let journal = try String.fetchOne(db, sql: "PRAGMA journal_mode")
                guard tables.contains("tasks") else {
                    return BoardReport(path: path, kind: .empty, journalMode: journal, tasks: 0, lanes: 0)
                }
                let tasks = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tasks") ?? 0
                // Hermes' own dispatcher caps count every running task (ClaimLock: `lane:<name>:<run>`).
                let running = try Row.fetchOne(db, sql: """
                    SELECT COUNT(*), COALESCE(SUM(claim_lock LIKE \(ClaimLock.likeSQL)), 0) FROM tasks WHERE status = \(TaskStatus.running.sql)
                    """)
                let (all, underLanes): (Int, Int) = (running?[0] ?? 0, running?[1] ?? 0)
                guard tables.contains("bridge_meta") else {
                    return BoardReport(path: path, kind: .hermesBoard, journalMode: journal, tasks: tasks, lanes: 0,
                                       running: all, runningUnderLanes: underLanes)
                }
                let version = try Int.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM bridge_meta WHERE key = 'schema_version'") ?? 0
                // A migration this build does not know (GRDB's `grdb_migrations`): `serve` would refuse it.
                if try Schema.bridgeMigrator.hasBeenSuperseded(db) {
                    throw BoardError.incompatibleBoard(
                        "the board's bridge tables have migrations this kanban-bridge does not know; upgrade kanban-bridge")
                }
                if version > Schema.bridgeVersion {
                    throw BoardError.incompatibleBoard(
                        "the board's bridge tables are version \(version), newer than this kanban-bridge (\(Schema.bridgeVersion)); upgrade kanban-bridge")
                }
                let lanes = tables.contains("bridge_lanes")
                    ? try Row.fetchOne(db, sql: "SELECT COUNT(*), COALESCE(SUM(max_concurrency), 0) FROM bridge_lanes") : nil
                return BoardReport(path: path, kind: .bridgeBoard(schemaVersion: version), journalMode: journal, tasks: tasks,
                                   lanes: lanes?[0] ?? 0, running: all, runningUnderLanes: underLanes, lanesMaxConcurrency: lanes?[1] ?? 0)
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw BoardError.incompatibleBoard("\(path) is not an SQLite database")
        } catch let error as DatabaseError {
            throw BoardError.incompatibleBoard("\(path) cannot be read: \(error.message ?? "\(error.resultCode)")")
        }
    }

    /// Copies the board, live, into a new file with SQLite's online backup: a consistent snapshot even
    /// while the coordinator and Hermes write. The copy is a plain board `serve` can open, mode 0600.
    public static func backup(from path: String, to destination: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw BoardError.notFound("no board at \(path)") }
        // The copy holds all the board holds: private from the start, as a new board is (SQLite would
        // create it under the umask), and never over an existing file.
        let fd = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw BoardError.conflict("\(destination) already exists; choose a new file") }
            throw BoardError.notFound("cannot create \(destination): \(String(cString: strerror(errno)))")
        }
        close(fd)
        let source = try readOnlyQueue(path: path, busyTimeoutSeconds: 10)
        defer { try? source.close() }
        let copy = try DatabaseQueue(path: destination)
        defer { try? copy.close() }
        try source.backup(to: copy)
    }
}
