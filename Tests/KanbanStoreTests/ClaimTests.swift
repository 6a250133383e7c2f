import Foundation
import KanbanModel
import KanbanStore
import XCTest

final class ClaimTests: XCTestCase {
    func test_claim_picksHighestPriorityThenOldest() throws {
        let f = try BoardFixture()
        try f.lane("factory", max: 10)
        let old = try f.task("old low", priority: 1)
        let high = try f.task("high", priority: 5)
        let newer = try f.task("new low", priority: 1)
        XCTAssertEqual(try f.claim("factory")?.task.id, high.id)
        XCTAssertEqual(try f.claim("factory")?.task.id, old.id)
        XCTAssertEqual(try f.claim("factory")?.task.id, newer.id)
        XCTAssertNil(try f.claim("factory"))
    }

    func test_claim_withinOneSecond_takesTasksInCreationOrder() throws {
        let f = try BoardFixture()
        try f.lane("factory", max: 21)
        var created: [String] = []
        // Same created_at second for all: only insertion order can tell them apart (ids are random).
        for i in 0..<20 {
            created.append(try f.board.createTask(TaskSpec(title: "t\(i)", assignee: "factory"), nowMs: f.nowMs).id)
        }
        var claimed: [String] = []
        while let c = try f.claim("factory") { claimed.append(c.task.id) }
        XCTAssertEqual(claimed, created)
    }

    func test_claim_onlyTakesTheLanesOwnTasks() throws {
        let f = try BoardFixture()
        try f.lane("factory"); try f.lane("other")
        let t = try f.task("mine")
        XCTAssertNil(try f.claim("other"))
        XCTAssertThrowsError(try f.claim("other", task: t.id)) { error in
            guard case BoardError.notAssigned = error else { return XCTFail("\(error)") }
        }
    }

    func test_claim_writesHermesRunLockAndEvent() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("x")
        let c = try XCTUnwrap(try f.claim("factory"))
        let detail = try XCTUnwrap(try f.board.task(id: t.id))
        let run = try XCTUnwrap(detail.runs.first)
        XCTAssertEqual(detail.task.status, .running)
        XCTAssertEqual(detail.task.currentRunID, run.id)
        XCTAssertEqual(detail.task.claimLock, "lane:factory:\(run.id)")
        XCTAssertEqual(run.status, "running")
        XCTAssertEqual(run.profile, "factory")
        XCTAssertFalse(c.token.isEmpty)
        XCTAssertEqual(try f.eventTypes(task: t.id).last, "claimed")
    }

    func test_maxConcurrency_isHonoured_andFreedByCompletion() throws {
        let f = try BoardFixture()
        try f.lane("factory", max: 2)
        for i in 0..<3 { try f.task("t\(i)") }
        let a = try XCTUnwrap(try f.claim("factory"))
        _ = try XCTUnwrap(try f.claim("factory"))
        XCTAssertThrowsError(try f.claim("factory")) { error in
            guard case BoardError.laneFull = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try f.board.lane(named: "factory")?.running, 2)
        _ = try f.board.endClaim(f.proof("factory", a.task.id, a.token), .complete(result: nil, summary: nil, metadata: nil), nowMs: f.nowMs)
        XCTAssertNotNil(try f.claim("factory"))
    }

    func test_unassignedNamedTask_isAssignedToTheClaimer() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("free", assignee: nil)
        let c = try XCTUnwrap(try f.claim("factory", task: t.id))
        XCTAssertEqual(c.task.assignee, "factory")
    }
}
