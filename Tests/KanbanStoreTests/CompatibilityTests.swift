import Foundation
import GRDB
import KanbanModel
import KanbanStore
import XCTest

/// SQLite only: the board file next to Hermes' own schema, and files the store refuses.
final class CompatibilityTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("kb-compat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func test_freshBoard_hasHermesTables_inWAL() throws {
        let board = try SQLiteBoard(path: path("kanban.db"))
        _ = board
        let raw = try SQLiteBoardRaw(path: path("kanban.db"))
        for table in ["tasks", "task_links", "task_comments", "task_events", "task_runs", "task_attachments", "kanban_notify_subs",
                      "bridge_lanes", "bridge_claims", "bridge_events"] {
            XCTAssertEqual(try raw.scalar("SELECT name FROM sqlite_master WHERE type='table' AND name='\(table)'"), table)
        }
        XCTAssertEqual(try raw.scalar("PRAGMA journal_mode"), "wal")
    }

    func test_existingHermesBoard_isAttached_andItsTasksAreClaimable() throws {
        // A board as `hermes kanban init` + `create` leave it: Hermes tables only, a ready task.
        let hermes = try SQLiteBoardRaw(path: path("hermes.db"))
        try hermes.exec("""
            CREATE TABLE tasks (id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT, assignee TEXT, status TEXT NOT NULL,
             priority INTEGER DEFAULT 0, created_by TEXT, created_at INTEGER NOT NULL, started_at INTEGER, completed_at INTEGER,
             workspace_kind TEXT NOT NULL DEFAULT 'scratch', workspace_path TEXT, branch_name TEXT, project_id TEXT,
             claim_lock TEXT, claim_expires INTEGER, tenant TEXT, result TEXT, idempotency_key TEXT,
             consecutive_failures INTEGER NOT NULL DEFAULT 0, worker_pid INTEGER, last_failure_error TEXT,
             max_runtime_seconds INTEGER, last_heartbeat_at INTEGER, current_run_id INTEGER, workflow_template_id TEXT,
             current_step_key TEXT, skills TEXT, model_override TEXT, max_retries INTEGER, goal_mode INTEGER NOT NULL DEFAULT 0,
             goal_max_turns INTEGER, session_id TEXT, block_kind TEXT, block_recurrences INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE task_links (parent_id TEXT NOT NULL, child_id TEXT NOT NULL, PRIMARY KEY (parent_id, child_id));
            CREATE TABLE task_events (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, run_id INTEGER,
             kind TEXT NOT NULL, payload TEXT, created_at INTEGER NOT NULL);
            CREATE TABLE task_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, profile TEXT, step_key TEXT,
             status TEXT NOT NULL, claim_lock TEXT, claim_expires INTEGER, worker_pid INTEGER, max_runtime_seconds INTEGER,
             last_heartbeat_at INTEGER, started_at INTEGER NOT NULL, ended_at INTEGER, outcome TEXT, summary TEXT,
             metadata TEXT, error TEXT);
            INSERT INTO tasks (id, title, assignee, status, priority, created_at) VALUES ('t_36ed8daa', 'Build widget', 'factory', 'ready', 5, 1795000000);
            """)
        let board = try SQLiteBoard(path: path("hermes.db"))
        _ = try board.registerLane(Lane(name: "factory"), tokenHash: Secrets.hash("lt"), nowMs: 1_795_000_100_000)
        let factory = try XCTUnwrap(try board.lane(named: "factory")?.lane)
        XCTAssertEqual(try board.lane(named: "factory")?.queued, 1)
        let claimed = try board.claim(ClaimIntent(lane: factory, taskID: nil, leaseMs: 60_000, tokenHash: Secrets.hash("ct")),
                                      nowMs: 1_795_000_100_000)
        XCTAssertEqual(claimed?.task.id, "t_36ed8daa")
        XCTAssertEqual(try hermes.scalar("SELECT claim_lock FROM tasks WHERE id='t_36ed8daa'"), "lane:factory:\(claimed!.runID)")
        XCTAssertNil(try hermes.scalar("SELECT worker_pid FROM tasks WHERE id='t_36ed8daa'"), "Hermes must never signal our workers")
    }

    func test_sqliteFileThatIsNotABoard_isRefusedWithReason() throws {
        try SQLiteBoardRaw(path: path("other.db")).exec("CREATE TABLE invoices (id INTEGER)")
        XCTAssertThrowsError(try SQLiteBoard(path: path("other.db"))) { error in
            guard case BoardError.incompatibleBoard(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("not a Hermes Kanban board"), reason)
            XCTAssertTrue(reason.contains("invoices"), reason)
        }
    }

    func test_refusedFile_isLeftUntouched() throws {
        let raw = try SQLiteBoardRaw(path: path("notes.db"))
        try raw.exec("CREATE TABLE notes (x)")
        XCTAssertThrowsError(try SQLiteBoard(path: path("notes.db")))
        XCTAssertEqual(try raw.scalar("PRAGMA journal_mode"), "delete", "not switched to WAL")
        XCTAssertEqual(try raw.scalar("SELECT COUNT(*) FROM sqlite_master"), "1", "nothing created")
    }

    func test_hermesBoardMissingALaterColumn_isRefused_notHalfUsed() throws {
        _ = try SQLiteBoard(path: path("older.db"))  // a complete board...
        let raw = try SQLiteBoardRaw(path: path("older.db"))  // (opened after: it would leave an empty file the board refuses)
        // ...from before Hermes added a column (and its index).
        try raw.exec("DROP INDEX idx_tasks_session_id; ALTER TABLE tasks DROP COLUMN session_id")
        XCTAssertThrowsError(try SQLiteBoard(path: path("older.db"))) { error in
            guard case BoardError.incompatibleBoard(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("session_id"), reason)
        }
    }

    func test_boardMissingColumns_isRefusedNamingThem() throws {
        let raw = try SQLiteBoardRaw(path: path("old.db"))
        try raw.exec("CREATE TABLE tasks (id TEXT PRIMARY KEY, title TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL)")
        XCTAssertThrowsError(try SQLiteBoard(path: path("old.db"))) { error in
            guard case BoardError.incompatibleBoard(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("claim_lock"), reason)
            XCTAssertTrue(reason.contains("hermes kanban init"), reason)
        }
    }

    func test_fileThatIsNotSQLite_isRefused() throws {
        try Data(repeating: 0x41, count: 4096).write(to: dir.appendingPathComponent("junk.db"))
        XCTAssertThrowsError(try SQLiteBoard(path: path("junk.db"))) { error in
            guard case BoardError.incompatibleBoard(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("not an SQLite database"), reason)
        }
    }

    func test_reopeningABoard_keepsItsStateAndEventSequence() throws {
        let p = path("kanban.db")
        var seq: Int64 = 0
        do {
            let board = try SQLiteBoard(path: p)
            _ = try board.createTask(TaskSpec(title: "persisted"), nowMs: 1_800_000_000_000)
            seq = try board.lastEventSeq()
        }
        let again = try SQLiteBoard(path: p)
        XCTAssertEqual(try again.tasks(status: nil, assignee: nil, limit: 10).map(\.title), ["persisted"])
        XCTAssertEqual(try again.lastEventSeq(), seq)
    }
}
