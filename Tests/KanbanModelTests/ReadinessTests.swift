import Foundation
import XCTest
@testable import KanbanModel

final class ReadinessTests: XCTestCase {
    func test_initialStatus_withoutParents_isReady() {
        XCTAssertEqual(Readiness.initialStatus(parentStatuses: []), .ready)
    }

    func test_initialStatus_withUnfinishedParent_isTodo() {
        XCTAssertEqual(Readiness.initialStatus(parentStatuses: [.done, .running]), .todo)
        XCTAssertEqual(Readiness.initialStatus(parentStatuses: [.blocked]), .todo)
    }

    func test_initialStatus_withDoneOrArchivedParents_isReady() {
        XCTAssertEqual(Readiness.initialStatus(parentStatuses: [.done, .archived]), .ready)
    }

    func test_isClaimable_requiresReadyUnlockedAndParentsFinished() {
        XCTAssertTrue(Readiness.isClaimable(status: .ready, claimLock: nil, parentStatuses: [.done]))
        XCTAssertFalse(Readiness.isClaimable(status: .ready, claimLock: "vm:42", parentStatuses: []))
        XCTAssertFalse(Readiness.isClaimable(status: .todo, claimLock: nil, parentStatuses: []))
        XCTAssertFalse(Readiness.isClaimable(status: .ready, claimLock: nil, parentStatuses: [.review]))
    }

    func test_wouldCycle_detectsSelfLinkAndIndirectCycle() {
        let edges = ["a": ["b"], "b": ["c"]]
        XCTAssertTrue(Readiness.wouldCycle(parent: "a", child: "a") { edges[$0] ?? [] })
        XCTAssertTrue(Readiness.wouldCycle(parent: "c", child: "a") { edges[$0] ?? [] })
        XCTAssertFalse(Readiness.wouldCycle(parent: "a", child: "c") { edges[$0] ?? [] })
        XCTAssertFalse(Readiness.wouldCycle(parent: "x", child: "a") { edges[$0] ?? [] })
    }
}

/// What a store knows (one probe for an unfinished parent) decides as the parents' statuses would.
final class ReadinessFlagTests: XCTestCase {
    func test_parentsFinishedFlag_decidesAsTheStatusesWould() {
        XCTAssertEqual(Readiness.initialStatus(parentsFinished: false), .todo)
        XCTAssertEqual(Readiness.initialStatus(parentsFinished: true), .ready)
        XCTAssertFalse(Readiness.isClaimable(status: .ready, claimLock: nil, parentsFinished: false))
        XCTAssertNil(TaskLifecycle.promote(TaskState(id: "c", status: .todo, parentsFinished: false)))
        XCTAssertNotNil(TaskLifecycle.promote(TaskState(id: "c", status: .todo, parentsFinished: true)))
        XCTAssertEqual(TaskState(id: "c", status: .todo, parentStatuses: [.done, .running]).parentsFinished, false)
    }
}
