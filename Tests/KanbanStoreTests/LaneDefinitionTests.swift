import Foundation
import KanbanModel
import KanbanStore
import XCTest

final class LaneDefinitionTests: XCTestCase {
    func test_defineLane_registersANewLane_thenBringsItToTheDeclaredSettings_keepingItsToken() throws {
        let f = try BoardFixture()
        var pool = Lane(name: "builders", kind: .pool, maxConcurrency: 3)
        pool.command = ["/bin/true"]
        XCTAssertTrue(try f.board.defineLane(pool, newTokenHash: Secrets.hash("lt_first"), nowMs: f.nowMs))
        XCTAssertEqual(try f.board.laneName(forTokenHash: Secrets.hash("lt_first")), "builders")

        pool.maxConcurrency = 5
        pool.leaseSeconds = 120
        XCTAssertFalse(try f.board.defineLane(pool, newTokenHash: Secrets.hash("lt_second"), nowMs: f.nowMs))
        let stored = try XCTUnwrap(f.board.lane(named: "builders")).lane
        XCTAssertEqual(stored.maxConcurrency, 5)
        XCTAssertEqual(stored.leaseSeconds, 120)
        XCTAssertEqual(try f.board.laneName(forTokenHash: Secrets.hash("lt_first")), "builders", "an existing lane keeps its token")
        XCTAssertNil(try f.board.laneName(forTokenHash: Secrets.hash("lt_second")))

        pool.leaseSeconds = nil  // declared unset: the stored value is cleared, not kept
        _ = try f.board.defineLane(pool, newTokenHash: "", nowMs: f.nowMs)
        XCTAssertNil(try XCTUnwrap(f.board.lane(named: "builders")).lane.leaseSeconds)
    }
}
