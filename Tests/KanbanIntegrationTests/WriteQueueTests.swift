@testable import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import XCTest

/// The write queue's rules, without sockets: growing pauses while locked, deadlines, a bound.
final class WriteQueueTests: XCTestCase {
    func pending(_ id: String, deadline: Int64) -> WriteQueue.Pending {
        .init(envelope: [Array(id.utf8), []], decoded: DecodedRequest(op: "ping", auth: nil, requestID: id, request: .ping),
              caller: .admin, deadlineMs: deadline)
    }

    func test_pausesGrowWhileLocked_andResetOnceAWriteGoesThrough() {
        var q = WriteQueue()
        XCTAssertTrue(q.mayWrite(nowMs: 0))
        XCTAssertTrue(q.noteLocked(nowMs: 1000), "the first refusal starts a spell")
        XCTAssertFalse(q.mayWrite(nowMs: 1000 + WriteQueue.firstPauseMs - 1))
        XCTAssertTrue(q.mayWrite(nowMs: 1000 + WriteQueue.firstPauseMs))
        XCTAssertFalse(q.noteLocked(nowMs: 1010), "later refusals belong to the same spell")
        XCTAssertEqual(q.heldUntilMs, 1010 + 2 * WriteQueue.firstPauseMs)
        for t in 0..<10 { _ = q.noteLocked(nowMs: 2000 + Int64(t)) }
        XCTAssertEqual(q.heldUntilMs, 2009 + WriteQueue.maxPauseMs, "pauses stop growing at the maximum")
        XCTAssertEqual(q.noteWritten(nowMs: 2500), 1500, "the spell's length")
        XCTAssertTrue(q.mayWrite(nowMs: 2500))
        XCTAssertNil(q.noteWritten(nowMs: 2600), "no spell, nothing to report")
        _ = q.noteLocked(nowMs: 3000)
        XCTAssertEqual(q.heldUntilMs, 3000 + WriteQueue.firstPauseMs, "the next spell starts short again")
    }

    func test_expiredWritesAreTakenInOrder_othersStay() {
        var q = WriteQueue()
        q.enqueue(pending("a", deadline: 100))
        q.enqueue(pending("b", deadline: 300))
        q.enqueue(pending("c", deadline: 200))
        XCTAssertEqual(q.nextWakeMs, 0, "not locked: due at once")
        _ = q.noteLocked(nowMs: 50)
        XCTAssertEqual(q.nextWakeMs, 50 + WriteQueue.firstPauseMs)
        XCTAssertEqual(q.takeExpired(nowMs: 99).count, 0)
        XCTAssertEqual(q.takeExpired(nowMs: 200).map(\.decoded.requestID), ["a", "c"])
        XCTAssertEqual(q.next(10).map(\.decoded.requestID), ["b"])
        q.dropFirst(5)
        XCTAssertTrue(q.isEmpty)
    }

    func test_theQueueIsBounded() {
        var q = WriteQueue()
        for i in 0..<WriteQueue.maxPending { q.enqueue(pending("\(i)", deadline: 1)) }
        XCTAssertTrue(q.isFull)
        q.dropFirst(1)
        XCTAssertFalse(q.isFull)
    }
}
