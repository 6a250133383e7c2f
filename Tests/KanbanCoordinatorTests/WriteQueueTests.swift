@testable import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import XCTest

/// The write queue machine, without sockets: growing pauses while locked, deadlines, a bound, batches.
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
        _ = q.arrive(pending("a", deadline: 100))
        _ = q.arrive(pending("b", deadline: 300))
        _ = q.arrive(pending("c", deadline: 200))
        XCTAssertEqual(q.nextWakeMs, 0, "not locked: due at once")
        _ = q.noteLocked(nowMs: 50)
        XCTAssertEqual(q.nextWakeMs, 50 + WriteQueue.firstPauseMs)
        XCTAssertEqual(q.takeExpired(nowMs: 99).count, 0)
        XCTAssertEqual(q.takeExpired(nowMs: 200).map(\.decoded.requestID), ["a", "c"])
        XCTAssertNil(q.nextBatch(nowMs: 50, max: 10), "not while the lock's pause lasts")
        XCTAssertEqual(q.nextBatch(nowMs: 50 + WriteQueue.firstPauseMs, max: 10)?.map(\.decoded.requestID), ["b"])
        q.failed(5)
        XCTAssertTrue(q.isEmpty)
    }

    func test_theQueueIsBounded_pastMaxPendingANewWriteIsAnsweredBusyAndNotQueued() {
        var q = WriteQueue()
        let p = pending("w", deadline: 1)
        for _ in 0..<WriteQueue.maxPending { XCTAssertEqual(q.arrive(p), .queued) }
        XCTAssertTrue(q.isFull)
        XCTAssertEqual(q.arrive(p), .answerBusy)
        XCTAssertEqual(q.pending.count, WriteQueue.maxPending)
        XCTAssertNil(q.committed(1, nowMs: 0), "no contention, nothing to report")
        XCTAssertFalse(q.isFull)
        XCTAssertEqual(q.arrive(p), .queued)
    }

    func test_batches_takeTheOldestFirst_upToTheMaximum_andSettledOnesLeave() {
        var q = WriteQueue()
        for (i, name) in ["a", "b", "c"].enumerated() { _ = q.arrive(pending(name, deadline: Int64(i))) }
        XCTAssertEqual(q.nextBatch(nowMs: 0, max: 2)?.map(\.decoded.requestID), ["a", "b"])
        _ = q.committed(2, nowMs: 0)
        XCTAssertEqual(q.nextBatch(nowMs: 0, max: 2)?.map(\.decoded.requestID), ["c"])
        q.failed(1)
        XCTAssertNil(q.nextBatch(nowMs: 0, max: 2))
    }

    func test_aCommittedBatch_endsTheSpell_andReportsItsLength() {
        var q = WriteQueue()
        _ = q.arrive(pending("a", deadline: 10_000))
        _ = q.noteLocked(nowMs: 1_000)
        _ = q.noteLocked(nowMs: 1_010)
        XCTAssertEqual(q.committed(1, nowMs: 1_500), 500)
        XCTAssertTrue(q.mayWrite(nowMs: 1_500))
    }

    func test_nextWake_isTheNearestDeadline_whenItComesBeforeThePausesEnd() {
        var q = WriteQueue()
        XCTAssertNil(q.nextWakeMs)
        _ = q.arrive(pending("a", deadline: 5_000))
        for t in 0..<5 { _ = q.noteLocked(nowMs: 4_990 + Int64(t)) }
        XCTAssertEqual(q.nextWakeMs, 5_000)
    }
}
