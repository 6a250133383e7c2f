import KanbanClient
import XCTest

final class SequenceTrackerTests: XCTestCase {
    func test_nextSeq_isDelivered_olderIsDuplicate_jumpIsGap() {
        var t = SequenceTracker(last: 10)
        XCTAssertEqual(t.classify(11), .next)
        t.delivered(11)
        XCTAssertEqual(t.classify(11), .duplicate)
        XCTAssertEqual(t.classify(3), .duplicate)
        XCTAssertEqual(t.classify(15), .gap(missingFrom: 12))
    }

    func test_delivered_neverMovesBackwards() {
        var t = SequenceTracker(last: 10)
        t.delivered(7)
        XCTAssertEqual(t.last, 10)
    }
}
