import KanbanModel
import XCTest

final class HermesLayoutTests: XCTestCase {
    func test_logsGoWhereHermesLooksForTheBoard() {
        XCTAssertEqual(HermesLayout.workerLogsDir(boardPath: "/home/ann/.hermes/kanban.db"), "/home/ann/.hermes/kanban/logs")
        XCTAssertEqual(HermesLayout.workerLogsDir(boardPath: "/home/ann/.hermes/kanban/boards/web/kanban.db"),
                       "/home/ann/.hermes/kanban/boards/web/logs")
        XCTAssertEqual(HermesLayout.workerLogsDir(boardPath: "/var/lib/kb/board.db"), "/var/lib/kb/kanban/logs")
        XCTAssertEqual(HermesLayout.workerLogsDir(boardPath: "kanban.db"), "./kanban/logs")
    }
}
