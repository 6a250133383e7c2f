import Foundation
import XCTest
@testable import KanbanModel

final class ClaimAuthorityTests: XCTestCase {
    let now: Int64 = 1_000_000

    func liveFacts(lane: String = "factory", run: Int64 = 7) -> ClaimFacts {
        ClaimFacts(claimTaskID: "t_1", claimLane: lane, claimRunID: run, claimEnded: false, leaseExpiresAtMs: now + 5000,
                   taskExists: true, taskStatus: .running, taskCurrentRunID: run,
                   taskClaimLock: ClaimLock.make(lane: lane, runID: run))
    }

    func test_ownerOfLiveClaim_isAllowed() {
        XCTAssertNil(ClaimAuthority.check(principal: .lane("factory"), taskID: "t_1", facts: liveFacts(), nowMs: now))
        XCTAssertNil(ClaimAuthority.check(principal: .admin, taskID: "t_1", facts: liveFacts(), nowMs: now))
    }

    func test_unknownToken_isNotClaimOwner() {
        var f = liveFacts()
        f.claimTaskID = nil; f.claimLane = nil; f.claimRunID = nil
        XCTAssertEqual(ClaimAuthority.check(principal: .lane("factory"), taskID: "t_1", facts: f, nowMs: now), .notClaimOwner)
    }

    func test_tokenOfAnotherTask_isNotClaimOwner() {
        XCTAssertEqual(ClaimAuthority.check(principal: .lane("factory"), taskID: "t_2", facts: liveFacts(), nowMs: now), .notClaimOwner)
    }

    func test_anotherLanesToken_isForbidden_evenForRightTask() {
        XCTAssertEqual(ClaimAuthority.check(principal: .lane("intruder"), taskID: "t_1", facts: liveFacts(), nowMs: now), .forbidden)
    }

    func test_aWorker_actsOnItsOwnRunsClaimOnly() {
        XCTAssertNil(ClaimAuthority.check(principal: .worker(lane: "factory", runID: 7), taskID: "t_1", facts: liveFacts(), nowMs: now))
        XCTAssertEqual(ClaimAuthority.check(principal: .worker(lane: "factory", runID: 8), taskID: "t_1", facts: liveFacts(), nowMs: now),
                       .forbidden, "another run's worker of the same lane, even holding the claim token")
        XCTAssertEqual(ClaimAuthority.check(principal: .worker(lane: "intruder", runID: 7), taskID: "t_1", facts: liveFacts(), nowMs: now),
                       .forbidden)
    }

    func test_endedClaim_isStale() {
        var f = liveFacts()
        f.claimEnded = true
        guard case .staleClaim = ClaimAuthority.check(principal: .lane("factory"), taskID: "t_1", facts: f, nowMs: now) else {
            return XCTFail("expected stale_claim")
        }
    }

    func test_taskReclaimedByHermes_isStale() {
        var f = liveFacts()
        f.taskStatus = .ready; f.taskClaimLock = nil; f.taskCurrentRunID = nil
        guard case .staleClaim = ClaimAuthority.check(principal: .lane("factory"), taskID: "t_1", facts: f, nowMs: now) else {
            return XCTFail("expected stale_claim")
        }
    }

    func test_expiredLease_isStale() {
        guard case .staleClaim = ClaimAuthority.check(principal: .lane("factory"), taskID: "t_1", facts: liveFacts(), nowMs: now + 5000) else {
            return XCTFail("expected stale_claim")
        }
    }

    func test_missingTask_isNotFound() {
        var f = liveFacts()
        f.taskExists = false
        XCTAssertEqual(ClaimAuthority.check(principal: .lane("factory"), taskID: "t_1", facts: f, nowMs: now), .notFound)
    }
}
