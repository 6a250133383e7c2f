import GRDB
import KanbanModel

/// Claims and the claim-scoped mutations. Each is one IMMEDIATE transaction that re-checks the
/// claim (authority) and compare-and-sets the task on status and lock, exactly like Hermes, so a
/// concurrent Hermes reclaim or hand-completion makes our write fail as `stale_claim`.
extension SQLiteBoard {
    public func claim(_ intent: ClaimIntent, nowMs: Int64) throws -> ClaimedTask? {
        // A refusal found after Hermes-style bookkeeping (demoting a ready task whose parents are not
        // done) is returned, not thrown, so that bookkeeping commits as it does in Hermes.
        let outcome: Result<ClaimedTask?, BoardError> = try write { db in
            let lane = intent.lane
            let live = try Self.liveClaims(db, lane: lane.name)
            if live >= lane.maxConcurrency {
                throw BoardError.laneFull("lane '\(lane.name)' already runs \(live)/\(lane.maxConcurrency) tasks")
            }
            let events = EventWriter(db: db, nowMs: nowMs)
            let chosen: String
            if let taskID = intent.taskID {
                guard try Self.checkNamedClaim(db, taskID: taskID, lane: lane.name, events: events) else {
                    return .failure(.notReady("task \(taskID) waits for unfinished parents"))
                }
                chosen = taskID
            } else {
                guard let best = try Self.bestClaimable(db, lane: lane.name, events: events) else { return .success(nil) }
                chosen = best
            }
            return .success(try Self.openClaim(db, taskID: chosen, intent: intent, nowMs: nowMs, events: events))
        }
        return try outcome.get()
    }

    public func heartbeat(_ proof: ClaimProof, note: String?, metadata: JSONValue?, nowMs: Int64) throws -> Int64 {
        try write { db in
            let claim = try Self.authorize(db, proof, nowMs: nowMs)
            let expiresMs = nowMs + claim.leaseMs
            let lock = ClaimLock.make(lane: claim.lane, runID: claim.runID)
            let now = nowMs / 1000
            // Keep Hermes' own liveness fields fresh so its dispatcher never reclaims a live bridge claim.
            try db.cachedStatement(sql: """
                UPDATE tasks SET claim_expires = ?, last_heartbeat_at = ? WHERE id = ? AND status = 'running' AND claim_lock = ?
                """).execute(arguments: [Lease.hermesSeconds(fromMs: expiresMs), now, proof.taskID, lock])
            guard db.changesCount == 1 else { throw BoardError.denied(.staleClaim("the task changed under this claim")) }
            try db.cachedStatement(sql: "UPDATE task_runs SET claim_expires = ?, last_heartbeat_at = ? WHERE id = ?").execute(
                           arguments: [Lease.hermesSeconds(fromMs: expiresMs), now, claim.runID])
            try db.cachedStatement(sql: "UPDATE bridge_claims SET lease_expires_ms = ? WHERE run_id = ?").execute(arguments: [expiresMs, claim.runID])
            var data: [String: JSONValue] = ["lease_expires_at_ms": .int(expiresMs), "note": .of(note)]
            if let metadata { data["metadata"] = metadata }
            try EventWriter(db: db, nowMs: nowMs).task(EventType.heartbeat, taskID: proof.taskID, lane: claim.lane, runID: claim.runID,
                                                       hermesPayload: note.map { ["note": .string($0)] }, data: .object(data))
            return expiresMs
        }
    }

    public func endClaim(_ proof: ClaimProof, _ ending: ClaimEnding, nowMs: Int64) throws -> TaskRecord {
        try write { db in
            let claim = try Self.authorize(db, proof, nowMs: nowMs)
            let events = EventWriter(db: db, nowMs: nowMs)
            let lock = ClaimLock.make(lane: claim.lane, runID: claim.runID)
            let now = nowMs / 1000
            switch ending {
            case .complete(let result, let summary, let metadata):
                try Self.casTask(db, proof.taskID, lock: lock, sql: """
                    UPDATE tasks SET status = 'done', result = ?, completed_at = ?, claim_lock = NULL, claim_expires = NULL,
                      worker_pid = NULL, block_kind = NULL, block_recurrences = 0, consecutive_failures = 0,
                      last_failure_error = NULL, current_run_id = NULL
                    """, [result, now])
                let runSummary = summary ?? result
                try Self.closeRun(db, claim.runID, status: "done", outcome: "completed", summary: runSummary,
                                  metadata: metadata, nowMs: nowMs, reason: "completed")
                let firstLine = runSummary.map { String($0.split(separator: "\n", omittingEmptySubsequences: false).first ?? "").prefix(400) }
                let payload: JSONValue = ["result_len": .int(Int64(result?.unicodeScalars.count ?? 0)), "summary": .of(firstLine.map(String.init))]
                try events.task(EventType.completed, taskID: proof.taskID, lane: claim.lane, runID: claim.runID,
                                hermesPayload: payload, data: payload)
                try Self.promoteChildren(db, of: proof.taskID, events: events)
            case .block(let reason, let kind):
                let prev = try Row.fetchOne(db.cachedStatement(sql: "SELECT block_kind, block_recurrences FROM tasks WHERE id = ?"), arguments: [proof.taskID])
                let prevKind: String? = prev?["block_kind"]
                let recurrences = (prevKind != nil && prevKind == kind) ? ((prev?["block_recurrences"] as Int?) ?? 0) + 1 : 1
                try Self.casTask(db, proof.taskID, lock: lock, sql: """
                    UPDATE tasks SET status = 'blocked', claim_lock = NULL, claim_expires = NULL, worker_pid = NULL,
                      block_kind = ?, block_recurrences = ?, current_run_id = NULL
                    """, [kind, recurrences])
                // The reason is why the run stopped, not what it produced: Hermes shows `error` as such.
                try Self.closeRun(db, claim.runID, status: "blocked", outcome: "blocked", summary: nil,
                                  metadata: nil, nowMs: nowMs, reason: "blocked", error: reason)
                // The `blocked` event is load-bearing: without it Hermes' recompute_ready unblocks the task.
                let payload: JSONValue = ["reason": .of(reason), "kind": .of(kind), "recurrences": .int(Int64(recurrences))]
                try events.task(EventType.blocked, taskID: proof.taskID, lane: claim.lane, runID: claim.runID,
                                hermesPayload: payload, data: payload)
            case .release(let reason):
                try Self.casTask(db, proof.taskID, lock: lock, sql: """
                    UPDATE tasks SET status = 'ready', claim_lock = NULL, claim_expires = NULL, worker_pid = NULL,
                      current_run_id = NULL
                    """, [])
                try Self.closeRun(db, claim.runID, status: "released", outcome: "released", summary: nil,
                                  metadata: nil, nowMs: nowMs, reason: "released", error: "released: \(reason ?? "by the lane")")
                let payload: JSONValue = ["reason": .of(reason), "prev_lock": .string(lock)]
                try events.task(EventType.released, taskID: proof.taskID, lane: claim.lane, runID: claim.runID,
                                hermesPayload: payload, data: payload)
                try Self.noteRequeued(db, proof.taskID, runID: claim.runID, why: EventType.released, events: events)
                try Self.announceIfClaimable(db, proof.taskID, events: events)
            }
            return try Self.fetchTask(db, proof.taskID)!
        }
    }

    public func expireLeases(nowMs: Int64, retry: RetryPolicy) throws -> Int {
        try write { db in
            let expired = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT run_id, task_id, lane FROM bridge_claims WHERE ended_at_ms IS NULL AND lease_expires_ms <= ?
                ORDER BY lease_expires_ms
                """), arguments: [nowMs])
            let events = EventWriter(db: db, nowMs: nowMs)
            for row in expired {
                _ = try Self.failLiveClaim(db, runID: row["run_id"], outcome: EventType.timedOut, error: "lease expired",
                                       payload: ["reason": "lease expired"], retry: retry, events: events)
            }
            return expired.count
        }
    }

    public func failClaim(runID: Int64, outcome: String, error: String, payload: JSONValue, retry: RetryPolicy, nowMs: Int64) throws -> Bool {
        try write { db in
            try Self.failLiveClaim(db, runID: runID, outcome: outcome, error: error, payload: payload, retry: retry,
                                   events: EventWriter(db: db, nowMs: nowMs))
        }
    }

    public func noteSpawned(taskID: String, runID: Int64, lane: String, pid: Int32, workspace: String?, nowMs: Int64) throws {
        try write { db in
            if let workspace {
                // Hermes' words for what the lane made: `scratch` (removed once done), `dir` (a scratch
                // directory the lane keeps), `worktree` (on branch kanban/<task>, kept for review).
                let policy = try Row.fetchOne(db.cachedStatement(sql: "SELECT workspace_policy, keep_workspaces FROM bridge_lanes WHERE name = ?"),
                                              arguments: [lane])
                let kind: String, branch: String?
                switch (policy?["workspace_policy"] as String?).flatMap(WorkspacePolicy.init(rawValue:)) {
                case .worktreePerTask: kind = "worktree"; branch = "kanban/\(taskID)"
                case .scratch where (policy?["keep_workspaces"] as Bool?) == true: kind = "dir"; branch = nil
                default: kind = "scratch"; branch = nil
                }
                try db.cachedStatement(sql: """
                    UPDATE tasks SET workspace_kind = ?, workspace_path = ?, branch_name = COALESCE(?, branch_name) WHERE id = ?
                    """).execute(arguments: [kind, workspace, branch, taskID])
            }
            // Hermes shows the worker as it shows its own: alive while the pid lives (the dashboard's
            // active workers, run inspection). It never signals it or declares it crashed: Hermes does
            // that only to workers whose claim lock names its own host, and a bridge lock
            // (`lane:<lane>:<run>`) never does. Every end of the claim clears the task's `worker_pid`.
            try db.cachedStatement(sql: "UPDATE tasks SET worker_pid = ? WHERE id = ? AND current_run_id = ? AND status = 'running'")
                .execute(arguments: [pid, taskID, runID])
            try db.cachedStatement(sql: "UPDATE task_runs SET worker_pid = ? WHERE id = ? AND ended_at IS NULL").execute(arguments: [pid, runID])
            let payload: JSONValue = ["pid": .int(Int64(pid)), "workspace": .of(workspace)]
            try EventWriter(db: db, nowMs: nowMs).task("spawned", taskID: taskID, lane: lane, runID: runID, hermesPayload: payload, data: payload)
        }
    }

    /// Keeps Hermes' liveness field fresh on every live bridge claim (lease not expired, task still
    /// carrying the claim's lock) whose `last_heartbeat_at` is older than `staleAfterS` seconds, on
    /// the task and its run. Hermes' gateway (`detect_stale_running`) reclaims a run older than its
    /// stale timeout whose heartbeat is NULL or over an hour old, whatever the lease says; a lane may
    /// hold a long lease and heartbeat rarely. No event: this is not a lane heartbeat, and
    /// `claim_expires` is left alone (it stays the lease's real end, which Hermes' `release_stale_claims`
    /// honours). Returns how many tasks were refreshed.
    public func refreshLiveness(nowMs: Int64, staleAfterS: Int64) throws -> Int {
        try write { db in
            let now = nowMs / 1000
            // The live claims: open in our table, lease running, and the task still theirs.
            let live = """
                SELECT c.run_id FROM bridge_claims c JOIN tasks t ON t.id = c.task_id
                WHERE c.ended_at_ms IS NULL AND c.lease_expires_ms > ? AND t.status = 'running'
                  AND t.current_run_id = c.run_id AND t.claim_lock = 'lane:' || c.lane || ':' || c.run_id
                """
            try db.cachedStatement(sql: """
                UPDATE task_runs SET last_heartbeat_at = ?
                WHERE id IN (\(live)) AND ended_at IS NULL AND (last_heartbeat_at IS NULL OR last_heartbeat_at < ?)
                """).execute(arguments: [now, nowMs, now - staleAfterS])
            try db.cachedStatement(sql: """
                UPDATE tasks SET last_heartbeat_at = ?
                WHERE current_run_id IN (\(live)) AND (last_heartbeat_at IS NULL OR last_heartbeat_at < ?)
                """).execute(arguments: [now, nowMs, now - staleAfterS])
            return db.changesCount
        }
    }

    public func isClaimLive(runID: Int64) throws -> Bool {
        try read { db in
            try Bool.fetchOne(db.cachedStatement(sql: """
                SELECT 1 FROM bridge_claims c JOIN tasks t ON t.id = c.task_id
                WHERE c.run_id = ? AND c.ended_at_ms IS NULL AND t.status = 'running' AND t.current_run_id = c.run_id
                """), arguments: [runID]) == true
        }
    }

    /// Ends a live claim without success: the run closes with `outcome` (`timed_out`, `crashed`,
    /// `spawn_failed`), an event of that type is written, and the failure counts against the task.
    /// False when the claim had already ended (or Hermes took the task back: then only our record goes).
    static func failLiveClaim(_ db: Database, runID: Int64, outcome: String, error: String, payload: JSONValue,
                              retry: RetryPolicy, events: EventWriter) throws -> Bool {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT task_id, lane FROM bridge_claims WHERE run_id = ? AND ended_at_ms IS NULL"),
                                         arguments: [runID]) else { return false }
        let taskID: String = row["task_id"], lane: String = row["lane"]
        let lock = ClaimLock.make(lane: lane, runID: runID)
        let stillOurs = try Bool.fetchOne(db.cachedStatement(sql: """
            SELECT 1 FROM tasks WHERE id = ? AND status = 'running' AND claim_lock = ? AND current_run_id = ?
            """), arguments: [taskID, lock, runID]) == true
        guard stillOurs else {
            try db.cachedStatement(sql: "UPDATE bridge_claims SET ended_at_ms = ?, end_reason = 'lost' WHERE run_id = ?").execute(
                           arguments: [events.nowMs, runID])
            return false
        }
        try closeRun(db, runID, status: outcome, outcome: outcome, summary: nil, metadata: nil,
                     nowMs: events.nowMs, reason: outcome, error: error)
        var data = payload.objectValue ?? [:]
        data["lock"] = .string(lock)
        try events.task(outcome, taskID: taskID, lane: lane, runID: runID, hermesPayload: .object(data), data: .object(data))
        try recordFailure(db, taskID: taskID, runID: runID, lock: lock, error: error, outcome: outcome, retry: retry, events: events)
        return true
    }

    public func endBackoffs(nowMs: Int64) throws -> Int {
        try write { db in
            let due = try String.fetchAll(db.cachedStatement(sql: "SELECT task_id FROM bridge_backoff WHERE not_before_ms <= ? ORDER BY not_before_ms"),
                                          arguments: [nowMs])
            try db.cachedStatement(sql: "DELETE FROM bridge_backoff WHERE not_before_ms <= ?").execute(arguments: [nowMs])
            let events = EventWriter(db: db, nowMs: nowMs)
            for task in due {
                // Ready since the failure, but claimable only now: that is when Hermes should date it.
                if try Self.status(db, task) == .ready, let run = try Int64.fetchOne(db.cachedStatement(sql: """
                    SELECT MAX(run_id) FROM bridge_claims WHERE task_id = ?
                    """), arguments: [task]) {
                    try Self.noteRequeued(db, task, runID: run, why: "backoff_over", events: events)
                }
                try Self.announceIfClaimable(db, task, events: events)
            }
            return due.count
        }
    }

    public func nextTimerDue() throws -> Int64? {
        try read { db in
            try Int64.fetchOne(db.cachedStatement(sql: """
                SELECT MIN(due) FROM (
                  SELECT MIN(lease_expires_ms) AS due FROM bridge_claims WHERE ended_at_ms IS NULL
                  UNION ALL SELECT MIN(not_before_ms) FROM bridge_backoff)
                """))
        }
    }

    /// Counts a failed run against the task and applies the retry policy (Hermes' circuit breaker):
    /// back to `ready` (maybe after a backoff), or `blocked` with a `gave_up` event.
    static func recordFailure(_ db: Database, taskID: String, runID: Int64, lock: String, error: String, outcome: String,
                              retry: RetryPolicy, events: EventWriter) throws {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT consecutive_failures, max_retries, assignee FROM tasks WHERE id = ?"),
                                         arguments: [taskID]) else { return }
        let failures = (row["consecutive_failures"] as Int? ?? 0) + 1
        let lane: String? = row["assignee"]
        switch retry.decide(failures: failures, taskMaxRetries: row["max_retries"], nowMs: events.nowMs) {
        case .retry(let notBefore):
            try casTask(db, taskID, lock: lock, sql: """
                UPDATE tasks SET status = 'ready', claim_lock = NULL, claim_expires = NULL, worker_pid = NULL,
                  current_run_id = NULL, consecutive_failures = ?, last_failure_error = ?
                """, [failures, error])
            if notBefore > events.nowMs {
                try db.cachedStatement(sql: "INSERT OR REPLACE INTO bridge_backoff (task_id, not_before_ms) VALUES (?, ?)").execute(
                               arguments: [taskID, notBefore])
            } else {
                try noteRequeued(db, taskID, runID: runID, why: outcome, events: events)
                try announceIfClaimable(db, taskID, events: events)
            }
        case .giveUp(let limit, let source):
            // The limit is pinned on the task so Hermes' recompute_ready, which applies its own default
            // to tasks without one, leaves the given-up task blocked too.
            try casTask(db, taskID, lock: lock, sql: """
                UPDATE tasks SET status = 'blocked', claim_lock = NULL, claim_expires = NULL, worker_pid = NULL,
                  current_run_id = NULL, consecutive_failures = ?, last_failure_error = ?, max_retries = COALESCE(max_retries, ?)
                """, [failures, error, limit])
            let payload: JSONValue = ["failures": .int(Int64(failures)), "effective_limit": .int(Int64(limit)),
                                      "limit_source": .string(source), "error": .string(error), "trigger_outcome": .string(outcome)]
            try events.task(EventType.gaveUp, taskID: taskID, lane: lane, hermesPayload: payload, data: payload)
        }
    }

    // MARK: Steps

    struct LiveClaim {
        var runID: Int64
        var lane: String
        var leaseMs: Int64
    }

    /// Claim-scoped authority, evaluated inside the write transaction (see `ClaimAuthority`).
    static func authorize(_ db: Database, _ proof: ClaimProof, nowMs: Int64) throws -> LiveClaim {
        let claim = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT run_id, task_id, lane, lease_ms, lease_expires_ms, ended_at_ms FROM bridge_claims WHERE token_hash = ?
            """), arguments: [proof.tokenHash])
        let task = try Row.fetchOne(db.cachedStatement(sql: "SELECT status, current_run_id, claim_lock FROM tasks WHERE id = ?"),
                                    arguments: [proof.taskID])
        let facts = ClaimFacts(
            claimTaskID: claim?["task_id"], claimLane: claim?["lane"], claimRunID: claim?["run_id"],
            claimEnded: (claim?["ended_at_ms"] as Int64?) != nil, leaseExpiresAtMs: claim?["lease_expires_ms"],
            taskExists: task != nil, taskStatus: (task?["status"] as String?).flatMap(TaskStatus.init(rawValue:)),
            taskCurrentRunID: task?["current_run_id"], taskClaimLock: task?["claim_lock"])
        if let denial = ClaimAuthority.check(principal: proof.principal, taskID: proof.taskID, facts: facts, nowMs: nowMs) {
            if case .notFound = denial { throw BoardError.notFound("no task '\(proof.taskID)'") }
            throw BoardError.denied(denial)
        }
        return LiveClaim(runID: claim!["run_id"], lane: claim!["lane"], leaseMs: claim!["lease_ms"])
    }

    /// Compare-and-set on status and lock; zero rows changed means the claim was lost mid-flight.
    static func casTask(_ db: Database, _ id: String, lock: String, sql: String, _ args: StatementArguments) throws {
        try db.cachedStatement(sql: sql + " WHERE id = ? AND status = 'running' AND claim_lock = ?").execute(arguments: args + [id, lock])
        guard db.changesCount == 1 else { throw BoardError.denied(.staleClaim("the task changed under this claim")) }
    }

    static func closeRun(_ db: Database, _ runID: Int64, status: String, outcome: String, summary: String?,
                         metadata: JSONValue?, nowMs: Int64, reason: String, error: String? = nil) throws {
        try db.cachedStatement(sql: """
            UPDATE task_runs SET status = ?, outcome = ?, summary = ?, error = ?, metadata = ?, ended_at = ?,
              claim_lock = NULL, claim_expires = NULL, worker_pid = NULL
            WHERE id = ? AND ended_at IS NULL
            """).execute(arguments: [status, outcome, summary, error, metadata.flatMap(JSONText.encode), nowMs / 1000, runID])
        try db.cachedStatement(sql: "UPDATE bridge_claims SET ended_at_ms = ?, end_reason = ? WHERE run_id = ?").execute(
                       arguments: [nowMs, reason, runID])
    }

    /// A named claim: the task must exist, belong to the lane (or to nobody: it is then assigned to
    /// the claimer in the same transaction), and be ready with its parents finished. Returns false
    /// when the task had to be put back to `todo` to wait for its parents.
    static func checkNamedClaim(_ db: Database, taskID: String, lane: String, events: EventWriter) throws -> Bool {
        guard let task = try fetchTask(db, taskID) else { throw BoardError.notFound("no task '\(taskID)'") }
        if let assignee = task.assignee, assignee != lane {
            throw BoardError.notAssigned("task \(taskID) is assigned to '\(assignee)', not to lane '\(lane)'")
        }
        guard task.status == .ready, task.claimLock == nil else {
            throw BoardError.notReady("task \(taskID) is \(task.status.rawValue), not ready")
        }
        if try isBackingOff(db, taskID, nowMs: events.nowMs) {
            throw BoardError.notReady("task \(taskID) failed recently and waits out its retry backoff")
        }
        if try demoteIfWaiting(db, taskID, lane: task.assignee, events: events) { return false }
        if task.assignee == nil {
            try db.cachedStatement(sql: "UPDATE tasks SET assignee = ? WHERE id = ?").execute(arguments: [lane, taskID])
            try events.task(EventType.assigned, taskID: taskID, lane: lane, hermesPayload: ["assignee": .string(lane)],
                            data: ["assignee": .string(lane), "previous": .null])
        }
        return true
    }

    /// The lane's best claimable task: highest priority, then oldest (created_at, then insertion order
    /// within the same second). Ready tasks whose parents are
    /// not finished (Hermes can leave them so) are put back to `todo` on the way, as Hermes' claim does.
    static func bestClaimable(_ db: Database, lane: String, events: EventWriter) throws -> String? {
        while true {
            let candidates = try String.fetchAll(db.cachedStatement(sql: """
                SELECT id FROM tasks WHERE assignee = ? AND status = 'ready' AND claim_lock IS NULL
                  AND NOT EXISTS (SELECT 1 FROM bridge_backoff b WHERE b.task_id = tasks.id AND b.not_before_ms > ?)
                ORDER BY priority DESC, created_at ASC, rowid ASC LIMIT 16
                """), arguments: [lane, events.nowMs])
            if candidates.isEmpty { return nil }
            for id in candidates where try !demoteIfWaiting(db, id, lane: lane, events: events) { return id }
        }
    }

    /// Demotes a ready task with unfinished parents to `todo`; true if it did.
    static func demoteIfWaiting(_ db: Database, _ id: String, lane: String?, events: EventWriter) throws -> Bool {
        let parents = try parentStatuses(db, id)
        guard !parents.allSatisfy(\.releasesChildren) else { return false }
        try db.cachedStatement(sql: "UPDATE tasks SET status = 'todo' WHERE id = ? AND status = 'ready'").execute(arguments: [id])
        try events.task(EventType.claimRejected, taskID: id, lane: lane, hermesPayload: ["reason": "parents_not_done"],
                        data: ["reason": "parents_not_done"])
        return true
    }

    /// Hermes' claim sequence (§3 of hermes-compat): run row, CAS on the task, run pointer, `claimed` event.
    static func openClaim(_ db: Database, taskID: String, intent: ClaimIntent, nowMs: Int64, events: EventWriter) throws -> ClaimedTask {
        let now = nowMs / 1000
        let expiresMs = nowMs + intent.leaseMs
        let expires = Lease.hermesSeconds(fromMs: expiresMs)
        // Defensive, as Hermes: a ready task must not still point at an open run.
        if let stale = try Int64.fetchOne(db.cachedStatement(sql: "SELECT current_run_id FROM tasks WHERE id = ?"), arguments: [taskID]) {
            try db.cachedStatement(sql: """
                UPDATE task_runs SET status = 'reclaimed', outcome = 'reclaimed', ended_at = ?, claim_lock = NULL, claim_expires = NULL
                WHERE id = ? AND ended_at IS NULL
                """).execute(arguments: [now, stale])
        }
        try db.cachedStatement(sql: """
            INSERT INTO task_runs (task_id, profile, step_key, status, started_at, last_heartbeat_at)
            SELECT id, ?, current_step_key, 'running', ?, ? FROM tasks WHERE id = ?
            """).execute(arguments: [Self.runProfile(intent.lane), now, now, taskID])
        let runID = db.lastInsertedRowID
        let lock = ClaimLock.make(lane: intent.lane.name, runID: runID)
        try db.cachedStatement(sql: """
            UPDATE tasks SET status = 'running', claim_lock = ?, claim_expires = ?, started_at = COALESCE(started_at, ?),
              worker_pid = NULL, last_heartbeat_at = ?, current_run_id = ?
            WHERE id = ? AND status = 'ready' AND claim_lock IS NULL
            """).execute(arguments: [lock, expires, now, now, runID, taskID])
        guard db.changesCount == 1 else { throw BoardError.conflict("task \(taskID) was claimed by someone else") }
        try db.cachedStatement(sql: "UPDATE task_runs SET claim_lock = ?, claim_expires = ? WHERE id = ?").execute(arguments: [lock, expires, runID])
        try db.cachedStatement(sql: """
            INSERT INTO bridge_claims (run_id, task_id, lane, token_hash, lease_ms, lease_expires_ms, claimed_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [runID, taskID, intent.lane.name, intent.tokenHash, intent.leaseMs, expiresMs, nowMs])
        try events.task(EventType.claimed, taskID: taskID, lane: intent.lane.name, runID: runID,
                        hermesPayload: ["lock": .string(lock), "expires": .int(expires), "run_id": .int(runID)],
                        data: ["lock": .string(lock), "lease_expires_at_ms": .int(expiresMs)])
        return ClaimedTask(task: try fetchTask(db, taskID)!, runID: runID, leaseExpiresAtMs: expiresMs)
    }

    /// Who runs the claim, as Hermes' `task_runs.profile` (shown as `@…` in `runs`, `show` and the
    /// dashboard): the Hermes profile a spawned lane runs, else the lane itself.
    static func runProfile(_ lane: Lane) -> String { lane.profile ?? lane.name }

    /// After a parent finishes: children whose parents are now all done/archived go `todo` → `ready`
    /// (Hermes' `promoted` event), and each becomes `available` to its lane.
    static func promoteChildren(_ db: Database, of parent: String, events: EventWriter) throws {
        let children = try String.fetchAll(db.cachedStatement(sql: """
            SELECT t.id FROM task_links l JOIN tasks t ON t.id = l.child_id WHERE l.parent_id = ? AND t.status = 'todo'
            ORDER BY t.id
            """), arguments: [parent])
        for child in children where try parentStatuses(db, child).allSatisfy(\.releasesChildren) {
            try db.cachedStatement(sql: "UPDATE tasks SET status = 'ready' WHERE id = ? AND status = 'todo'").execute(arguments: [child])
            let assignee = try String.fetchOne(db.cachedStatement(sql: "SELECT assignee FROM tasks WHERE id = ?"), arguments: [child])
            try events.task(EventType.promoted, taskID: child, lane: assignee)
            try announceIfClaimable(db, child, events: events)
        }
    }

    /// Tells Hermes that a task the bridge put back is ready again from now: a `promoted` row (the
    /// kind Hermes' own recompute_ready writes on the way to `ready`), which Hermes' `stranded_in_ready`
    /// diagnostic and its dispatcher's respawn guard read by kind and date only. It carries the ended
    /// run's id (Hermes' own have none) and `{"requeued": why}`, and is not published: our subscribers
    /// already get `released`/`timed_out`/`crashed`/`spawn_failed` and `available` (see
    /// `importExternalEvents`, which skips these rows).
    static func noteRequeued(_ db: Database, _ taskID: String, runID: Int64, why: String, events: EventWriter) throws {
        try events.hermesOnly(EventType.promoted, taskID: taskID, runID: runID, payload: ["requeued": .string(why)])
    }

    /// True while a failed task waits out its retry backoff.
    static func isBackingOff(_ db: Database, _ id: String, nowMs: Int64) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM bridge_backoff WHERE task_id = ? AND not_before_ms > ?"), arguments: [id, nowMs]) == true
    }

    /// Publishes `<lane>.available` when the task is claimable by its assignee now, unless the lane
    /// is a `pull` lane (those ask; only watch and pull-or-watch lanes are told). Tasks of names that
    /// are not registered lanes are announced too, so dashboards can see work nobody is taking.
    static func announceIfClaimable(_ db: Database, _ id: String, events: EventWriter) throws {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT assignee, status, claim_lock, priority FROM tasks WHERE id = ?"), arguments: [id]),
              let lane: String = row["assignee"],
              Readiness.isClaimable(status: TaskStatus(rawValue: row["status"]) ?? .triage, claimLock: row["claim_lock"],
                                    parentStatuses: try parentStatuses(db, id)),
              try !isBackingOff(db, id, nowMs: events.nowMs) else { return }
        let mode = try String.fetchOne(db.cachedStatement(sql: "SELECT claim_mode FROM bridge_lanes WHERE name = ?"), arguments: [lane])
        if mode.flatMap(ClaimMode.init(rawValue:))?.announcesWork == false { return }
        try events.published(EventType.available, taskID: id, lane: lane, data: ["priority": .int(row["priority"] ?? 0)])
    }
}
