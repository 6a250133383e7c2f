import Foundation
import XCTest
@testable import KanbanModel

final class ClaimAuthorityTests: XCTestCase {
    func liveFacts(lane: String = "factory", run: Int64 = 7) -> ClaimFacts {
        ClaimFacts(claimTaskID: "t_1", claimLane: lane, claimRunID: run, claimEnded: false,
                   taskExists: true, taskStatus: .running, taskCurrentRunID: run,
                   taskClaimLock: ClaimLock.make(lane: lane, runID: run))
    }

    func test_ownerOfLiveClaim_isAllowed() {
        XCTAssertNil(ClaimAuthority.check(principal: .lane("factory"), taskID: "t_1", facts: liveFacts()))
        XCTAssertNil(ClaimAuthority.check(principal: .admin, taskID: "t_1", facts: liveFacts()))
    }

    func test_unknownToken_isNotClaimOwner() {
        var f = liveFacts()
        f.claimTaskID = nil; f.claimLane = nil; f.claimRunID = nil
        XCTAssertEqual(ClaimAuthority.check(principal: .lane("factory"), taskID: "t_1", facts: f), .notClaimOwner)
    }

    func test_tokenOfAnotherTask_isNotClaimOwner() {
        XCTAssertEqual(ClaimAuthority.check(principal: .lane("factory"), taskID: "t_2", facts: liveFacts()), .notClaimOwner)
    }

    func test_anotherLanesToken_isForbidden_evenForRightTask() {
        XCTAssertEqual(ClaimAuthority.check(principal: .lane("intruder"), taskID: "t_1", facts: liveFacts()), .forbidden)
    }

    func test_aWorker_actsOnItsOwnRunsClaimOnly() {
        XCTAssertNil(ClaimAuthority.check(principal: .worker(lane: "factory", runID: 7), taskID: "t_1", facts: liveFacts()))
        XCTAssertEqual(ClaimAuthority.check(principal: .worker(lane: "factory", runID: 8), taskID: "t_1", facts: liveFacts()),
                       .forbidden, "another run's worker of the same lane, even holding the claim token")
        XCTAssertEqual(ClaimAuthority.check(principal: .worker(lane: "intruder", runID: 7), taskID: "t_1", facts: liveFacts()),
                       .forbidden)
    }

    func test_endedClaim_isStale() {
        var f = liveFacts()
        f.claimEnded = true
        guard case .staleClaim = ClaimAuthority.check(principal: .lane("factory"), taskID: "t_1", facts: f) else {
            return XCTFail("expected stale_claim")
        }
    }

    func test_taskReclaimedByHermes_isStale() {
        var f = liveFacts()
        f.taskStatus = .ready; f.taskClaimLock = nil; f.taskCurrentRunID = nil
        guard case .staleClaim = ClaimAuthority.check(principal: .lane("factory"), taskID: "t_1", facts: f) else {
            return XCTFail("expected stale_claim")
        }
    }


    func test_missingTask_isNotFound() {
        var f = liveFacts()
        f.taskExists = false
        XCTAssertEqual(ClaimAuthority.check(principal: .lane("factory"), taskID: "t_1", facts: f), .notFound)
    }
}
