import Foundation
import GRDB
import KanbanModel
import KanbanStore
import XCTest

/// SQLite only: what Hermes' own readers see of bridge claims (its columns, read raw): liveness,
/// readiness dates, run reasons, workspace, profile, failure streak.
final class HermesSeesTests: XCTestCase {
    func scalar(_ f: BoardFixture, _ sql: String) throws -> String? { try SQLiteBoardRaw(path: f.path).scalar(sql) }

    func hermesKinds(_ f: BoardFixture, _ task: String) throws -> [String] {
        let raw = try SQLiteBoardRaw(path: f.path)
        return try raw.queue.read { try String.fetchAll($0, sql: "SELECT kind FROM task_events WHERE task_id = ? ORDER BY id", arguments: [task]) }
    }

    func test_liveness_refreshesOnlyLiveOldClaims() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory", max: 3)
        let long = try f.task("long lease")
        let short = try f.task("short lease")
        let released = try f.task("released")
        let t0 = f.nowMs
        _ = try f.claim("factory", task: long.id, leaseMs: 86_400_000)
        _ = try f.claim("factory", task: short.id, leaseMs: 3_600_000)
        let r = try XCTUnwrap(try f.claim("factory", task: released.id, leaseMs: 86_400_000))
        _ = try f.board.endClaim(f.proof("factory", released.id, r.token), .release(reason: "not mine"), nowMs: t0)
        let expiresBefore = try scalar(f, "SELECT claim_expires FROM tasks WHERE id = '\(long.id)'")
        let eventsBefore = try scalar(f, "SELECT COUNT(*) FROM task_events")

        // Ten minutes on: every heartbeat is fresh enough, nothing is written.
        XCTAssertEqual(try f.board.refreshLiveness(nowMs: t0 + 600_000, staleAfterS: 1800), 0)
        XCTAssertEqual(try scalar(f, "SELECT last_heartbeat_at FROM tasks WHERE id = '\(long.id)'"), String(t0 / 1000))

        // Two hours on: the 24 h claim is refreshed (task and run); the 1 h one has expired.
        let t2 = t0 + 7_200_000
        XCTAssertEqual(try f.board.refreshLiveness(nowMs: t2, staleAfterS: 1800), 1)
        XCTAssertEqual(try scalar(f, "SELECT last_heartbeat_at FROM tasks WHERE id = '\(long.id)'"), String(t2 / 1000))
        XCTAssertEqual(try scalar(f, "SELECT r.last_heartbeat_at FROM task_runs r JOIN tasks t ON r.id = t.current_run_id WHERE t.id = '\(long.id)'"),
                       String(t2 / 1000))
        XCTAssertEqual(try scalar(f, "SELECT last_heartbeat_at FROM tasks WHERE id = '\(short.id)'"), String(t0 / 1000), "its lease ran out")
        XCTAssertEqual(try scalar(f, "SELECT last_heartbeat_at FROM tasks WHERE id = '\(released.id)'"), String(t0 / 1000), "not claimed")
        XCTAssertEqual(try scalar(f, "SELECT claim_expires FROM tasks WHERE id = '\(long.id)'"), expiresBefore, "the lease's end stays the truth")
        XCTAssertEqual(try scalar(f, "SELECT COUNT(*) FROM task_events"), eventsBefore, "no event for a liveness refresh")
        XCTAssertEqual(try f.board.refreshLiveness(nowMs: t2 + 60_000, staleAfterS: 1800), 0, "fresh again")
    }

    func test_liveness_leavesATakenTaskAlone() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory")
        let t = try f.task("taken")
        _ = try f.claim("factory", leaseMs: 86_400_000)
        // Hermes took it and claimed it itself (its own lock).
        try SQLiteBoardRaw(path: f.path).exec("UPDATE tasks SET claim_lock = 'vm:123' WHERE id = '\(t.id)'")
        XCTAssertEqual(try f.board.refreshLiveness(nowMs: f.nowMs + 7_200_000, staleAfterS: 1800), 0)
    }

    func test_release_datesReadiness_andKeepsPublishedTypes() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory")
        let t = try f.task("released")
        let c = try XCTUnwrap(try f.claim("factory", leaseMs: 3_600_000))
        f.nowMs += 600_000
        _ = try f.board.endClaim(f.proof("factory", t.id, c.token), .release(reason: "not mine"), nowMs: f.nowMs)
        XCTAssertEqual(try hermesKinds(f, t.id).suffix(2), ["released", "promoted"])
        XCTAssertEqual(try scalar(f, "SELECT created_at FROM task_events WHERE task_id = '\(t.id)' AND kind = 'promoted'"), String(f.nowMs / 1000))
        XCTAssertEqual(try f.eventTypes(task: t.id), ["created", "available", "claimed", "released", "available"], "published stream unchanged")
        // The change watcher does not take our own row for a foreign write.
        XCTAssertEqual(try XCTUnwrap(f.board.changeFeed, "an SQLite board has a change feed").importExternalEvents(nowMs: f.nowMs), 0)
        let run = try XCTUnwrap(try f.board.task(id: t.id)?.runs.last)
        XCTAssertNil(run.summary)
        XCTAssertEqual(run.error, "released: not mine")
    }

    func test_failureRetried_datesReadiness_atOnceOrAfterBackoff() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory")
        let t = try f.task("expires")
        _ = try f.claim("factory", leaseMs: 1_000)
        f.nowMs += 1_000
        _ = try f.board.expireLeases(nowMs: f.nowMs, retry: RetryPolicy(maxRetries: 5))
        XCTAssertEqual(try hermesKinds(f, t.id).suffix(2), ["timed_out", "promoted"])
        let run = try XCTUnwrap(try f.board.task(id: t.id)?.runs.last)
        XCTAssertNil(run.summary)
        XCTAssertEqual(run.error, "lease expired")

        _ = try f.claim("factory", leaseMs: 1_000)
        f.nowMs += 1_000
        _ = try f.board.expireLeases(nowMs: f.nowMs, retry: RetryPolicy(maxRetries: 5, backoffBaseMs: 30_000))
        XCTAssertEqual(try hermesKinds(f, t.id).last, "timed_out", "not claimable yet: not dated yet")
        f.nowMs = try XCTUnwrap(try f.board.nextBackoffEnd())
        XCTAssertEqual(try f.board.endBackoffs(nowMs: f.nowMs), 1)
        XCTAssertEqual(try hermesKinds(f, t.id).last, "promoted")
        XCTAssertEqual(try scalar(f, "SELECT MAX(created_at) FROM task_events WHERE task_id = '\(t.id)' AND kind = 'promoted'"), String(f.nowMs / 1000))
        XCTAssertEqual(try XCTUnwrap(f.board.changeFeed, "an SQLite board has a change feed").importExternalEvents(nowMs: f.nowMs), 0)
    }

    func test_hermesOwnPromoted_isStillImported() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory")
        let t = try f.task("x")
        try SQLiteBoardRaw(path: f.path).exec(
            "INSERT INTO task_events (task_id, run_id, kind, payload, created_at) VALUES ('\(t.id)', NULL, 'promoted', NULL, 1)")
        XCTAssertEqual(try XCTUnwrap(f.board.changeFeed, "an SQLite board has a change feed").importExternalEvents(nowMs: f.nowMs), 1)
    }

    func test_successResetsTheFailureStreak() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory")
        let t = try f.task("once flaky")
        _ = try f.claim("factory", leaseMs: 1_000)
        f.nowMs += 1_000
        _ = try f.board.expireLeases(nowMs: f.nowMs, retry: RetryPolicy(maxRetries: 2))
        let c = try XCTUnwrap(try f.claim("factory"))
        _ = try f.board.endClaim(f.proof("factory", t.id, c.token), .complete(result: nil, summary: nil, metadata: nil), nowMs: f.nowMs)
        let raw = try SQLiteBoardRaw(path: f.path)
        XCTAssertEqual(try raw.scalar("SELECT consecutive_failures FROM tasks WHERE id = '\(t.id)'"), "0")
    }
}
