import Foundation
import GRDB
import CSQLiteTuning
import GRDBSQLite
import KanbanModel

/// The board in one SQLite file, shared with Hermes' own CLI and dispatcher.
///
/// One connection (a GRDB `DatabaseQueue`) for the life of the process, used from the coordinator's
/// owner thread. Every write is `BEGIN IMMEDIATE … COMMIT` in WAL mode with `synchronous=FULL`, as
/// Hermes does, so a returned call is durable and Hermes processes can write the same file at once.
public final class SQLiteBoard: BoardStore, HermesChangeFeed {
    let queue: DatabaseQueue
    /// Where the board lives (":memory:" style paths are not supported: Hermes needs a file).
    public let path: String

    /// Opens (creating if needed, with `file.newFileMode`) the board at `path`, checks it is an
    /// undamaged (`verifyIntact`), compatible Hermes board, and brings the `bridge_*` tables up to
    /// date. An existing empty file is refused unless `file.initEmptyFile`. Throws
    /// `BoardError.incompatibleBoard` with the reason.
    public init(path: String, busyTimeoutSeconds: Double = 10, file: BoardFileOptions = BoardFileOptions()) throws {
        _ = Self.tuned
        self.path = path
        var checked = true
        if case .existing(empty: false) = try BoardFile.prepare(path: path, options: file) {
            checked = try Self.verifyIntact(path: path, busyTimeoutSeconds: busyTimeoutSeconds)
        }
        var config = Configuration()
        // Hermes holds the write lock only briefly; wait for it rather than fail.
        config.busyMode = .timeout(busyTimeoutSeconds)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // SQLite's default. Hermes sets 100 on its own connections; a checkpoint every 100 pages
            // cost this busier writer a sixth of its throughput, and made claims on a large board
            // stall behind write-backs of cold pages. Each connection checkpoints on its own commits.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 1000")
            // Savepoints (one per request of a group commit) keep the pages they change in a
            // statement journal; in memory, not in a temp file that is created, written and unlinked
            // for every transaction. Only rollbacks inside a transaction read it; durability is the WAL's.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            // Grow the file in whole chunks, before a checkpoint copies pages into it. Without a chunk size
            // SQLite's checkpoint writes page 1 (whose header holds the page count) before the pages past
            // the end of the file, and Hermes, which compares that count with the file's size after every
            // commit, reports "torn-extend detected" and fails its write (measured: docs/HERMES.md).
            var chunk = Self.chunkBytes
            _ = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_CHUNK_SIZE, &chunk)
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
        } catch let error as DatabaseError where [.SQLITE_NOTADB, .SQLITE_CORRUPT].contains(error.resultCode) {
            throw Self.plainRefusal(path: path, error)
        }
        do {
            // An interrupted transaction kept the read-only check out; this connection's first read
            // rolls it back (as any SQLite writer would), then the file is checked before any write.
            if !checked { try queue.inDatabase { db in try Self.judge(path: path, pragma: "quick_check", db) } }
            // Check first, write after: a refused file is left exactly as it was.
            let tables = try queue.read { db in try Schema.check(db, path: path) }
            try queue.writeWithoutTransaction { db in
                // Hermes uses WAL; keep an on-disk WAL as it is, switch a fresh file to it.
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                try db.inTransaction(.immediate) {
                    try Schema.create(db, tables: tables)
                    return .commit
                }
            }
        } catch let error as DatabaseError where [.SQLITE_NOTADB, .SQLITE_CORRUPT].contains(error.resultCode) {
            throw Self.plainRefusal(path: path, error)
        }
    }

    deinit {
        // Before GRDB closes the connection, which SQLite would otherwise keep open for them.
        prepared.finalizeAll()
    }

    /// The board file grows by this much at a time (see `SQLITE_FCNTL_CHUNK_SIZE` above).
    static let chunkBytes: Int32 = 1 << 20

    /// SQLite's process-wide options, set before the process's first board opens (CSQLiteTuning):
    /// multi-thread mode, as GRDB serializes each connection on its own queue, and no memory
    /// statistics. Together about 60 k instructions per task (docs/PERFORMANCE.md). Set too late (a
    /// connection opened first), SQLite keeps its defaults: correct, only slower.
    static let tuned: Int32 = kb_sqlite_tune_before_first_open()

    /// The connection while a transaction is open (owner thread only).
    private var openTransaction: Database?
    /// The hot path's statements, prepared once (PreparedStatements.swift).
    let prepared = PreparedStatements()

    /// True while a transaction is open on the connection.
    var openTransactionActive: Bool { openTransaction != nil }

    // MARK: What memory keeps (one writer)
    //
    // Everything below assumes this connection is the only writer of the `bridge_*` tables (the one
    // coordinator; see `BoardStore`): what a write of ours changes, we change here too, and every
    // rollback (`undone`) throws away what a write may have taught us. Nothing here is read from
    // Hermes' tables, which other programs write. A second writer of `bridge_*` would make these stale.

    /// Events written and not yet published (see `takeCommittedEvents`).
    let journal = EventJournal()
    /// The next backoff end (LifecycleQueries.swift).
    var timers = TimerHint()
    /// Promotions left for later turns (Promotions.swift). Every start sweeps for children a crash
    /// left waiting in `todo` with all parents finished.
    var promotions: PromotionQueue = { var q = PromotionQueue(); q.push(.sweep(after: 0)); return q }()
    /// Consistency (BoardHealth.swift, IntegrityMonitor.swift).
    var skipped = Quarantine()
    var quarantinedAtCheck = 0
    var inconsistencyCount = 0
    var unloggedInconsistencies: [BoardInconsistency] = []
    let integrity = IntegrityMonitor()
    /// Lane settings by name (LaneQueries.swift); `.some(nil)` remembers that no lane has the name.
    var laneCache: [String: Lane?] = [:]

    public private(set) var registryVersion = 0
    /// The spawn and pool lanes (DispatchQueries.swift), nil until read.
    var spawnedLanes: [Lane]?
    /// Known lane tokens (by hash) and lanes' token hashes (LaneQueries.swift).
    var laneByTokenHash: [String: String] = [:]
    var tokenHashByLane: [String: String] = [:]

    /// A lane was written, or writes were undone: settings and tokens are read again.
    func lanesChanged() {
        registryVersion &+= 1
        spawnedLanes = nil
        laneCache.removeAll(keepingCapacity: true)
        laneByTokenHash.removeAll(keepingCapacity: true)
        tokenHashByLane.removeAll(keepingCapacity: true)
    }

    /// Writes were undone: forget what memory learned from them.
    private func undone() {
        lanesChanged()
        timers.fired()
    }

    /// Runs `body` in the open transaction, or in one IMMEDIATE transaction of its own that is
    /// committed when this returns. No savepoint: the caller that may need to undo a part
    /// (the coordinator, per request) asks for one with `atomically`.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        if let db = openTransaction { return try body(try Self.stillOpen(db)) }
        return try transaction(.immediate) { db in
            openTransaction = db
            defer { openTransaction = nil }
            return try body(db)
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        if let db = openTransaction { return try body(db) }
        // Not `queue.read`: GRDB brackets it with `PRAGMA query_only`, and SQLite expires every prepared
        // statement of a connection when a flag pragma changes, so each read would throw the statement
        // cache away (profiled: a third of the coordinator's CPU went to re-preparing). One connection,
        // used from the owner thread only: a deferred transaction is just as consistent.
        return try transaction(.deferred, body)
    }

    /// `body` in a savepoint of the open transaction: if it throws, only its own writes (and events) are undone.
    ///
    /// Prepared once and run through the C API, not GRDB's `inSavepoint`, which prepares the
    /// SAVEPOINT and RELEASE text anew each time and keeps a savepoint stack for observers this
    /// connection has none of (profiled: it ran once per request, every request). Savepoints nest
    /// by name, so one name serves every level.
    private func savepoint<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        let mark = journal.mark
        let queued = promotions
        // Outside a transaction SAVEPOINT would begin one of its own, committed by its RELEASE.
        try prepared(Hot.savepoint.rawValue, try Self.stillOpen(db), "SAVEPOINT request").run()
        do {
            let result = try body()
            try prepared(Hot.release.rawValue, db, "RELEASE request").run()
            return result
        } catch {
            // Undo the body's writes, then drop the savepoint itself (ROLLBACK TO keeps it open).
            try? prepared(Hot.rollbackTo.rawValue, db, "ROLLBACK TO request").run()
            try? prepared(Hot.release.rawValue, db, "RELEASE request").run()
            journal.rollBack(to: mark)
            promotions = queued
            undone()
            throw error
        }
    }

    /// `db` if its transaction is still open. SQLite may roll a whole transaction back on its own
    /// (a trigger's `RAISE(ROLLBACK)`; some I/O and disk-full errors): a caller that caught the error
    /// and went on would then write in autocommit mode, each statement committed alone, half a
    /// request on disk. Every write in an open transaction asks first (one flag read) and fails instead.
    static func stillOpen(_ db: Database) throws -> Database {
        guard sqlite3_get_autocommit(db.sqliteConnection) == 0 else {
            throw DatabaseError(resultCode: .SQLITE_ABORT,
                                message: "SQLite rolled the transaction back after an earlier error; nothing more is written in it")
        }
        return db
    }

    /// `body` in a transaction of its own on the one connection, committed when this returns.
    /// Another program's write lock held past the busy timeout is `BoardError.busy`: nothing was written.
    ///
    /// BEGIN, COMMIT and ROLLBACK are prepared once and run through the C API (GRDB's `inTransaction`
    /// prepares their text anew every time: two `sqlite3_prepare` per transaction, about 39,000
    /// instructions per task on the hot path, `kanban-bench --instructions`).
    private func transaction<T>(_ kind: Database.TransactionKind, _ body: (Database) throws -> T) throws -> T {
        let queued = promotions  // a transaction that does not commit leaves the queue as it found it
        do {
            let value = try queue.writeWithoutTransaction { db -> T in
                if kind == .immediate {
                    try prepared(Hot.beginImmediate.rawValue, db, "BEGIN IMMEDIATE").run()
                } else {
                    try prepared(Hot.beginDeferred.rawValue, db, "BEGIN DEFERRED").run()
                }
                do {
                    let result = try body(db)
                    try prepared(Hot.commit.rawValue, db, "COMMIT").run()
                    return result
                } catch {
                    // A failed statement or COMMIT: nothing of the transaction may stay.
                    if sqlite3_get_autocommit(db.sqliteConnection) == 0 { try? prepared(Hot.rollback.rawValue, db, "ROLLBACK").run() }
                    throw error
                }
            }
            journal.commit()
            return value
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            journal.discardPending()
            promotions = queued
            undone()
            throw BoardError.busy
        } catch {
            journal.discardPending()
            promotions = queued
            undone()
            throw error
        }
    }

    /// Hermes writes the same file: its changes are read from `task_events` (ExternalChanges.swift).
    public var changeFeed: (any HermesChangeFeed)? { self }

    public func limitLockWait(ms: Int) {
        queue.inDatabase { db in _ = sqlite3_busy_timeout(db.sqliteConnection, Int32(clamping: ms)) }
    }

    public func atomically<T>(_ body: () throws -> T) throws -> T {
        // Nested: a savepoint, so a body that throws undoes only its own writes and the outer
        // transaction (a group commit of several requests) stays usable for the others.
        if let db = openTransaction { return try savepoint(db, body) }
        return try write { _ in try body() }
    }

    public func takeCommittedEvents() -> [BoardEvent] { journal.take() }

    /// An event writer for the open transaction.
    func events(_ db: Database, _ nowMs: Int64) -> EventWriter { EventWriter(db: db, nowMs: nowMs, journal: journal, prepared: prepared) }

    // MARK: Events

    public func events(since seq: Int64, limit: Int, lane: String?) throws -> [BoardEvent] {
        try read { db in
            let rows: [Row]
            if let lane {
                let laneSQL = lane == "_" ? "lane IS NULL" : "lane = ?"
                let args: StatementArguments = lane == "_" ? [seq, limit] : [lane, seq, limit]
                rows = try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT seq, type, task_id, lane, run_id, at_ms, data FROM bridge_events
                    WHERE \(laneSQL) AND seq > ? ORDER BY seq LIMIT ?
                    """), arguments: args)
            } else {
                rows = try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT seq, type, task_id, lane, run_id, at_ms, data FROM bridge_events
                    WHERE seq > ? ORDER BY seq LIMIT ?
                    """), arguments: [seq, limit])
            }
            return rows.map(Self.event(from:))
        }
    }

    public func lastEventSeq() throws -> Int64 {
        try read { db in try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(seq) FROM bridge_events")) ?? 0 }
    }

    /// A row of `SELECT seq, type, task_id, lane, run_id, at_ms, data` (by position: this runs for
    /// every published event, and GRDB looks names up case-insensitively, lowercasing each time).
    static func event(from row: Row) -> BoardEvent {
        BoardEvent(seq: row[0], type: row[1], taskID: row[2], lane: row[3],
                   runID: row[4], atMs: row[5], data: JSONText.decode(row[6]) ?? [:])
    }
}

