import ArgumentParser
import Foundation
import KanbanStore
import Logging

/// `serve`'s flags for the board file itself: who may read a new one, and whether an empty file may become one.
struct BoardFileFlags: ParsableArguments {
    /// The modes worth having: the owner reads and writes; a group reads, or reads and writes.
    static let modes: [String: mode_t] = ["0600": 0o600, "0640": 0o640, "0660": 0o660]

    @Option(help: ArgumentHelp(
        "Permissions of a board file serve creates; its -wal and -shm get the same. 0600: only you. To share the board with "
            + "Hermes running as another user, make both members of one group and use 0660 (Hermes writes too; 0640 lets the group only read). "
            + "Bits for all users are refused: the board holds every task's title, body and result. An existing board keeps its mode.",
        valueName: "mode"))
    var boardMode: String = "0600"

    @Flag(help: ArgumentHelp(
        "Make an existing empty (0-byte) --db file a new board. Without it such a file is refused: an empty file where a board "
            + "should be is more often a board lost to a bad copy or a full disk. (A missing file always becomes a new board.)"))
    var initEmptyBoard = false

    func validate() throws {
        guard fileMode != nil else {
            throw ValidationError("--board-mode must be 0600, 0640 or 0660, not '\(boardMode)': the board holds every task's "
                                  + "title, body and result, so it gets no bits for all users; share it through a group")
        }
    }

    /// The parsed `--board-mode` ("640" and "0640" alike).
    var fileMode: mode_t? { Self.modes[boardMode.count == 3 ? "0" + boardMode : boardMode] }

    var options: BoardFileOptions { BoardFileOptions(newFileMode: fileMode ?? 0o600, initEmptyFile: initEmptyBoard) }

    /// Warns about board files every local user can read. They are left as they are: changing the
    /// mode of a board Hermes also opens could lock Hermes out; the owner decides.
    static func warnIfOpenToOthers(_ path: String, log: Logger) {
        for (file, mode) in SQLiteBoard.filesOpenToOthers(path: path) {
            log.warning("the board is readable by every local user; run: chmod 600 \(file) (or 660 to share it with a group)",
                        metadata: ["file": "\(file)", "mode": "\(String(mode, radix: 8))"])
        }
    }
}
