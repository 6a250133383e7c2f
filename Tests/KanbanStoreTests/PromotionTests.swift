import KanbanModel
import KanbanStore
import XCTest

/// Issue #19, finding 7: readiness without loading parents, a fan-out promoted in batches across
/// turns, and a restart that finds what a crash left waiting. Counts, never time.
final class PromotionTests: XCTestCase {
    /// Runs the promotion work left for later turns, as the coordinator does one batch a turn; returns the turns.
    @discardableResult
    func drain(_ f: BoardFixture) throws -> Int {
        var turns = 0
        while f.board.hasPendingPromotions { try f.board.continuePromotions(nowMs: f.nowMs); turns += 1 }
        return turns
    }

    func ready(_ f: BoardFixture, _ ids: [String]) throws -> Int {
        try ids.filter { try f.board.task(id: $0)?.task.status == .ready }.count
    }

    func test_completeOfAParentOfManyChildren_promotesOneBatch_andTheRestInLaterTurns() throws {
        let f = try BoardFixture()
        try f.lane("factory", max: 2)
        let parent = try f.task("parent", priority: 9)
        let children = try (0..<600).map { try f.task("c\($0)", parents: [parent.id]).id }
        try drain(f)  // the start's sweep
        let c = try XCTUnwrap(f.claim("factory"))
        XCTAssertEqual(c.task.id, parent.id)
        _ = try f.board.endClaim(f.proof("factory", parent.id, c.token), .complete(result: nil, summary: nil, metadata: nil), nowMs: f.nowMs)
        XCTAssertEqual(try ready(f, children), Readiness.promotionBatch, "the complete promotes one batch with it")
        XCTAssertTrue(f.board.hasPendingPromotions)
        XCTAssertEqual(try drain(f), 2, "600 children: the complete's batch, then two more turns")
        XCTAssertEqual(try ready(f, children), 600)
    }

    func test_childWithManyParents_waitsForTheLast_andIsPromotedByIt() throws {
        let f = try BoardFixture()
        try f.lane("factory", max: 300)
        let parents = try (0..<250).map { try f.task("p\($0)", priority: 1).id }
        let child = try f.task("child", parents: parents)
        try drain(f)
        var claims: [(String, String)] = []
        while let c = try f.claim("factory") { claims.append((c.task.id, c.token)) }
        for (i, (id, token)) in claims.enumerated() {
            XCTAssertEqual(try f.board.task(id: child.id)?.task.status, .todo, "still waits after \(i) of 250 parents")
            _ = try f.board.endClaim(f.proof("factory", id, token), .complete(result: nil, summary: nil, metadata: nil), nowMs: f.nowMs)
        }
        XCTAssertEqual(try f.board.task(id: child.id)?.task.status, .ready)
    }

    func test_linkReply_listsTheFirstHundredParents_andSaysSo() throws {
        let f = try BoardFixture()
        let child = try f.task("child")
        var last = child
        for i in 0..<(TaskRecord.replyLinkCap + 5) {
            let p = try f.task("p\(i)")
            last = try f.board.linkTasks(parent: p.id, child: child.id, nowMs: f.nowMs)
        }
        XCTAssertEqual(last.parents.count, TaskRecord.replyLinkCap)
        XCTAssertTrue(last.linksTruncated)
        XCTAssertEqual(try f.board.task(id: child.id)?.task.parents.count, TaskRecord.replyLinkCap + 5, "task.get lists them all")
        XCTAssertFalse(try f.board.task(id: child.id)!.task.linksTruncated)
    }

    func test_link_refusesACycle_throughSeveralGenerations() throws {
        let f = try BoardFixture()
        let a = try f.task("a"), b = try f.task("b", parents: [a.id]), c = try f.task("c", parents: [b.id])
        XCTAssertThrowsError(try f.board.linkTasks(parent: c.id, child: a.id, nowMs: f.nowMs)) {
            XCTAssertEqual($0 as? BoardError, .conflict("linking \(c.id) -> \(a.id) would create a cycle"))
        }
        XCTAssertNoThrow(try f.board.linkTasks(parent: a.id, child: c.id, nowMs: f.nowMs), "a second path down is no cycle")
    }

    /// kill -9 after the complete committed and before its later batches: the next start's sweep
    /// promotes what the parents' being done allows, and nothing else.
    func test_restart_sweepPromotesChildrenACrashLeftWaiting() throws {
        let f = try BoardFixture.sqlite()
        let done = try f.task("done"), open = try f.task("open")
        let freed = try (0..<300).map { try f.task("c\($0)", parents: [done.id]).id }
        let held = try f.task("held", parents: [done.id, open.id])
        try SQLiteBoardRaw(path: f.path).exec("UPDATE tasks SET status = 'done' WHERE id = '\(done.id)'")
        let restarted = try SQLiteBoard(path: f.path)
        XCTAssertTrue(restarted.hasPendingPromotions)
        while restarted.hasPendingPromotions { try restarted.continuePromotions(nowMs: f.nowMs) }
        XCTAssertEqual(try freed.filter { try restarted.task(id: $0)?.task.status == .ready }.count, 300)
        XCTAssertEqual(try restarted.task(id: held.id)?.task.status, .todo)
    }
}
