import Foundation
import XCTest
@testable import KanbanModel

final class ClaimLockTests: XCTestCase {
    func test_lock_namesLaneAndRun_andParsesBack() {
        let lock = ClaimLock.make(lane: "factory", runID: 42)
        XCTAssertEqual(lock, "lane:factory:42")
        XCTAssertEqual(ClaimLock.parse(lock)?.lane, "factory")
        XCTAssertEqual(ClaimLock.parse(lock)?.runID, 42)
    }

    func test_parse_rejectsHermesHostLocks() {
        XCTAssertNil(ClaimLock.parse("vm:9717"))
        XCTAssertNil(ClaimLock.parse("lane:factory:notanumber"))
    }
}
