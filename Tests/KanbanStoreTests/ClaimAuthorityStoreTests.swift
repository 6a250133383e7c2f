import Foundation
import KanbanModel
import KanbanStore
import XCTest

final class ClaimAuthorityStoreTests: XCTestCase {
    func test_foreignToken_isRefused_andTaskUnchanged() throws {
        let f = try BoardFixture()
        try f.lane("factory"); try f.lane("other")
        let t = try f.task("x")
        let c = try XCTUnwrap(try f.claim("factory"))
        let before = try f.board.task(id: t.id)
        XCTAssertThrowsError(try f.board.endClaim(f.proof("other", t.id, c.token), .complete(result: "x", summary: nil, metadata: nil), nowMs: f.nowMs)) {
            XCTAssertEqual($0 as? BoardError, .denied(.forbidden))
        }
        XCTAssertThrowsError(try f.board.endClaim(f.proof("factory", t.id, "ct_guess"), .complete(result: "x", summary: nil, metadata: nil), nowMs: f.nowMs)) {
            XCTAssertEqual($0 as? BoardError, .denied(.notClaimOwner))
        }
        XCTAssertEqual(try f.board.task(id: t.id), before)
    }

    func test_tokenOfEndedRun_isStale() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("x")
        let c = try XCTUnwrap(try f.claim("factory"))
        _ = try f.board.endClaim(f.proof("factory", t.id, c.token), .release(reason: "later"), nowMs: f.nowMs)
        XCTAssertThrowsError(try f.board.heartbeat(f.proof("factory", t.id, c.token), note: nil, metadata: nil, nowMs: f.nowMs)) {
            guard case BoardError.denied(.staleClaim) = $0 else { return XCTFail("\($0)") }
        }
    }

    func test_release_requeuesAtOnce_withoutCountingAFailure() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("x")
        let c = try XCTUnwrap(try f.claim("factory"))
        let after = try f.board.endClaim(f.proof("factory", t.id, c.token), .release(reason: "shutting down"), nowMs: f.nowMs)
        XCTAssertEqual(after.status, .ready)
        XCTAssertNil(after.claimLock)
        XCTAssertEqual(try f.board.task(id: t.id)?.runs.first?.outcome, "released")
        XCTAssertEqual(try f.eventTypes(task: t.id).suffix(2), ["released", "available"])
        XCTAssertEqual(try f.claim("factory")?.task.id, t.id)
    }

    func test_block_recordsReasonAndHermesBlockedEvent() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("x")
        let c = try XCTUnwrap(try f.claim("factory"))
        let after = try f.board.endClaim(f.proof("factory", t.id, c.token), .block(reason: "need creds", kind: "needs_input"), nowMs: f.nowMs)
        XCTAssertEqual(after.status, .blocked)
        let run = try XCTUnwrap(try f.board.task(id: t.id)?.runs.first)
        XCTAssertEqual(run.outcome, "blocked")
        XCTAssertEqual(run.error, "need creds")
        XCTAssertNil(run.summary, "a summary is what a completed run produced")
        XCTAssertEqual(try f.eventTypes(task: t.id).last, "blocked")
    }

    func test_heartbeat_extendsLeaseByTheClaimsLength() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("x")
        let c = try XCTUnwrap(try f.claim("factory", leaseMs: 30_000))
        f.nowMs += 20_000
        let expires = try f.board.heartbeat(f.proof("factory", t.id, c.token), note: "half way", metadata: nil, nowMs: f.nowMs)
        XCTAssertEqual(expires, f.nowMs + 30_000)
        XCTAssertEqual(try f.board.task(id: t.id)?.task.claimExpires, (f.nowMs + 30_000) / 1000)
    }

    func test_expiredLease_endsRunTimedOut_andRequeues() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("x")
        let c = try XCTUnwrap(try f.claim("factory", leaseMs: 10_000))
        XCTAssertEqual(try f.board.expireLeases(nowMs: f.nowMs + 9_999, retry: RetryPolicy()), 0)
        XCTAssertEqual(try f.board.expireLeases(nowMs: f.nowMs + 10_000, retry: RetryPolicy()), 1)
        let detail = try XCTUnwrap(try f.board.task(id: t.id))
        XCTAssertEqual(detail.task.status, .ready)
        XCTAssertEqual(detail.runs.first?.outcome, "timed_out")
        XCTAssertEqual(try f.eventTypes(task: t.id).suffix(2), ["timed_out", "available"])
        XCTAssertThrowsError(try f.board.heartbeat(f.proof("factory", t.id, c.token), note: nil, metadata: nil, nowMs: f.nowMs + 10_001))
    }

    func test_retryBudget_givesUpAfterConsecutiveExpiries_likeHermes() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("flaky")
        for attempt in 1...3 {
            _ = try XCTUnwrap(try f.claim("factory", leaseMs: 1_000), "attempt \(attempt) claims")
            f.nowMs += 1_000
            XCTAssertEqual(try f.board.expireLeases(nowMs: f.nowMs, retry: RetryPolicy(maxRetries: 3)), 1)
        }
        let detail = try XCTUnwrap(try f.board.task(id: t.id))
        XCTAssertEqual(detail.task.status, .blocked)
        XCTAssertEqual(detail.runs.map(\.outcome), ["timed_out", "timed_out", "timed_out"])
        let events = try f.board.events(since: 0, limit: 100, lane: nil).filter { $0.taskID == t.id }
        XCTAssertEqual(events.last?.type, "gave_up")
        XCTAssertEqual(events.last?.data["failures"], 3)
        XCTAssertEqual(events.last?.data["limit_source"], "board")
        XCTAssertNil(try f.claim("factory"))
    }

    func test_backoff_holdsAFailedTaskBack_thenAnnouncesIt() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("backs off")
        _ = try f.claim("factory", leaseMs: 1_000)
        f.nowMs += 1_000
        _ = try f.board.expireLeases(nowMs: f.nowMs, retry: RetryPolicy(maxRetries: 5, backoffBaseMs: 30_000))
        XCTAssertEqual(try f.board.task(id: t.id)?.task.status, .ready)
        XCTAssertNil(try f.claim("factory"), "still backing off")
        XCTAssertThrowsError(try f.claim("factory", task: t.id))
        XCTAssertEqual(try f.board.nextBackoffEnd(), f.nowMs + 30_000)
        f.nowMs += 30_000
        XCTAssertEqual(try f.board.endBackoffs(nowMs: f.nowMs), 1)
        XCTAssertEqual(try f.eventTypes(task: t.id).suffix(2), ["timed_out", "available"])
        XCTAssertEqual(try f.claim("factory")?.task.id, t.id)
    }

    func test_adminReclaim_endsTheClaim_andUnblock_revivesAGivenUpTask() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("x")
        let c = try XCTUnwrap(try f.claim("factory"))
        let back = try f.board.reclaimTask(id: t.id, reason: "worker wedged", nowMs: f.nowMs)
        XCTAssertEqual(back.status, .ready)
        XCTAssertEqual(try f.board.task(id: t.id)?.runs.first?.error, "manual_reclaim: worker wedged")
        XCTAssertThrowsError(try f.board.heartbeat(f.proof("factory", t.id, c.token), note: nil, metadata: nil, nowMs: f.nowMs)) {
            guard case BoardError.denied(.staleClaim) = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(try f.eventTypes(task: t.id).suffix(2), ["reclaimed", "available"])
        XCTAssertThrowsError(try f.board.reclaimTask(id: t.id, reason: nil, nowMs: f.nowMs), "nothing running to reclaim")

        _ = try f.claim("factory", leaseMs: 1_000)
        f.nowMs += 1_000
        _ = try f.board.expireLeases(nowMs: f.nowMs, retry: RetryPolicy(maxRetries: 1))
        XCTAssertEqual(try f.board.task(id: t.id)?.task.status, .blocked)
        XCTAssertEqual(try f.board.unblockTask(id: t.id, nowMs: f.nowMs).status, .ready)
        XCTAssertEqual(try f.eventTypes(task: t.id).suffix(2), ["unblocked", "available"])
        XCTAssertEqual(try f.claim("factory")?.task.id, t.id)
    }

}
