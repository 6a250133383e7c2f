import Foundation
import KanbanModel
import KanbanProtocol
import KanbanStore
import Logging

/// The core's half of spawn and pool lanes: claims on their behalf, keeps their leases, records
/// what the dispatcher reports. Every step is a quick board write on the owner thread; everything
/// slow (git, processes) is the dispatcher's, on its own threads (Dispatcher.swift).
extension Coordinator {
    /// Claims a task for each free slot of a spawn or pool lane and orders its worker started. Looking
    /// for work reads every lane's slots and queue: not on every turn of a loop that may turn thousands
    /// of times a second under load (`LoopTimers.Job.dispatchScan`; a task waits at most that long).
    func dispatchWork(pace: LoopTimers.Now) {
        guard let dispatcher else { return }
        let now = clock.nowMs()
        guard writes.mayWrite(nowMs: now) else { return }
        timers.ran(.dispatchScan, at: pace)
        dispatchWanted = false
        guard let candidates = try? store.spawnableLanes() else { return }
        var open: [String: (lane: Lane, free: Int)] = [:]
        for (lane, running) in candidates where !(lane.command ?? []).isEmpty {
            let free = spawnedRuns.freeSlots(lane, runningOnBoard: running)
            if free > 0 { open[lane.name] = (lane, free) }
        }
        guard !open.isEmpty else { return }
        let round = spawnedRuns.nextRound()
        // One transaction for the pass; one task per lane per turn, lanes in rotating order: no lane starves another.
        let grants: [(Lane, ClaimGrant)]? = attemptWrite("claim for spawned lanes") {
            var grants: [(Lane, ClaimGrant)] = []
            while !open.isEmpty {
                for name in LaneRotation.order(Array(open.keys), round: round) {
                    guard let entry = open[name] else { continue }
                    var grant: ClaimGrant?
                    do {
                        // In a savepoint: a claim that fails is undone whole (not only its refusals, which
                        // write nothing half-way, but a storage error too) before the pass goes on.
                        grant = try store.atomically { try operations.claim(ClaimRequest(lane: name)) }
                    } catch BoardError.busy {
                        throw BoardError.busy
                    } catch {
                        log.error("dispatcher could not claim", metadata: ["lane": "\(name)", "error": "\(error)"])
                    }
                    if let grant { grants.append((entry.lane, grant)) }
                    open[name] = grant != nil && entry.free > 1 ? (entry.lane, entry.free - 1) : nil
                }
            }
            return grants
        }
        let monotonicNow = clock.monotonicMs()
        for (lane, grant) in grants ?? [] {
            let limit = grant.task.maxRuntimeSeconds ?? lane.maxRuntimeSeconds
            let leaseMs = grant.leaseExpiresAtMs - now
            spawnedRuns.claimed(.init(lane: lane, taskID: grant.task.id, runID: grant.runID, tokenHash: Secrets.hash(grant.token),
                                  leaseMs: leaseMs, nextBeatMs: monotonicNow + leaseMs / 3, limitSeconds: limit))
            let recorded = lane.workspacePolicy == .none ? nil : try? store.workspace(lane: lane.name, taskID: grant.task.id)
            dispatcher.send(.start(WorkerStart(lane: lane, taskID: grant.task.id, runID: grant.runID, title: grant.task.title, body: grant.task.body,
                                               recordedWorkspace: recorded, environment: workerEnvironment(lane: lane, grant: grant),
                                               limitSeconds: limit)))
        }
    }

    /// What a worker is told: the claim, where to report, and the variables Hermes' own workers read
    /// (the dispatcher adds the workspace's once it exists).
    func workerEnvironment(lane: Lane, grant: ClaimGrant) -> [String: String] {
        guard let settings = config.dispatch, let endpoints else { return [:] }
        var env = settings.environment
        env["KANBAN_BRIDGE_ENDPOINT"] = endpoints.command
        env["KANBAN_BRIDGE_EVENTS"] = endpoints.events
        env.merge(WorkerEnvironment.claim(taskID: grant.task.id, runID: grant.runID, claimToken: grant.token, lane: lane,
                                          title: grant.task.title, body: grant.task.body, tenant: grant.task.tenant)) { $1 }
        env["KANBAN_LANE_TOKEN"] = authenticator.workerToken(lane: lane.name, runID: grant.runID)
        if let curve = config.curve {
            // Generating a keypair cannot fail with a CURVE-capable libzmq, which serve checked at start.
            if let keys = try? authenticator.workerKeys.keys(forRun: grant.runID, lane: lane.name) {
                env["KANBAN_CURVE_SERVER_KEY"] = curve.serverKeys.publicKey
                env["KANBAN_CURVE_SECRET_KEY"] = keys.secretKey
            }
        }
        env["HERMES_KANBAN_DB"] = settings.boardPath
        return env
    }

    /// Leases of spawned runs are kept while their workers live (and while their workspace is made).
    /// Runs before lease expiry in every turn (`runTimers`): after a stall of the coordinator, every
    /// spawned run is due and renewed first, so its task is not run again from scratch.
    func keepSpawnedLeases() {
        let now = clock.nowMs()
        let monotonicNow = clock.monotonicMs()
        let due = spawnedRuns.renewalsDue(monotonicMs: monotonicNow)
        guard !due.isEmpty else { return }
        let kept: Void? = attemptWrite("keep spawned workers' leases") {
            for run in due {
                // A claim its worker already ended (complete, block) is renewed no more; it exits soon.
                // In a savepoint: a renewal that fails half-way is undone whole, and the others still commit.
                _ = try? store.atomically {
                    try store.heartbeat(ClaimProof(principal: .admin, taskID: run.taskID, tokenHash: run.tokenHash),
                                        note: nil, metadata: nil, nowMs: now)
                }
            }
        }
        if kept != nil { spawnedRuns.renewed(due, monotonicMs: monotonicNow) }
    }

    /// A spawned run whose claim was taken back (the admin's `task.reclaim`, Hermes' reclaim or stale
    /// detector) must not keep working: its worker is stopped. Hermes never signals our workers (their
    /// lock is not its host's), so this is the only place that does. Reads only, about once a second.
    func stopWorkersOfTakenRuns(pace: LoopTimers.Now) {
        guard let dispatcher, !spawnedRuns.isEmpty else { return }
        timers.ran(.takeBackCheck, at: pace)
        // A worker still being set up (a worktree in the making) is looked at again once it has started.
        for run in spawnedRuns.awaitingTakeBackCheck() {
            guard (try? store.isClaimLive(runID: run.runID)) == false,
                  let outcome = try? store.runOutcome(runID: run.runID), RunOutcome(rawValue: outcome)?.endedByWorker != true else { continue }
            spawnedRuns.stopRequested(runID: run.runID)
            dispatcher.send(.stopWorker(runID: run.runID, why: "its run ended \(outcome)"))
        }
    }

    /// Records what the dispatcher did. While the board is locked the reports wait in the mailbox.
    func applyDispatchReports() {
        guard let dispatcher else { return }
        let reports = dispatcher.reports.take()
        guard !reports.isEmpty else { return }
        let now = clock.nowMs()
        guard let cleanups = attemptWrite("record what the dispatcher did", { try reports.flatMap { try record($0, nowMs: now) } }) else {
            dispatcher.reports.putBack(reports)
            return
        }
        for report in reports {
            if let ended = spawnedRuns.reported(report) { authenticator.workerKeys.forget(runID: ended) }
        }
        if !cleanups.isEmpty { dispatcher.send(.removeWorkspaces(cleanups)) }
    }

    /// One report's board changes, in the open transaction; returns workspaces to remove after it.
    private func record(_ report: DispatchReport, nowMs now: Int64) throws -> [WorkspaceRecord] {
        // Each step runs in a savepoint of its own: one that fails is undone whole and logged, and the
        // other reports of the batch still commit. Only a locked board (the whole batch waits) escapes.
        func attempt(_ what: String, _ body: () throws -> Void) throws {
            do { try store.atomically(body) } catch BoardError.busy { throw BoardError.busy } catch {
                log.error("could not record what the dispatcher did", metadata: ["what": "\(what)", "error": "\(error)"])
            }
        }
        switch report {
        case .spawned(let runID, let taskID, let lane, let pid, let workspace):
            try attempt("spawned") { try store.noteSpawned(taskID: taskID, runID: runID, lane: lane, pid: pid, workspace: workspace, nowMs: now) }
        case .spawnFailed(let runID, let error, let workspace):
            try attempt("spawn failed") {
                if let workspace { try store.recordWorkspace(workspace, nowMs: now) }
                _ = try store.failClaim(runID: runID, outcome: .spawnFailed, error: error, payload: ["error": .string(error)],
                                        retry: config.retry, nowMs: now)
            }
        case .exited(let runID, let status, let stoppedForRuntime):
            guard let run = spawnedRuns.run(runID) else { return [] }
            var cleanup: [WorkspaceRecord] = []
            try attempt("worker exited") {
                if try store.isClaimLive(runID: runID) {
                    var data = status.fields
                    let outcome: RunOutcome = stoppedForRuntime ? .timedOut : .crashed
                    if stoppedForRuntime, let limit = run.limitSeconds { data["limit_seconds"] = .int(Int64(limit)) }
                    let why = stoppedForRuntime ? "exceeded its run time limit" : "worker exited without completing or blocking (\(status))"
                    _ = try store.failClaim(runID: runID, outcome: outcome, error: why, payload: .object(data), retry: config.retry, nowMs: now)
                    log.notice("worker ended its run without finishing it", metadata: ["task": "\(run.taskID)", "outcome": "\(outcome.rawValue)", "status": "\(status)"])
                } else {
                    log.info("worker exited", metadata: ["task": "\(run.taskID)", "status": "\(status)"])
                }
                if run.lane.workspacePolicy == .scratch, !run.lane.keepWorkspaces, try store.task(id: run.taskID)?.task.status == .done,
                   let recorded = try store.workspace(lane: run.lane.name, taskID: run.taskID) {
                    cleanup.append(recorded)
                }
            }
            return cleanup
        case .orphanGone(let taskID, let runID, let what):
            try attempt("take back an orphan's task") {
                _ = try store.reclaimTask(id: taskID, reason: "coordinator restarted after a crash; \(what)", nowMs: now)
                log.notice("took back a spawned task left over from a crash", metadata: ["task": "\(taskID)", "run": "\(runID)", "worker": "\(what)"])
            }
        case .memoryHarvested(let taskID, let runID, let comment, let owner):
            try attempt("comment on a run's memory writes") {
                try store.addComment(taskID: taskID, author: "kanban-bridge", body: comment, runID: runID, nowMs: now)
            }
            if let owner {
                try attempt("create the memory review task") {
                    let origin = ProfileMemory.Origin(taskID: taskID, runID: runID, lane: "")
                    let review = try store.createTask(ProfileMemory.reviewTask(origin: origin, comment: comment, owner: owner), nowMs: now)
                    log.info("memory review task created", metadata: ["task": "\(review.id)", "for": "\(owner)", "run": "\(runID)"])
                }
            }
        case .workspaceRemoved(let workspace, let error):
            if let error {
                log.error("could not remove a workspace", metadata: ["workspace": "\(workspace)", "error": "\(error)"])
            } else {
                try attempt("forget a removed workspace") { try store.forgetWorkspace(lane: workspace.lane, taskID: workspace.taskID) }
                log.info("removed a workspace", metadata: ["workspace": "\(workspace)", "path": "\(workspace.path)"])
            }
        }
        return []
    }

    // MARK: After a crash

    /// After a coordinator crash (kill -9, power loss), claims of spawned lanes can still be live while
    /// their workers run on unsupervised, or are gone. Neither may go on: nobody keeps an orphan's
    /// lease, so its task would time out and run twice. The dispatcher stops each such worker on its
    /// own threads (TERM, KILL after the grace period) and the core takes its task back once it is
    /// gone (`reclaimed`, ready again at once; no failure counted, the crash was ours). The loop
    /// answers requests meanwhile.
    func recoverOrphans() {
        guard let dispatcher, let summaries = try? store.lanes() else { return }
        for s in summaries where s.lane.kind.isSpawned {
            for claim in s.claims where spawnedRuns.run(claim.runID) == nil {
                // Only runs a dispatcher started (they have a `spawned` event): a claim a client made
                // over the wire for a spawn lane is that client's business.
                guard let pid = try? store.spawnedPID(runID: claim.runID) else { continue }
                dispatcher.send(.stopOrphan(Orphan(pid: pid, taskID: claim.taskID, runID: claim.runID)))
            }
        }
    }

    // MARK: Workspaces

    /// `workspace.prune`: the workspaces of tasks that are done or archived (or gone), on `lane` or on
    /// every spawned lane, never one a live run uses. Answered at once with what is queued; the
    /// dispatcher removes them (git) off the loop and logs each.
    func queuePrune(lane only: String?) throws -> [String] {
        guard let dispatcher else { return [] }
        let spawned = Set(try store.lanes().map(\.lane).filter(\.kind.isSpawned).map(\.name))
        var queued: [WorkspaceRecord] = []
        // Only what the dispatcher made and the board recorded: a directory found on disk is never
        // taken for a workspace (its name would be a board value turned into a path).
        for workspace in try store.workspaces(lane: only)
        where spawned.contains(workspace.lane) && !spawnedRuns.holds(lane: workspace.lane, taskID: workspace.taskID) {
            let status = try store.task(id: workspace.taskID)?.task.status
            guard status == nil || status == .done || status == .archived else { continue }
            queued.append(workspace)
        }
        if !queued.isEmpty {
            dispatcher.send(.removeWorkspaces(queued))
            log.info("pruning workspaces", metadata: ["count": "\(queued.count)"])
        }
        return queued.map(\.description)
    }

    // MARK: Stopping

    /// At shutdown, once the loop has stopped serving: every worker is stopped and its claim released,
    /// so its task is ready again at once. Nothing is left running.
    func stopWorkers() {
        guard let dispatcher else { return }
        let ended = dispatcher.shutdown()
        store.limitLockWait(ms: 5000)  // nobody is waiting for an answer any more
        writes = WriteQueue()  // its writes were answered (`shutdown`); the lock may be tried at once
        applyDispatchReports()
        for run in spawnedRuns.takeAll() {
            let how = ended[run.runID].map { "its worker was stopped (\($0))" } ?? "its worker had not started"
            let proof = ClaimProof(principal: .admin, taskID: run.taskID, tokenHash: run.tokenHash)
            if (try? store.endClaim(proof, .release(reason: "coordinator stopped; \(how)"), nowMs: clock.nowMs())) != nil {
                log.info("released the claim of a stopped worker", metadata: ["task": "\(run.taskID)", "run": "\(run.runID)"])
            }
        }
    }
}
