import Foundation
import KanbanModel
import KanbanStore
import XCTest

final class ClaimModeTests: XCTestCase {
    func test_pullLanes_areNotAnnouncedWork_watchLanesAre() throws {
        let f = try BoardFixture()
        _ = try f.board.registerLane(Lane(name: "puller", claimMode: .pull), tokenHash: "h1", nowMs: f.nowMs)
        _ = try f.board.registerLane(Lane(name: "watcher", claimMode: .watch), tokenHash: "h2", nowMs: f.nowMs)
        let pulled = try f.task("p", assignee: "puller")
        let watched = try f.task("w", assignee: "watcher")
        let unregistered = try f.task("u", assignee: "nobody-yet")
        XCTAssertEqual(try f.eventTypes(task: pulled.id), ["created"])
        XCTAssertEqual(try f.eventTypes(task: watched.id), ["created", "available"])
        XCTAssertEqual(try f.eventTypes(task: unregistered.id), ["created", "available"], "visible to dashboards")
    }
}
