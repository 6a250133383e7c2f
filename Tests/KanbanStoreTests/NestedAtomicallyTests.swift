import Foundation
import KanbanModel
import KanbanStore
import XCTest

/// Group commit runs each request of a batch in a savepoint of the batch's one transaction.
final class NestedAtomicallyTests: XCTestCase {
    struct Refused: Error {}

    func test_nestedAtomically_thatThrows_undoesOnlyItsOwnWrites() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        var kept = ""
        try f.board.atomically {
            kept = try f.task("kept").id
            XCTAssertThrowsError(try f.board.atomically {
                _ = try f.task("undone")
                throw Refused()
            })
            _ = try f.task("after")
        }
        let titles = try f.board.tasks(status: nil, assignee: nil, limit: 10).map(\.title).sorted()
        XCTAssertEqual(titles, ["after", "kept"])
        XCTAssertNotNil(try f.board.task(id: kept))
    }
}
