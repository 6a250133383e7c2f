import Foundation
import XCTest
@testable import KanbanModel

final class NamesTests: XCTestCase {
    func test_laneNames_followTopicSafeRules() {
        XCTAssertNil(Names.laneNameProblem("factory"))
        XCTAssertNil(Names.laneNameProblem("backend-hermes_pool2"))
        XCTAssertNotNil(Names.laneNameProblem("Factory"))
        XCTAssertNotNil(Names.laneNameProblem("fac.tory"))
        XCTAssertNotNil(Names.laneNameProblem("-x"))
        XCTAssertNotNil(Names.laneNameProblem(""))
        XCTAssertNotNil(Names.laneNameProblem(String(repeating: "a", count: 65)))
        XCTAssertNotNil(Names.laneNameProblem("default"))
    }

    func test_canonicalAssignee_trimsAndLowercases_likeHermes() {
        XCTAssertEqual(Names.canonicalAssignee("  Factory "), "factory")
        XCTAssertNil(Names.canonicalAssignee("   "))
    }

    func test_taskIDs_acceptHermesShape_rejectOddBytes() {
        XCTAssertTrue(Names.isValidTaskID("t_36ed8daa"))
        XCTAssertFalse(Names.isValidTaskID("t_1; DROP TABLE tasks"))
        XCTAssertFalse(Names.isValidTaskID(""))
    }
}
