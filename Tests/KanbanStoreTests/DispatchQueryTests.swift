import Foundation
import KanbanModel
import KanbanStore
import XCTest

final class DispatchQueryTests: XCTestCase {
    func test_spawnableLanes_areSpawnAndPoolLanesWithReadyWork_withTheirLiveClaims() throws {
        let f = try BoardFixture()
        try f.lane("factory", max: 4)  // persistent: never spawned
        for (name, kind) in [("pool", LaneKind.pool), ("idle", .spawn)] {
            _ = try f.board.registerLane(Lane(name: name, kind: kind, maxConcurrency: 3, command: ["/bin/true"]),
                                         tokenHash: Secrets.hash("lt_\(name)"), nowMs: f.nowMs)
        }
        try f.task("for the persistent lane")
        try f.task("one", assignee: "pool")
        try f.task("two", assignee: "pool")
        XCTAssertNotNil(try f.claim("pool"))
        let lanes = try f.board.spawnableLanes()
        XCTAssertEqual(lanes.map(\.lane.name), ["pool"], "persistent lanes and lanes without ready work are left out")
        XCTAssertEqual(lanes.first?.running, 1)
    }
}
