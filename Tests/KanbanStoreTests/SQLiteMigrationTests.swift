import Foundation
import GRDB
import KanbanModel
@testable import KanbanStore
import XCTest

/// The `bridge_*` tables under GRDB's `DatabaseMigrator`: a board made by an older release is
/// recognised as migrated as far as it went, and nothing it holds is rebuilt or lost.
final class SQLiteMigrationTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("kb-migrate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    static let allSteps = ["bridge-v1", "bridge-v2-lane-curve-key", "bridge-v3-workspaces", "bridge-v4-request-scope",
                           "bridge-v5-lane-memory"]

    /// Fixtures/board-4efae95.sql: a board written by release 4efae95's `kanban-bridge serve` (how:
    /// Fixtures/make-board-4efae95.sh), loaded into a new file.
    func boardFrom4efae95() throws -> String {
        let sql = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/board-4efae95.sql"), encoding: .utf8)
        let file = path("kanban.db")
        let queue = try DatabaseQueue(path: file)
        try queue.writeWithoutTransaction { try $0.execute(sql: sql) }
        try queue.close()
        return file
    }

    /// Every schema object (type, name, DDL), to show what a migration changed.
    func schema(_ raw: SQLiteBoardRaw) throws -> Set<String> {
        try raw.queue.read { db in
            try Set(Row.fetchAll(db, sql: "SELECT type, name, sql FROM sqlite_master").map {
                "\($0["type"] as String) \($0["name"] as String): \(($0["sql"] as String?) ?? "")"
            })
        }
    }

    func migrations(_ raw: SQLiteBoardRaw) throws -> [String] {
        try raw.queue.read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid") }
    }

    func test_boardOf4efae95_isAdoptedAsMigrated_withItsTablesAndDataAsTheyWere() throws {
        let file = try boardFrom4efae95()
        let raw = try SQLiteBoardRaw(path: file)
        let before = try schema(raw)
        XCTAssertEqual(try raw.scalar("SELECT value FROM bridge_meta WHERE key = 'schema_version'"), "2", "the fixture is a v2 board")
        XCTAssertNil(try raw.scalar("SELECT name FROM sqlite_master WHERE name = 'grdb_migrations'"))

        let board = try SQLiteBoard(path: file)

        // Migration records: its two steps adopted (recorded, not run: running bridge-v1 again would
        // fail on CREATE TABLE), the later ones run, and GRDB's migrator sees the board as complete.
        XCTAssertEqual(try migrations(raw), Self.allSteps)
        try raw.queue.read { db in
            XCTAssertEqual(try Schema.bridgeMigrator.completedMigrations(db), Self.allSteps)
            XCTAssertTrue(try Schema.bridgeMigrator.hasCompletedMigrations(db))
            XCTAssertFalse(try Schema.bridgeMigrator.hasBeenSuperseded(db))
        }
        XCTAssertEqual(try raw.scalar("SELECT value FROM bridge_meta WHERE key = 'schema_version'"), String(Schema.bridgeVersion),
                       "kept up to date for older releases, which read it and refuse a newer board")
        // Tables: exactly what was there, plus GRDB's table (and its primary key's index) and what the
        // later steps add: the workspace record, the scope column of stored replies, the lanes' memory column.
        let after = try schema(raw)
        // Altered by later steps: stored replies (scope) and lanes (memory).
        let alteredBefore = before.filter { $0.hasPrefix("table bridge_requests:") || $0.hasPrefix("table bridge_lanes:") }
        XCTAssertTrue(before.subtracting(alteredBefore).isSubset(of: after), "nothing dropped or altered: \(before.subtracting(after))")
        let lanesBefore = try XCTUnwrap(alteredBefore.first { $0.hasPrefix("table bridge_lanes:") })
        XCTAssertEqual(after.subtracting(before), [
            "table grdb_migrations: CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)",
            "index sqlite_autoindex_grdb_migrations_1: ",
            "table bridge_workspaces: " + Schema.bridgeV3[0].trimmingCharacters(in: .whitespacesAndNewlines),
            "index sqlite_autoindex_bridge_workspaces_1: ",
            "table bridge_requests: CREATE TABLE bridge_requests (principal TEXT NOT NULL, request_id TEXT NOT NULL, reply BLOB NOT NULL,\n at_ms INTEGER NOT NULL, scope TEXT, PRIMARY KEY (principal, request_id))",
            String(lanesBefore.dropLast()) + ", memory TEXT, memory_owner TEXT)",
        ])

        // Data, through the store: the lane and its token, the finished task, the live claim, the events.
        XCTAssertEqual(try board.laneName(forTokenHash: "fcf3e33f0163dc3c2ea98cfe89847432b137cbf1ee96b4883fe18fc0950a66b8"), "factory")
        let done = try XCTUnwrap(try board.task(id: "t_690ae03a")).task
        XCTAssertEqual(done.status, .done)
        XCTAssertEqual(done.result, "painted")
        XCTAssertEqual(try board.task(id: "t_5469af1d")?.task.status, .running)
        XCTAssertTrue(try board.isClaimLive(runID: 2))
        XCTAssertEqual(try board.runOutcome(runID: 1), "completed")
        XCTAssertEqual(try board.lane(named: "factory")?.running, 1)
        XCTAssertEqual(try board.lastEventSeq(), 8)
        XCTAssertEqual(try board.events(since: 0, limit: 100, lane: nil).map(\.type),
                       ["lane_registered", "created", "available", "created", "available", "claimed", "completed", "claimed"])
        // The event sequence continues where the old release left it.
        _ = try board.createTask(TaskSpec(title: "after the upgrade", assignee: "factory"), nowMs: 1_800_000_000_000)
        XCTAssertEqual(try board.events(since: 8, limit: 100, lane: nil).map(\.seq), [9, 10])
    }

    func test_reopening_andGRDBsOwnMigrate_changeNothing() throws {
        let file = try boardFrom4efae95()
        _ = try SQLiteBoard(path: file)
        let raw = try SQLiteBoardRaw(path: file)
        let migrated = try schema(raw)
        _ = try SQLiteBoard(path: file)
        XCTAssertEqual(try migrations(raw), Self.allSteps)
        XCTAssertEqual(try schema(raw), migrated)
        // GRDB's migrator, given the board, finds nothing to run: the records are its own format.
        try Schema.bridgeMigrator.migrate(raw.queue)
        XCTAssertEqual(try migrations(raw), Self.allSteps)
        XCTAssertEqual(try schema(raw), migrated)
    }

    func test_freshBoard_runsEveryMigration_andRecordsThem() throws {
        _ = try SQLiteBoard(path: path("new.db"))
        let raw = try SQLiteBoardRaw(path: path("new.db"))
        XCTAssertEqual(try migrations(raw), Self.allSteps)
        XCTAssertEqual(try raw.scalar("SELECT value FROM bridge_meta WHERE key = 'schema_version'"), String(Schema.bridgeMigrations.count))
        XCTAssertEqual(try raw.scalar("SELECT COUNT(*) FROM pragma_table_info('bridge_lanes') WHERE name = 'curve_public_key'"), "1")
    }

    /// A version-1 board (before CURVE keys): v1 is adopted, v2 runs.
    func test_boardAtLegacyVersion1_getsOnlyTheLaterMigration() throws {
        let file = try boardFrom4efae95()
        let raw = try SQLiteBoardRaw(path: file)
        try raw.exec("""
            DROP INDEX bridge_lanes_curve_key; ALTER TABLE bridge_lanes DROP COLUMN curve_public_key;
            UPDATE bridge_meta SET value = '1' WHERE key = 'schema_version'
            """)
        let board = try SQLiteBoard(path: file)
        XCTAssertEqual(try migrations(raw), Self.allSteps)
        XCTAssertEqual(try raw.scalar("SELECT COUNT(*) FROM pragma_table_info('bridge_lanes') WHERE name = 'curve_public_key'"), "1")
        XCTAssertEqual(try raw.scalar("SELECT value FROM bridge_meta WHERE key = 'schema_version'"), String(Schema.bridgeVersion))
        XCTAssertEqual(try board.lane(named: "factory")?.lane.name, "factory", "the lane survived the column's return")
    }

    /// A board a newer bridge migrated (a step this build does not know) is refused, unchanged.
    func test_boardMigratedByANewerBridge_isRefused_untouched() throws {
        let file = try boardFrom4efae95()
        _ = try SQLiteBoard(path: file)
        let raw = try SQLiteBoardRaw(path: file)
        try raw.exec("INSERT INTO grdb_migrations (identifier) VALUES ('bridge-v99-from-the-future')")
        let before = try schema(raw)
        XCTAssertThrowsError(try SQLiteBoard(path: file)) { error in
            guard case BoardError.incompatibleBoard(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("bridge-v99-from-the-future") && reason.contains("upgrade kanban-bridge"), reason)
        }
        XCTAssertThrowsError(try SQLiteBoard.inspect(path: file), "doctor says what serve would")
        XCTAssertEqual(try schema(raw), before)
        XCTAssertEqual(try migrations(raw), Self.allSteps + ["bridge-v99-from-the-future"])
    }

    /// A pre-migrator board whose version is above any such release's is refused, as 4efae95 did.
    func test_legacyVersionNewerThanAnyRelease_isRefused() throws {
        let file = try boardFrom4efae95()
        let raw = try SQLiteBoardRaw(path: file)
        try raw.exec("UPDATE bridge_meta SET value = '3' WHERE key = 'schema_version'")
        XCTAssertThrowsError(try SQLiteBoard(path: file)) { error in
            guard case BoardError.incompatibleBoard(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("version 3"), reason)
        }
        XCTAssertNil(try raw.scalar("SELECT name FROM sqlite_master WHERE name = 'grdb_migrations'"), "rolled back")
    }
}
