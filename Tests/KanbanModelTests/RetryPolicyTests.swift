import Foundation
import XCTest
@testable import KanbanModel

final class RetryPolicyTests: XCTestCase {
    func test_givesUp_whenFailuresReachTheBoardLimit() {
        let p = RetryPolicy(maxRetries: 3)
        XCTAssertEqual(p.decide(failures: 1, taskMaxRetries: nil, nowMs: 100), .retry(notBeforeMs: 100))
        XCTAssertEqual(p.decide(failures: 2, taskMaxRetries: nil, nowMs: 100), .retry(notBeforeMs: 100))
        XCTAssertEqual(p.decide(failures: 3, taskMaxRetries: nil, nowMs: 100), .giveUp(limit: 3, source: "board"))
    }

    func test_taskOverride_winsOverTheBoard_likeHermes() {
        let p = RetryPolicy(maxRetries: 5)
        XCTAssertEqual(p.decide(failures: 1, taskMaxRetries: 1, nowMs: 0), .giveUp(limit: 1, source: "task"))
    }

    func test_backoff_doublesPerFailure_upToTheCap() {
        let p = RetryPolicy(maxRetries: 100, backoffBaseMs: 1000, backoffCapMs: 5000)
        XCTAssertEqual(p.decide(failures: 1, taskMaxRetries: nil, nowMs: 0), .retry(notBeforeMs: 1000))
        XCTAssertEqual(p.decide(failures: 2, taskMaxRetries: nil, nowMs: 0), .retry(notBeforeMs: 2000))
        XCTAssertEqual(p.decide(failures: 3, taskMaxRetries: nil, nowMs: 0), .retry(notBeforeMs: 4000))
        XCTAssertEqual(p.decide(failures: 4, taskMaxRetries: nil, nowMs: 0), .retry(notBeforeMs: 5000))
        XCTAssertEqual(p.decide(failures: 90, taskMaxRetries: nil, nowMs: 0), .retry(notBeforeMs: 5000))
    }
}
