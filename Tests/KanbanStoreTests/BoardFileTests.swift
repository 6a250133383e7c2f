import Foundation
import GRDB
import KanbanModel
import KanbanStore
import XCTest

/// SQLite only. The board file on disk: who can read it, and what happens to files that are not a healthy board.
final class BoardFileTests: XCTestCase {
    var dir: URL!
    var savedUmask: mode_t = 0

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("kb-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // The usual umask, which gives files SQLite creates itself mode 0644.
        savedUmask = umask(0o022)
    }

    override func tearDown() {
        umask(savedUmask)
        try? FileManager.default.removeItem(at: dir)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// The permission bits in octal, as `ls` and `chmod` say them.
    func mode(_ path: String) throws -> String {
        String(try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int), radix: 8)
    }

    /// The modes of the board and its -wal and -shm, while `board` is open (SQLite creates the
    /// companions on first use and removes them when the last connection closes).
    func modes(_ board: SQLiteBoard) throws -> [String] {
        _ = try board.createTask(TaskSpec(title: "in the WAL"), nowMs: 1_800_000_000_000)
        return try [board.path, board.path + "-wal", board.path + "-shm"].map(mode)
    }

    // MARK: Finding 2: who can read the board

    func test_newBoard_isPrivate() throws {
        let board = try SQLiteBoard(path: path("kanban.db"))
        XCTAssertEqual(try modes(board), ["600", "600", "600"])
        XCTAssertTrue(SQLiteBoard.filesOpenToOthers(path: board.path).isEmpty)
    }

    func test_groupMode_reachesWalAndShm() throws {
        // 0660 under umask 022: the group's write bit must survive, and SQLite copies it to -wal and -shm.
        let board = try SQLiteBoard(path: path("kanban.db"), file: BoardFileOptions(newFileMode: 0o660))
        XCTAssertEqual(try modes(board), ["660", "660", "660"])
    }

    func test_existingBoard_keepsItsMode_andIsReported() throws {
        _ = try SQLiteBoard(path: path("kanban.db"))
        chmod(path("kanban.db"), 0o644)
        let board = try SQLiteBoard(path: path("kanban.db"))
        XCTAssertEqual(try modes(board), ["644", "644", "644"], "not chmod-ed; its companions follow it")
        XCTAssertEqual(SQLiteBoard.filesOpenToOthers(path: board.path).map(\.path),
                       [board.path, board.path + "-wal", board.path + "-shm"])
        XCTAssertEqual(SQLiteBoard.filesOpenToOthers(path: board.path).first?.mode, 0o644)
    }

    // MARK: Finding 4: damaged, cut short, empty

    /// A board with a few tasks, closed and checkpointed, so everything is in the main file.
    func closedBoard(_ name: String) throws -> String {
        let file = path(name)
        do {
            let board = try SQLiteBoard(path: file)
            for n in 1...20 { _ = try board.createTask(TaskSpec(title: "task \(n)"), nowMs: 1_800_000_000_000 + Int64(n)) }
        }
        let raw = try DatabaseQueue(path: file)
        try raw.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try raw.close()
        return file
    }

    /// Overwrites the cells of the first index's root page, as a bad disk sector would.
    func trashFirstIndex(_ file: String) throws {
        let raw = try DatabaseQueue(path: file)
        let (pageSize, root) = try raw.read { db in
            (try Int.fetchOne(db, sql: "PRAGMA page_size")!,
             try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_master WHERE type='index' LIMIT 1")!)
        }
        try raw.close()
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: file))
        // Past the 8-byte page header, so SQLite still sees an index page and lists what is wrong in it.
        try handle.seek(toOffset: UInt64(pageSize * (root - 1) + 8))
        handle.write(Data(repeating: 0x37, count: 200))
        try handle.close()
    }

    /// What `integrity_check` says on a connection of its own ("ok" when healthy).
    func integrity(_ file: String) -> String {
        do {
            let raw = try DatabaseQueue(path: file, configuration: { var c = Configuration(); c.readonly = true; return c }())
            defer { try? raw.close() }
            return try raw.read { try String.fetchAll($0, sql: "PRAGMA integrity_check").joined(separator: "\n") }
        } catch {
            return "\(error)"
        }
    }

    /// The reason `SQLiteBoard` refuses `file` with, or a failure when it opens it.
    func refusal(_ file: String, _ options: BoardFileOptions = BoardFileOptions()) -> String {
        do {
            _ = try SQLiteBoard(path: file, file: options)
            XCTFail("\(file) was opened")
            return ""
        } catch BoardError.incompatibleBoard(let reason) {
            return reason
        } catch {
            XCTFail("not a plain refusal: \(error)")
            return ""
        }
    }

    func snapshot(_ file: String) throws -> (Data, Date?) {
        (try Data(contentsOf: URL(fileURLWithPath: file)),
         try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date)
    }

    func test_damagedIndex_isRefused_untouched() throws {
        let file = try closedBoard("kanban.db")
        try trashFirstIndex(file)
        XCTAssertNotEqual(integrity(file), "ok")
        let before = try snapshot(file)
        let reason = refusal(file)
        XCTAssertTrue(reason.contains("is damaged (SQLite's quick_check says: "), reason)
        XCTAssertTrue(reason.contains("sqlite3 \(file) \".recover\" | sqlite3 recovered.db"), reason)
        XCTAssertTrue(reason.contains("kanban-bridge backup"), reason)
        let after = try snapshot(file)
        XCTAssertEqual(after.0, before.0, "the main file must be left byte for byte")
        XCTAssertEqual(after.1, before.1)
    }

    func test_truncatedBoard_isRefusedPlainly() throws {
        let file = try closedBoard("kanban.db")
        let whole = try Data(contentsOf: URL(fileURLWithPath: file))
        // Half of what the header says the database holds (the file itself is longer: the coordinator
        // grows it in 1 MiB chunks). Header: page size at offset 16 (2 bytes), page count at 28 (4 bytes).
        let pageSize = Int(whole[16]) << 8 | Int(whole[17])
        let pages = whole[28..<32].reduce(0) { $0 << 8 | Int($1) }
        try whole.prefix(pageSize * pages / 2).write(to: URL(fileURLWithPath: file))
        let before = try snapshot(file)
        let reason = refusal(file)
        XCTAssertTrue(reason.contains("is damaged"), reason)
        XCTAssertTrue(reason.contains(".recover"), reason)
        XCTAssertFalse(reason.contains("SQLite error"), reason)
        XCTAssertEqual(try snapshot(file).0, before.0)
    }

    func test_emptyFile_isRefused_unlessAsked() throws {
        let file = path("kanban.db")
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data()))
        let reason = refusal(file)
        XCTAssertTrue(reason.contains("is empty (0 bytes)"), reason)
        XCTAssertTrue(reason.contains("--init-empty-board"), reason)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int, 0, "left empty")
        let board = try SQLiteBoard(path: file, file: BoardFileOptions(initEmptyFile: true))
        XCTAssertEqual(try board.tasks(status: nil, assignee: nil, limit: 10).count, 0)
        XCTAssertEqual(integrity(file), "ok")
    }

    func test_interruptedTransaction_isRolledBack() throws {
        // A board in rollback mode, copied while a transaction had written half its pages: the copy
        // holds a hot journal, which a read-only check cannot roll back. Opening it must still work.
        let file = try closedBoard("kanban.db")
        let raw = try DatabaseQueue(path: file)
        try raw.writeWithoutTransaction { db in
            _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE")
            try db.execute(sql: "PRAGMA cache_size = 2")  // spill the change to the file before commit
            try db.execute(sql: "BEGIN IMMEDIATE")
            try db.execute(sql: "UPDATE tasks SET title = 'half written', body = zeroblob(3000)")
            try FileManager.default.copyItem(atPath: file, toPath: path("copy.db"))
            try FileManager.default.copyItem(atPath: file + "-journal", toPath: path("copy.db-journal"))
            try db.execute(sql: "ROLLBACK")
        }
        try raw.close()
        XCTAssertNotEqual(try FileManager.default.attributesOfItem(atPath: path("copy.db-journal"))[.size] as? Int, 0)
        XCTAssertFalse(try SQLiteBoard.verifyIntact(path: path("copy.db")), "read-only, it cannot be checked")
        let board = try SQLiteBoard(path: path("copy.db"))
        let titles = try board.tasks(status: nil, assignee: nil, limit: 100).map(\.title)
        XCTAssertEqual(titles.count, 20)
        XCTAssertFalse(titles.contains("half written"), "the interrupted change is rolled back")
    }

    func test_verifyIntact_thorough_findsTheIndex() throws {
        let file = try closedBoard("kanban.db")
        XCTAssertTrue(try SQLiteBoard.verifyIntact(path: file, thorough: true))
        try trashFirstIndex(file)
        XCTAssertThrowsError(try SQLiteBoard.verifyIntact(path: file, thorough: true)) { error in
            guard case BoardError.incompatibleBoard(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("integrity_check"), reason)
        }
    }
}
