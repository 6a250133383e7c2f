import Foundation
import KanbanModel
import KanbanStore
import XCTest

/// SQLite only: rows Hermes (its CLI, its dispatcher) writes to the same file, through another
/// connection, and what the store makes of them.
final class HermesWritesTests: XCTestCase {
    func test_namedClaim_ofReadyTaskWithUnfinishedParent_demotesIt_likeHermes() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory")
        let parent = try f.task("parent")
        let child = try f.task("child")
        // Hermes can leave a ready task with an unfinished parent (a link added by hand).
        try SQLiteBoardRaw(path: f.path).exec("INSERT INTO task_links (parent_id, child_id) VALUES ('\(parent.id)', '\(child.id)')")
        XCTAssertThrowsError(try f.claim("factory", task: child.id)) { error in
            guard case BoardError.notReady = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try f.board.task(id: child.id)?.task.status, .todo, "the demotion commits even though the claim fails")
        XCTAssertEqual(try f.eventTypes(task: child.id).last, "claim_rejected")
    }

    func test_lostClaim_whenSomeoneElseTookTheTask_isStale() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory")
        let t = try f.task("x")
        let c = try XCTUnwrap(try f.claim("factory"))
        // What `hermes kanban reclaim` does to the row, written by another connection.
        let raw = try SQLiteBoardRaw(path: f.path)
        try raw.exec("UPDATE tasks SET status='ready', claim_lock=NULL, claim_expires=NULL, current_run_id=NULL WHERE id='\(t.id)'")
        XCTAssertThrowsError(try f.board.endClaim(f.proof("factory", t.id, c.token), .complete(result: nil, summary: nil, metadata: nil), nowMs: f.nowMs)) {
            guard case BoardError.denied(.staleClaim) = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(try f.board.lane(named: "factory")?.running, 0, "a lost claim frees its slot")
    }
}
