import Foundation
import GRDB
import KanbanModel
import KanbanStore
import XCTest

/// The board file on disk: who can read it, and what happens to files that are not a healthy board.
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
}
