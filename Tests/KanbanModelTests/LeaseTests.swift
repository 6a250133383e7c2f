import Foundation
import XCTest
@testable import KanbanModel

final class LeaseTests: XCTestCase {
    func test_leaseLength_prefersClaimThenLaneThenBoard() {
        XCTAssertEqual(Lease.seconds(requested: 30, lane: 60, boardDefault: 900), 30)
        XCTAssertEqual(Lease.seconds(requested: nil, lane: 60, boardDefault: 900), 60)
        XCTAssertEqual(Lease.seconds(requested: nil, lane: nil, boardDefault: 900), 900)
    }

    func test_hermesSeconds_roundsUp_soHermesNeverExpiresFirst() {
        XCTAssertEqual(Lease.hermesSeconds(fromMs: 1_000), 1)
        XCTAssertEqual(Lease.hermesSeconds(fromMs: 1_001), 2)
    }
}
