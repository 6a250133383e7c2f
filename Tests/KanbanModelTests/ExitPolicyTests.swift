import XCTest
@testable import KanbanModel

final class ExitPolicyTests: XCTestCase {
    func test_standard_completesOnZero_releasesRateLimits_failsTheRest() {
        let p = ExitPolicy.standard
        XCTAssertEqual(p.action(exitCode: 0), .complete)
        XCTAssertEqual(p.action(exitCode: 75), .release(retryAfterSeconds: 60), "Hermes' rate-limited exit: no failure counted")
        XCTAssertEqual(p.action(exitCode: 1), .fail)
        XCTAssertEqual(p.action(exitCode: nil), .fail, "killed by a signal")
    }

    func test_rules_overrideTheStandardTable() throws {
        let p = try ExitPolicy.parse(["2=block", "75=release", "other=block", "3=release:5"])
        XCTAssertEqual(p.action(exitCode: 2), .block)
        XCTAssertEqual(p.action(exitCode: 75), .release(retryAfterSeconds: nil))
        XCTAssertEqual(p.action(exitCode: 3), .release(retryAfterSeconds: 5))
        XCTAssertEqual(p.action(exitCode: 9), .block)
        XCTAssertEqual(p.action(exitCode: 0), .complete, "rules not given keep the standard")
    }

    func test_badRules_areRefusedWithTheRule() {
        for bad in ["75", "x=complete", "300=fail", "1=retry", "1=release:0", "1=release:abc"] {
            XCTAssertThrowsError(try ExitPolicy.parse([bad]), bad) { error in
                XCTAssertTrue("\(error)".contains(bad), "\(error)")
            }
        }
    }
}
