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

final class SecretsTests: XCTestCase {
    func test_sha256_matchesStandardVectors() {
        XCTAssertEqual(sha256Hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(sha256Hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(sha256Hex([UInt8](repeating: 0x61, count: 1000)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    func test_hmac_matchesRFC4231() {
        let mac = Secrets.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        XCTAssertEqual(mac.map { String(format: "%02x", $0) }.joined(), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let longKey = [UInt8](repeating: 0xAA, count: 131)
        let mac2 = Secrets.hmacSHA256(key: longKey, message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
        XCTAssertEqual(mac2.map { String(format: "%02x", $0) }.joined(), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    func test_derivedToken_isTheSameAsEver_soRetriesOfOldRepliesStillWork() {
        // Computed with Python's hmac and base64.urlsafe_b64encode (padding stripped). The prefix is
        // left out of the comparison, so a failure prints nothing token-shaped.
        let token = Secrets.derivedToken(prefix: "ct_", key: Array(0..<32), seed: "lane:a|r1")
        XCTAssertEqual(String(token.dropFirst(3)), "IoRl0yxLaDY60-Ti3m_sUJLrqku1viYKs3Y38JR6Cwk")
        XCTAssertEqual(Secrets.base64url([0xFB, 0xFF, 0xFE, 0x01]), "-__-AQ")
    }

    func test_derivedToken_isStablePerSeed_andDiffersPerKeyAndSeed() {
        let k1 = Array("one".utf8), k2 = Array("two".utf8)
        XCTAssertEqual(Secrets.derivedToken(prefix: "ct_", key: k1, seed: "lane:a|r1"), Secrets.derivedToken(prefix: "ct_", key: k1, seed: "lane:a|r1"))
        XCTAssertNotEqual(Secrets.derivedToken(prefix: "ct_", key: k1, seed: "lane:a|r1"), Secrets.derivedToken(prefix: "ct_", key: k2, seed: "lane:a|r1"))
        XCTAssertNotEqual(Secrets.derivedToken(prefix: "ct_", key: k1, seed: "lane:a|r1"), Secrets.derivedToken(prefix: "ct_", key: k1, seed: "lane:a|r2"))
        XCTAssertEqual(Secrets.derivedToken(prefix: "ct_", key: k1, seed: "x").count, 3 + 43)
    }

    func test_newToken_isPrefixedUniqueAndLongEnough() {
        let a = Secrets.newToken(prefix: "ct_"), b = Secrets.newToken(prefix: "ct_")
        XCTAssertTrue(a.hasPrefix("ct_"))
        XCTAssertEqual(a.count, 3 + 43)
        XCTAssertNotEqual(a, b)
    }

    func test_constantTimeEquals() {
        XCTAssertTrue(Secrets.constantTimeEquals("abc", "abc"))
        XCTAssertFalse(Secrets.constantTimeEquals("abc", "abd"))
        XCTAssertFalse(Secrets.constantTimeEquals("abc", "abcd"))
    }
}

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

final class DispatchRulesTests: XCTestCase {
    func test_template_fillsPlaceholders_perArgument_withoutAShell() {
        let argv = ["hermes", "-p", "{profile}", "chat", "-q", "work kanban task {task_id}"]
        XCTAssertEqual(CommandTemplate.render(argv, ["profile": "backend-hermes", "task_id": "t_1"]),
                       ["hermes", "-p", "backend-hermes", "chat", "-q", "work kanban task t_1"])
        XCTAssertEqual(CommandTemplate.render(["echo", "{title}"], ["title": "a \"quoted\" $(rm -rf /)"]),
                       ["echo", "a \"quoted\" $(rm -rf /)"], "one argument, verbatim")
        XCTAssertEqual(CommandTemplate.render(["{title}-{profile}"], ["title": "{profile}", "profile": "p"]), ["{profile}-p"],
                       "a value is never expanded again")
    }

    func test_template_reportsUnknownPlaceholders() {
        XCTAssertEqual(CommandTemplate.unknownPlaceholders(["run", "{task}", "{task_id}", "{workspce}"]), ["task", "workspce"])
        XCTAssertEqual(CommandTemplate.unknownPlaceholders(["plain", "{lane}"]), [])
    }

    func test_rotation_startsOneLaneFurtherEachRound() {
        XCTAssertEqual(LaneRotation.order(["b", "a", "c"], round: 0), ["a", "b", "c"])
        XCTAssertEqual(LaneRotation.order(["b", "a", "c"], round: 1), ["b", "c", "a"])
        XCTAssertEqual(LaneRotation.order(["b", "a", "c"], round: 5), ["c", "a", "b"])
        XCTAssertEqual(LaneRotation.order([], round: 3), [])
    }
}

/// Hex of `Secrets.sha256`, for the standard test vectors.
private func sha256Hex(_ bytes: [UInt8]) -> String { Secrets.hex(Secrets.sha256(bytes)) }
