import ArgumentParser
import Foundation
import KanbanModel
import KanbanStore

/// `kanban-bridge backup`: a consistent copy of a live board.
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a board, live, with SQLite's online backup (safe while serve and Hermes write).",
        discussion: """
            The copy is a consistent snapshot: every transaction committed before the copy finished is in it, none half. It is an ordinary board file: stop the coordinator, put the copy in place of kanban.db (remove kanban.db-wal and kanban.db-shm), start it again.

            The copy is created with mode 0600, like a new board: it holds every task's title, body and result.

            admin.token is not copied (it never lives in the board); keep it, or set $KANBAN_BRIDGE_ADMIN_TOKEN. Lane and claim tokens are only stored as hashes, so the copy holds no secret.

            Example: kanban-bridge backup --db /var/lib/kanban-bridge/kanban.db /var/backups/kanban-$(date +%F).db
            """)
    @Option(help: ArgumentHelp("Board file to copy.", valueName: "path")) var db: String = "kanban.db"
    @Argument(help: ArgumentHelp("The new file to write (must not exist).", valueName: "destination")) var destination: String

    func run() throws {
        do {
            try SQLiteBoard.backup(from: db, to: destination)
        } catch BoardError.notFound(let why), BoardError.conflict(let why) {
            printError(why)
            throw ExitCode(2)
        } catch {
            printError("backup failed: \(error)")
            try? FileManager.default.removeItem(atPath: destination)
            throw ExitCode(1)
        }
        print("backed up \(db) to \(destination)")
    }
}
