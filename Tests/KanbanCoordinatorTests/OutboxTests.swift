import KanbanProtocol
import XCTest
@testable import KanbanCoordinator

/// A batch's answers are held in order, and the outbox's storage serves the next batch.
final class OutboxTests: XCTestCase {
    func test_answersAreHeldInOrder_andClearingKeepsTheStorageForTheNextBatch() {
        var outbox = Outbox()
        for i in 0..<Outbox.maxBatch { outbox.hold([[UInt8(i)], []], .reply([UInt8(i)])) }
        outbox.hold([[9], []], .park(ClaimRequest(lane: "x", waitMs: 100)))
        XCTAssertEqual(outbox.held.count, Outbox.maxBatch + 1)
        XCTAssertEqual(outbox.held.first?.envelope, [[0], []])
        guard case .park(let request)? = outbox.held.last?.answer else { return XCTFail("the parked claim is held last") }
        XCTAssertEqual(request.lane, "x")
        let capacity = outbox.held.capacity
        outbox.clear()
        XCTAssertTrue(outbox.held.isEmpty)
        XCTAssertEqual(outbox.held.capacity, capacity, "no allocation for the next batch")
    }
}
