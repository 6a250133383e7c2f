import Foundation
import KanbanModel
import KanbanStore
import XCTest

final class EventLogTests: XCTestCase {
    func test_events_areStrictlyIncreasing_andFilterByLane() throws {
        let f = try BoardFixture()
        try f.lane("factory"); try f.lane("other")
        try f.task("a"); try f.task("b", assignee: "other"); try f.task("c", assignee: nil)
        let all = try f.board.events(since: 0, limit: 100, lane: nil)
        XCTAssertEqual(all.map(\.seq), (1...Int64(all.count)).map { $0 })
        XCTAssertTrue(try f.board.events(since: 0, limit: 100, lane: "other").allSatisfy { $0.lane == "other" })
        XCTAssertEqual(try f.board.events(since: 0, limit: 100, lane: "_").map(\.type), ["created"])
        XCTAssertEqual(try f.board.events(since: all[2].seq, limit: 2, lane: nil).map(\.seq), [all[3].seq, all[4].seq])
        XCTAssertEqual(try f.board.lastEventSeq(), all.last?.seq)
    }
}
