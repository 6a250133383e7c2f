import Foundation
import KanbanModel
import KanbanStore
import XCTest

final class TaskLifecycleTests: XCTestCase {
    func test_create_withoutParents_isReady_andAnnouncedToItsLane() throws {
        let f = try BoardFixture()
        let t = try f.task("Build widget")
        XCTAssertEqual(t.status, .ready)
        XCTAssertEqual(try f.eventTypes(task: t.id), ["created", "available"])
        XCTAssertTrue(t.id.hasPrefix("t_") && t.id.count == 10)
    }

    func test_create_withUnfinishedParent_isTodo_untilParentCompletes() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let parent = try f.task("parent")
        let child = try f.task("child", parents: [parent.id])
        XCTAssertEqual(child.status, .todo)
        let c = try XCTUnwrap(try f.claim("factory"))
        XCTAssertEqual(c.task.id, parent.id, "only the parent is claimable")
        _ = try f.board.endClaim(f.proof("factory", parent.id, c.token), .complete(result: "ok", summary: nil, metadata: nil), nowMs: f.nowMs)
        XCTAssertEqual(try f.board.task(id: child.id)?.task.status, .ready)
        XCTAssertEqual(try f.eventTypes(task: child.id).suffix(2), ["promoted", "available"])
    }

    func test_namedClaim_ofChildWithUnfinishedParent_isNotReady() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let parent = try f.task("parent")
        let child = try f.task("child", parents: [parent.id])
        XCTAssertThrowsError(try f.claim("factory", task: child.id)) { error in
            guard case BoardError.notReady = error else { return XCTFail("\(error)") }
        }
    }

    func test_namedClaim_ofReadyTaskWithUnfinishedParent_demotesIt_likeHermes() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let parent = try f.task("parent")
        let child = try f.task("child")
        // Hermes can leave a ready task with an unfinished parent (a link added by hand).
        try SQLiteBoardRaw(path: f.path).exec("INSERT INTO task_links (parent_id, child_id) VALUES ('\(parent.id)', '\(child.id)')")
        XCTAssertThrowsError(try f.claim("factory", task: child.id)) { error in
            guard case BoardError.notReady = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try f.board.task(id: child.id)?.task.status, .todo, "the demotion commits even though the claim fails")
        XCTAssertEqual(try f.eventTypes(task: child.id).last, "claim_rejected")
    }

    func test_create_withUnknownParent_isNotFound() throws {
        let f = try BoardFixture()
        XCTAssertThrowsError(try f.task("orphan", parents: ["t_missing1"])) { error in
            guard case BoardError.notFound = error else { return XCTFail("\(error)") }
        }
    }

    func test_idempotencyKey_returnsTheFirstTask() throws {
        let f = try BoardFixture()
        let a = try f.board.createTask(TaskSpec(title: "once", idempotencyKey: "k1"), nowMs: f.nowMs)
        let b = try f.board.createTask(TaskSpec(title: "twice", idempotencyKey: "k1"), nowMs: f.nowMs + 5)
        XCTAssertEqual(a.id, b.id)
        XCTAssertEqual(try f.board.tasks(status: nil, assignee: nil, limit: 10).count, 1)
    }

    func test_link_refusesCycles_andDemotesReadyChild() throws {
        let f = try BoardFixture()
        let a = try f.task("a"), b = try f.task("b")
        let linked = try f.board.linkTasks(parent: a.id, child: b.id, nowMs: f.nowMs)
        XCTAssertEqual(linked.status, .todo)
        XCTAssertEqual(linked.parents, [a.id])
        XCTAssertThrowsError(try f.board.linkTasks(parent: b.id, child: a.id, nowMs: f.nowMs)) { error in
            guard case BoardError.conflict = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try f.board.linkTasks(parent: a.id, child: a.id, nowMs: f.nowMs))
    }

    func test_assign_refusedWhileRunning_allowedOtherwise() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("x")
        _ = try XCTUnwrap(try f.claim("factory"))
        XCTAssertThrowsError(try f.board.assignTask(id: t.id, assignee: "other", nowMs: f.nowMs))
        let u = try f.task("y")
        XCTAssertEqual(try f.board.assignTask(id: u.id, assignee: "other", nowMs: f.nowMs).assignee, "other")
        XCTAssertEqual(try f.eventTypes(task: u.id).suffix(2), ["assigned", "available"])
    }
}

final class ClaimModeTests: XCTestCase {
    func test_pullLanes_areNotAnnouncedWork_watchLanesAre() throws {
        let f = try BoardFixture()
        _ = try f.board.registerLane(Lane(name: "puller", claimMode: .pull), tokenHash: "h1", nowMs: f.nowMs)
        _ = try f.board.registerLane(Lane(name: "watcher", claimMode: .watch), tokenHash: "h2", nowMs: f.nowMs)
        let pulled = try f.task("p", assignee: "puller")
        let watched = try f.task("w", assignee: "watcher")
        let unregistered = try f.task("u", assignee: "nobody-yet")
        XCTAssertEqual(try f.eventTypes(task: pulled.id), ["created"])
        XCTAssertEqual(try f.eventTypes(task: watched.id), ["created", "available"])
        XCTAssertEqual(try f.eventTypes(task: unregistered.id), ["created", "available"], "visible to dashboards")
    }
}

final class ClaimTests: XCTestCase {
    func test_claim_picksHighestPriorityThenOldest() throws {
        let f = try BoardFixture()
        try f.lane("factory", max: 10)
        let old = try f.task("old low", priority: 1)
        let high = try f.task("high", priority: 5)
        let newer = try f.task("new low", priority: 1)
        XCTAssertEqual(try f.claim("factory")?.task.id, high.id)
        XCTAssertEqual(try f.claim("factory")?.task.id, old.id)
        XCTAssertEqual(try f.claim("factory")?.task.id, newer.id)
        XCTAssertNil(try f.claim("factory"))
    }

    func test_claim_withinOneSecond_takesTasksInCreationOrder() throws {
        let f = try BoardFixture()
        try f.lane("factory", max: 21)
        var created: [String] = []
        // Same created_at second for all: only insertion order can tell them apart (ids are random).
        for i in 0..<20 {
            created.append(try f.board.createTask(TaskSpec(title: "t\(i)", assignee: "factory"), nowMs: f.nowMs).id)
        }
        var claimed: [String] = []
        while let c = try f.claim("factory") { claimed.append(c.task.id) }
        XCTAssertEqual(claimed, created)
    }

    func test_claim_onlyTakesTheLanesOwnTasks() throws {
        let f = try BoardFixture()
        try f.lane("factory"); try f.lane("other")
        let t = try f.task("mine")
        XCTAssertNil(try f.claim("other"))
        XCTAssertThrowsError(try f.claim("other", task: t.id)) { error in
            guard case BoardError.notAssigned = error else { return XCTFail("\(error)") }
        }
    }

    func test_claim_writesHermesRunLockAndEvent() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("x")
        let c = try XCTUnwrap(try f.claim("factory"))
        let detail = try XCTUnwrap(try f.board.task(id: t.id))
        let run = try XCTUnwrap(detail.runs.first)
        XCTAssertEqual(detail.task.status, .running)
        XCTAssertEqual(detail.task.currentRunID, run.id)
        XCTAssertEqual(detail.task.claimLock, "lane:factory:\(run.id)")
        XCTAssertEqual(run.status, "running")
        XCTAssertEqual(run.profile, "factory")
        XCTAssertFalse(c.token.isEmpty)
        XCTAssertEqual(try f.eventTypes(task: t.id).last, "claimed")
    }

    func test_maxConcurrency_isHonoured_andFreedByCompletion() throws {
        let f = try BoardFixture()
        try f.lane("factory", max: 2)
        for i in 0..<3 { try f.task("t\(i)") }
        let a = try XCTUnwrap(try f.claim("factory"))
        _ = try XCTUnwrap(try f.claim("factory"))
        XCTAssertThrowsError(try f.claim("factory")) { error in
            guard case BoardError.laneFull = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try f.board.lane(named: "factory")?.running, 2)
        _ = try f.board.endClaim(f.proof("factory", a.task.id, a.token), .complete(result: nil, summary: nil, metadata: nil), nowMs: f.nowMs)
        XCTAssertNotNil(try f.claim("factory"))
    }

    func test_unassignedNamedTask_isAssignedToTheClaimer() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("free", assignee: nil)
        let c = try XCTUnwrap(try f.claim("factory", task: t.id))
        XCTAssertEqual(c.task.assignee, "factory")
    }
}

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
        XCTAssertEqual(try f.board.nextTimerDue(), f.nowMs + 10_000)
        XCTAssertEqual(try f.board.expireLeases(nowMs: f.nowMs + 10_000, retry: RetryPolicy()), 1)
        let detail = try XCTUnwrap(try f.board.task(id: t.id))
        XCTAssertEqual(detail.task.status, .ready)
        XCTAssertEqual(detail.runs.first?.outcome, "timed_out")
        XCTAssertEqual(try f.eventTypes(task: t.id).suffix(2), ["timed_out", "available"])
        XCTAssertThrowsError(try f.board.heartbeat(f.proof("factory", t.id, c.token), note: nil, metadata: nil, nowMs: f.nowMs + 10_001))
        XCTAssertNil(try f.board.nextTimerDue())
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

    func test_successResetsTheFailureStreak() throws {
        let f = try BoardFixture()
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
        XCTAssertEqual(try f.board.nextTimerDue(), f.nowMs + 30_000)
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

    func test_lostClaim_whenSomeoneElseTookTheTask_isStale() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        let t = try f.task("x")
        let c = try XCTUnwrap(try f.claim("factory"))
        // What `hermes kanban reclaim` does to the row, written by another connection.
        let raw = try SQLiteBoardRaw(path: f.path)
        try raw.exec("UPDATE tasks SET status='ready', claim_lock=NULL, claim_expires=NULL, current_run_id=NULL WHERE id='\(t.id)'")
        XCTAssertThrowsError(try f.board.endClaim(f.proof("factory", t.id, c.token), .complete(result: nil, summary: nil, metadata: nil), nowMs: f.nowMs)) {
            guard case BoardError.denied(.staleClaim) = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(try f.board.lane(named: "factory")?.running, 0, "a lost claim frees its slot")
    }
}

final class EventLogTests: XCTestCase {
    func test_events_areStrictlyIncreasing_andFilterByLane() throws {
        let f = try BoardFixture()
        try f.lane("factory"); try f.lane("other")
        try f.task("a"); try f.task("b", assignee: "other"); try f.task("c", assignee: nil)
        let all = try f.board.events(since: 0, limit: 100, lane: nil)
        XCTAssertEqual(all.map(\.seq), (1...Int64(all.count)).map { $0 })
        XCTAssertTrue(try f.board.events(since: 0, limit: 100, lane: "other").allSatisfy { $0.lane == "other" })
        XCTAssertEqual(try f.board.events(since: 0, limit: 100, lane: "_").map(\.type), ["created"])
        XCTAssertEqual(try f.board.events(since: all[2].seq, limit: 2, lane: nil).map(\.seq), [all[3].seq, all[4].seq])
        XCTAssertEqual(try f.board.lastEventSeq(), all.last?.seq)
    }
}

final class LaneDefinitionTests: XCTestCase {
    func test_defineLane_registersANewLane_thenBringsItToTheDeclaredSettings_keepingItsToken() throws {
        let f = try BoardFixture()
        var pool = Lane(name: "builders", kind: .pool, maxConcurrency: 3)
        pool.command = ["/bin/true"]
        XCTAssertTrue(try f.board.defineLane(pool, newTokenHash: Secrets.hash("lt_first"), nowMs: f.nowMs))
        XCTAssertEqual(try f.board.laneName(forTokenHash: Secrets.hash("lt_first")), "builders")

        pool.maxConcurrency = 5
        pool.leaseSeconds = 120
        XCTAssertFalse(try f.board.defineLane(pool, newTokenHash: Secrets.hash("lt_second"), nowMs: f.nowMs))
        let stored = try XCTUnwrap(f.board.lane(named: "builders")).lane
        XCTAssertEqual(stored.maxConcurrency, 5)
        XCTAssertEqual(stored.leaseSeconds, 120)
        XCTAssertEqual(try f.board.laneName(forTokenHash: Secrets.hash("lt_first")), "builders", "an existing lane keeps its token")
        XCTAssertNil(try f.board.laneName(forTokenHash: Secrets.hash("lt_second")))

        pool.leaseSeconds = nil  // declared unset: the stored value is cleared, not kept
        _ = try f.board.defineLane(pool, newTokenHash: "", nowMs: f.nowMs)
        XCTAssertNil(try XCTUnwrap(f.board.lane(named: "builders")).lane.leaseSeconds)
    }
}

/// Group commit runs each request of a batch in a savepoint of the batch's one transaction.
final class NestedAtomicallyTests: XCTestCase {
    struct Refused: Error {}

    func test_nestedAtomically_thatThrows_undoesOnlyItsOwnWrites() throws {
        let f = try BoardFixture()
        try f.lane("factory")
        var kept = ""
        try f.board.atomically {
            kept = try f.task("kept").id
            XCTAssertThrowsError(try f.board.atomically {
                _ = try f.task("undone")
                throw Refused()
            })
            _ = try f.task("after")
        }
        let titles = try f.board.tasks(status: nil, assignee: nil, limit: 10).map(\.title).sorted()
        XCTAssertEqual(titles, ["after", "kept"])
        XCTAssertNotNil(try f.board.task(id: kept))
    }
}

final class DispatchQueryTests: XCTestCase {
    func test_spawnableLanes_areSpawnAndPoolLanesWithReadyWork_withTheirLiveClaims() throws {
        let f = try BoardFixture()
        try f.lane("factory", max: 4)  // persistent: never spawned
        for (name, kind) in [("pool", LaneKind.pool), ("idle", .spawn)] {
            _ = try f.board.registerLane(Lane(name: name, kind: kind, maxConcurrency: 3, command: ["/bin/true"]),
                                         tokenHash: Secrets.hash("lt_\(name)"), nowMs: f.nowMs)
        }
        try f.task("for the persistent lane")
        try f.task("one", assignee: "pool")
        try f.task("two", assignee: "pool")
        XCTAssertNotNil(try f.claim("pool"))
        let lanes = try f.board.spawnableLanes()
        XCTAssertEqual(lanes.map(\.lane.name), ["pool"], "persistent lanes and lanes without ready work are left out")
        XCTAssertEqual(lanes.first?.running, 1)
    }
}
