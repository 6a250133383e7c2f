import Foundation
import KanbanModel
import KanbanStore
import XCTest

final class TaskLifecycleTests: XCTestCase {
    func test_create_withoutParents_isReady_andAnnouncedToItsLane() throws {
        let f = try BoardFixture()
        let t = try f.task("Build widget")
        XCTAssertEqual(t.status, .ready)
        XCTAssertEqual(try f.eventTypes(task: t.id), ["created", "available"])
        XCTAssertTrue(t.id.hasPrefix("t_") && t.id.count == 10)
    }

    func test_create_withUnfinishedParent_isTodo_untilParentCompletes() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let parent = try f.task("parent")
        let child = try f.task("child", parents: [parent.id])
        XCTAssertEqual(child.status, .todo)
        let c = try XCTUnwrap(try f.claim("factory"))
        XCTAssertEqual(c.task.id, parent.id, "only the parent is claimable")
        _ = try f.board.endClaim(f.proof("factory", parent.id, c.token), .complete(result: "ok", summary: nil, metadata: nil), nowMs: f.nowMs)
        XCTAssertEqual(try f.board.task(id: child.id)?.task.status, .ready)
        XCTAssertEqual(try f.eventTypes(task: child.id).suffix(2), ["promoted", "available"])
    }

    func test_namedClaim_ofChildWithUnfinishedParent_isNotReady() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let parent = try f.task("parent")
        let child = try f.task("child", parents: [parent.id])
        XCTAssertThrowsError(try f.claim("factory", task: child.id)) { error in
            guard case BoardError.notReady = error else { return XCTFail("\(error)") }
        }
    }

    func test_create_withUnknownParent_isNotFound() throws {
        let f = try BoardFixture()
        XCTAssertThrowsError(try f.task("orphan", parents: ["t_missing1"])) { error in
            guard case BoardError.notFound = error else { return XCTFail("\(error)") }
        }
    }

    func test_idempotencyKey_returnsTheFirstTask() throws {
        let f = try BoardFixture()
        let a = try f.board.createTask(TaskSpec(title: "once", idempotencyKey: "k1"), nowMs: f.nowMs)
        let b = try f.board.createTask(TaskSpec(title: "twice", idempotencyKey: "k1"), nowMs: f.nowMs + 5)
        XCTAssertEqual(a.id, b.id)
        XCTAssertEqual(try f.board.tasks(status: nil, assignee: nil, limit: 10).count, 1)
    }

    func test_link_refusesCycles_andDemotesReadyChild() throws {
        let f = try BoardFixture()
        let a = try f.task("a"), b = try f.task("b")
        let linked = try f.board.linkTasks(parent: a.id, child: b.id, nowMs: f.nowMs)
        XCTAssertEqual(linked.status, .todo)
        XCTAssertEqual(linked.parents, [a.id])
        XCTAssertThrowsError(try f.board.linkTasks(parent: b.id, child: a.id, nowMs: f.nowMs)) { error in
            guard case BoardError.conflict = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try f.board.linkTasks(parent: a.id, child: a.id, nowMs: f.nowMs))
    }

    func test_assign_refusedWhileRunning_allowedOtherwise() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("x")
        _ = try XCTUnwrap(try f.claim("factory"))
        XCTAssertThrowsError(try f.board.assignTask(id: t.id, assignee: "other", nowMs: f.nowMs))
        let u = try f.task("y")
        XCTAssertEqual(try f.board.assignTask(id: u.id, assignee: "other", nowMs: f.nowMs).assignee, "other")
        XCTAssertEqual(try f.eventTypes(task: u.id).suffix(2), ["assigned", "available"])
    }
}
