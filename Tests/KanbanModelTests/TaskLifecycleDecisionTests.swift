import KanbanModel
import XCTest

/// `TaskLifecycle`, exhaustively over the commands: what each decides on a snapshot, and what it refuses.
final class TaskLifecycleDecisionTests: XCTestCase {
    let now: Int64 = 1_700_000_000_123
    let lane = Lane(name: "factory", claimMode: .pullOrWatch, maxConcurrency: 2)

    func running(_ id: String = "t_1", run: Int64 = 7, lane: String = "factory") -> TaskState {
        TaskState(id: id, status: .running, assignee: lane, claimLock: ClaimLock.make(lane: lane, runID: run), currentRunID: run)
    }

    func claim(_ id: String = "t_1", run: Int64 = 7, leaseMs: Int64 = 60_000, expires: Int64? = nil, ended: Bool = false) -> ClaimState {
        ClaimState(runID: run, taskID: id, lane: "factory", leaseMs: leaseMs, leaseExpiresAtMs: expires ?? now + 1000, ended: ended)
    }

    // MARK: Authority

    func test_authorize_mapsEveryDenial() {
        XCTAssertThrowsError(try TaskLifecycle.authorize(.lane("factory"), taskID: "t_1", task: nil, claim: claim())) {
            XCTAssertEqual($0 as? BoardError, .notFound("no task 't_1'"))
        }
        XCTAssertThrowsError(try TaskLifecycle.authorize(.lane("factory"), taskID: "t_1", task: running(), claim: nil)) {
            XCTAssertEqual($0 as? BoardError, .denied(.notClaimOwner))
        }
        XCTAssertThrowsError(try TaskLifecycle.authorize(.lane("other"), taskID: "t_1", task: running(), claim: claim())) {
            XCTAssertEqual($0 as? BoardError, .denied(.forbidden))
        }
        // A lease past its stored end still authorises until the coordinator ends it (`LeaseDeadlines`).
        XCTAssertEqual(try TaskLifecycle.authorize(.lane("factory"), taskID: "t_1", task: running(), claim: claim(expires: now)), claim(expires: now))
        XCTAssertThrowsError(try TaskLifecycle.authorize(.lane("factory"), taskID: "t_1", task: running(run: 8), claim: claim())) {
            guard case .denied(.staleClaim)? = $0 as? BoardError else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(try TaskLifecycle.authorize(.admin, taskID: "t_1", task: running(), claim: claim()), claim())
    }

    // MARK: Claim-scoped commands

    func test_heartbeatExtendsLease_andHermesLiveness() {
        let e = TaskLifecycle.heartbeat(claim(), note: "half way", metadata: ["step": 3], nowMs: now)
        XCTAssertEqual(e.task?.guardedBy, .runningUnder(lock: "lane:factory:7"))
        XCTAssertEqual(e.task?.value(of: .claimExpires), .int(Lease.hermesSeconds(fromMs: now + 60_000)))
        XCTAssertEqual(e.task?.value(of: .lastHeartbeatAt), .int(now / 1000))
        XCTAssertEqual(e.runs, [.extend(runID: 7, leaseExpiresAtMs: now + 60_000)])
        XCTAssertEqual(e.events.map(\.kind), [.heartbeat])
        XCTAssertEqual(e.events[0].hermesPayload, ["note": "half way"])
        XCTAssertEqual(e.events[0].data.objectValue?["metadata"], ["step": 3])
        XCTAssertNil(TaskLifecycle.heartbeat(claim(), note: nil, metadata: nil, nowMs: now).events[0].hermesPayload)
    }

    func test_complete_isHermesCompleteTask_andFreesChildren() {
        let e = TaskLifecycle.complete(claim(), result: "line one\nline two", summary: nil, metadata: nil, nowMs: now)
        XCTAssertEqual(e.task?.newStatus, .done)
        for (field, value) in [(TaskField.blockKind, FieldValue.null), (.blockRecurrences, .int(0)), (.consecutiveFailures, .int(0)),
                               (.claimLock, .null), (.currentRunID, .null), (.workerPID, .null), (.completedAt, .int(now / 1000))] {
            XCTAssertEqual(e.task?.value(of: field), value, "\(field)")
        }
        XCTAssertEqual(e.runs, [.close(runID: 7, outcome: .completed, summary: "line one\nline two", error: nil, metadata: nil)])
        XCTAssertEqual(e.events[0].hermesPayload, ["result_len": 17, "summary": "line one"], "Hermes' payload: first line of the summary")
        XCTAssertEqual(e.followUps, [.promoteChildren(of: "t_1")])
    }

    func test_block_countsRecurrencesOfTheSameKind_andStaysBlocked_unlikeHermesTriage() {
        var task = running()
        task.blockKind = "needs-input"
        task.blockRecurrences = 1
        let again = TaskLifecycle.block(claim(), task: task, reason: "still waiting", kind: "needs-input")
        XCTAssertEqual(again.task?.value(of: .blockRecurrences), .int(2))
        // Hermes sends a second block of the same kind to triage (its gateway then auto-decomposes the
        // task); the bridge keeps it blocked for a person (hermes-compat §7).
        XCTAssertEqual(again.task?.newStatus, .blocked)
        let other = TaskLifecycle.block(claim(), task: task, reason: nil, kind: "other")
        XCTAssertEqual(other.task?.value(of: .blockRecurrences), .int(1))
        // Hermes sends kind `dependency` to todo; the bridge blocks it too.
        XCTAssertEqual(TaskLifecycle.block(claim(), task: running(), reason: nil, kind: "dependency").task?.newStatus, .blocked)
        XCTAssertEqual(other.runs, [.close(runID: 7, outcome: .blocked, summary: nil, error: nil, metadata: nil)])
        XCTAssertEqual(again.events.map(\.kind), [.blocked], "the blocked row is load-bearing for Hermes")
    }

    func test_release_requeues_datesItForHermes_andAnnounces() {
        let e = TaskLifecycle.release(claim(), reason: nil)
        XCTAssertEqual(e.task?.newStatus, .ready)
        XCTAssertEqual(e.runs, [.close(runID: 7, outcome: .released, summary: nil, error: "released: by the lane", metadata: nil)])
        XCTAssertEqual(e.events.map(\.kind), [.released, .promoted])
        XCTAssertEqual(e.events[1].audience, .hermesOnly)
        XCTAssertEqual(e.events[1].hermesPayload, ["requeued": "released"])
        XCTAssertEqual(e.followUps, [.announce(taskID: "t_1")])
    }

    // MARK: Failures (Hermes' circuit breaker)

    func test_fail_retriesAtOnce_withoutBackoff() {
        let e = TaskLifecycle.fail(claim(), task: running(), outcome: .crashed, error: "exit 1", payload: ["exit": 1],
                                   retry: RetryPolicy(maxRetries: 3), nowMs: now)
        XCTAssertEqual(e.task?.newStatus, .ready)
        XCTAssertEqual(e.task?.value(of: .consecutiveFailures), .int(1))
        XCTAssertEqual(e.events.map(\.kind), [.crashed, .promoted])
        XCTAssertEqual(e.events[0].data, ["exit": 1, "lock": "lane:factory:7"])
        XCTAssertEqual(e.followUps, [.announce(taskID: "t_1")])
    }

    func test_fail_withBackoff_waitsBeforeItIsClaimable() {
        let e = TaskLifecycle.fail(claim(), task: running(), outcome: .timedOut, error: "lease expired", payload: [:],
                                   retry: RetryPolicy(maxRetries: 3, backoffBaseMs: 5000), nowMs: now)
        XCTAssertEqual(e.followUps, [.backOff(taskID: "t_1", untilMs: now + 5000)])
        XCTAssertEqual(e.events.map(\.kind), [.timedOut], "dated and announced only when the backoff ends")
    }

    func test_fail_atTheLimit_givesUp_andPinsTheLimitForHermes() {
        var task = running()
        task.consecutiveFailures = 2
        let e = TaskLifecycle.fail(claim(), task: task, outcome: .spawnFailed, error: "no such file", payload: [:],
                                   retry: RetryPolicy(maxRetries: 3), nowMs: now)
        XCTAssertEqual(e.task?.newStatus, .blocked)
        XCTAssertEqual(e.task?.value(of: .maxRetries), .unlessSet(3))
        XCTAssertEqual(e.events.map(\.kind), [.spawnFailed, .gaveUp])
        XCTAssertEqual(e.events[1].data.objectValue?["limit_source"], "board")
    }

    func test_fail_ofATaskHermesTookBack_onlyForgetsTheClaim() {
        var task = running()
        task.status = .ready
        let e = TaskLifecycle.fail(claim(), task: task, outcome: .crashed, error: "x", payload: [:], retry: RetryPolicy(), nowMs: now)
        XCTAssertEqual(e, LifecycleEffects(runs: [.forgetLost(runID: 7)]))
    }

    // MARK: Claims

    func test_admitClaim_refusesWatchPulls_andFullLanes() {
        XCTAssertThrowsError(try TaskLifecycle.admitClaim(lane: Lane(name: "w", claimMode: .watch), named: false, liveClaims: 0))
        XCTAssertNoThrow(try TaskLifecycle.admitClaim(lane: Lane(name: "w", claimMode: .watch), named: true, liveClaims: 0))
        XCTAssertThrowsError(try TaskLifecycle.admitClaim(lane: lane, named: false, liveClaims: 2)) {
            guard case .laneFull? = $0 as? BoardError else { return XCTFail("\($0)") }
        }
    }

    func test_claim_opensHermesRun_assigningAnUnassignedNamedTask() throws {
        let task = TaskState(id: "t_1", status: .ready, currentRunID: 3)
        guard case .open(let plan) = try TaskLifecycle.claim(task, taskID: "t_1", lane: lane, named: true, leaseMs: 1000, nowMs: now)
        else { return XCTFail() }
        let e = plan.effects(runID: 9)
        XCTAssertEqual(e.task?.guardedBy, .claimable)
        XCTAssertEqual(e.task?.value(of: .claimLock), .text("lane:factory:9"))
        XCTAssertEqual(e.task?.value(of: .startedAt), .unlessSet(now / 1000))
        XCTAssertEqual(e.task?.value(of: .assignee), .text("factory"))
        XCTAssertEqual(e.events.map(\.kind), [.assigned, .claimed])
        XCTAssertEqual(e.runs.first, .closeStale(runID: 3), "a ready task must not keep an open run")
    }

    func test_claim_writesTheBridgesFailureLimit_onlyWhereHermesWouldApplyAnother() throws {
        func written(_ task: TaskState, pin: Int?) throws -> FieldValue? {
            guard case .open(let plan) = try TaskLifecycle.claim(task, taskID: task.id, lane: lane, named: false, leaseMs: 1000,
                                                                 nowMs: now, pinMaxRetries: pin) else { XCTFail(); return nil }
            return plan.effects(runID: 9).task?.value(of: .maxRetries)
        }
        let plain = TaskState(id: "t_1", status: .ready, assignee: "factory")
        XCTAssertEqual(try written(plain, pin: 3), .unlessSet(3))
        XCTAssertNil(try written(plain, pin: nil), "the limits agree: nothing to write")
        var own = plain
        own.maxRetries = 5
        XCTAssertNil(try written(own, pin: 3), "a task's own limit is left alone")
    }

    func test_retryPolicy_followsHermesLimit_andPinsOnlyADifferentOne() {
        XCTAssertEqual(RetryPolicy().maxRetries, 2, "Hermes' DEFAULT_FAILURE_LIMIT")
        XCTAssertNil(RetryPolicy().pinnedLimit)
        XCTAssertEqual(RetryPolicy(hermesLimit: 4).maxRetries, 4, "kanban.failure_limit is the bridge's default")
        XCTAssertNil(RetryPolicy(maxRetries: 4, hermesLimit: 4).pinnedLimit)
        XCTAssertEqual(RetryPolicy(maxRetries: 3).pinnedLimit, 3)
        XCTAssertEqual(RetryPolicy(maxRetries: 1, hermesLimit: 4).pinnedLimit, 1)
    }

    func test_claim_refusals_inHermesOrder() {
        func refusal(_ t: TaskState?, named: Bool = true) -> BoardError? {
            do { _ = try TaskLifecycle.claim(t, taskID: "t_1", lane: lane, named: named, leaseMs: 1, nowMs: now); return nil }
            catch { return error as? BoardError }
        }
        guard case .notFound? = refusal(nil) else { return XCTFail() }
        guard case .notAssigned? = refusal(TaskState(id: "t_1", status: .ready, assignee: "other")) else { return XCTFail() }
        guard case .notReady? = refusal(TaskState(id: "t_1", status: .todo, assignee: "factory")) else { return XCTFail() }
        guard case .notReady? = refusal(TaskState(id: "t_1", status: .ready, backingOff: true)) else { return XCTFail() }
    }

    func test_claim_ofAReadyTaskWithAnUnfinishedParent_demotesIt_likeHermes() throws {
        let task = TaskState(id: "t_1", status: .ready, assignee: "factory", parentStatuses: [.done, .running])
        guard case .demote(let e) = try TaskLifecycle.claim(task, taskID: "t_1", lane: lane, named: false, leaseMs: 1, nowMs: now)
        else { return XCTFail() }
        XCTAssertEqual(e.task?.newStatus, .todo)
        XCTAssertEqual(e.task?.mustApply, false)
        XCTAssertEqual(e.events.map(\.kind), [.claimRejected])
    }

    // MARK: Administrator

    func test_reclaim_unblock_assign_link() throws {
        let reclaimed = try TaskLifecycle.reclaim(running(), taskID: "t_1", reason: nil)
        XCTAssertEqual(reclaimed.runs, [.close(runID: 7, outcome: .reclaimed, summary: nil, error: "manual_reclaim: by admin", metadata: nil)])
        XCTAssertThrowsError(try TaskLifecycle.reclaim(TaskState(id: "t_1", status: .done), taskID: "t_1", reason: nil))

        let waiting = TaskState(id: "t_1", status: .blocked, parentStatuses: [.running])
        let unblocked = try TaskLifecycle.unblock(waiting, taskID: "t_1")
        XCTAssertEqual(unblocked.task?.newStatus, .todo, "unblocked into todo while a parent runs, as Hermes")
        XCTAssertEqual(unblocked.events[0].hermesPayload, ["status": "todo"])
        XCTAssertEqual(unblocked.followUps, [.clearBackoff(taskID: "t_1"), .announce(taskID: "t_1")])
        XCTAssertThrowsError(try TaskLifecycle.unblock(TaskState(id: "t_1", status: .ready), taskID: "t_1"))

        XCTAssertThrowsError(try TaskLifecycle.assign(running(), taskID: "t_1", to: "other"))
        let same = try TaskLifecycle.assign(TaskState(id: "t_1", status: .ready, assignee: "a"), taskID: "t_1", to: "a")
        XCTAssertNil(same.task, "assigning the same lane writes only the event")
        XCTAssertEqual(same.followUps, [])

        let child = TaskState(id: "t_2", status: .ready)
        let linked = try TaskLifecycle.link(parent: "t_1", parentStatus: .running, child: child, childID: "t_2", closesCycle: false)
        XCTAssertEqual(linked.task?.newStatus, .todo)
        XCTAssertEqual(linked.newLink, TaskLink(parent: "t_1", child: "t_2"))
        XCTAssertNil(try TaskLifecycle.link(parent: "t_1", parentStatus: .done, child: child, childID: "t_2", closesCycle: false).task)
        XCTAssertThrowsError(try TaskLifecycle.link(parent: "t_1", parentStatus: .done, child: child, childID: "t_2", closesCycle: true))
        XCTAssertThrowsError(try TaskLifecycle.link(parent: "t_2", parentStatus: .done, child: child, childID: "t_2", closesCycle: false))
    }

    func test_promote_onlyATodoChildWhoseParentsAllFinished() {
        XCTAssertNil(TaskLifecycle.promote(TaskState(id: "c", status: .todo, parentStatuses: [.done, .ready])))
        XCTAssertNil(TaskLifecycle.promote(TaskState(id: "c", status: .blocked, parentStatuses: [.done])),
                     "a blocked child waits for a person, not for its parents")
        let e = TaskLifecycle.promote(TaskState(id: "c", status: .todo, parentStatuses: [.done, .archived]))
        XCTAssertEqual(e?.task?.newStatus, .ready)
        XCTAssertEqual(e?.events.map(\.kind), [.promoted])
        XCTAssertNil(e?.events[0].hermesPayload, "Hermes' promoted rows carry no payload")
    }

    func test_announcement_tellsWatchLanesAndUnknownNames_notPullLanes() {
        let task = TaskState(id: "t_1", status: .ready, assignee: "factory", priority: 4)
        XCTAssertEqual(TaskLifecycle.announcement(task, laneMode: .watch)?.data, ["priority": 4])
        XCTAssertNotNil(TaskLifecycle.announcement(task, laneMode: nil))
        XCTAssertNil(TaskLifecycle.announcement(task, laneMode: .pull))
        var backingOff = task
        backingOff.backingOff = true
        XCTAssertNil(TaskLifecycle.announcement(backingOff, laneMode: .watch))
    }

    func test_effectsApplyToTheRecordTheReplyShows() {
        let record = TaskRecord(id: "t_1", title: "x", assignee: "factory", status: .ready, createdAt: 1, startedAt: 5)
        let plan = ClaimPlan(task: TaskState(id: "t_1", status: .ready, assignee: "factory"), lane: "factory", profile: "factory",
                             leaseMs: 1000, nowMs: now)
        let after = record.applying(plan.effects(runID: 9).task)
        XCTAssertEqual(after.status, TaskStatus.running)
        XCTAssertEqual(after.startedAt, 5, "COALESCE keeps the first start")
        XCTAssertEqual(after.currentRunID, 9)
        XCTAssertEqual(after.claimLock, "lane:factory:9")
    }

    /// Every event kind says who sees it, and every run outcome names its event (compile-time
    /// exhaustive; this pins the values Hermes and subscribers read).
    func test_vocabulary() {
        XCTAssertEqual(Set(EventKind.allCases.filter { $0.audience == .subscribersOnly }),
                       [.available, .laneRegistered, .laneUpdated, .laneRemoved])
        XCTAssertEqual(RunOutcome.allCases.filter(\.isFailure), [.timedOut, .crashed, .spawnFailed])
        XCTAssertEqual(RunOutcome.completed.runStatus, "done")
        XCTAssertEqual(RunOutcome.spawnFailed.event.rawValue, "spawn_failed")
        XCTAssertEqual(RunOutcome.allCases.filter(\.endedByWorker), [.completed, .blocked, .released])
        // Claim latency (stats) starts when a task becomes claimable again.
        XCTAssertEqual(Set(EventKind.allCases.filter(\.startsWait).map(\.rawValue)),
                       ["created", "promoted", "released", "timed_out", "crashed", "spawn_failed", "reclaimed", "unblocked",
                        "available", "assigned"])
    }
}
