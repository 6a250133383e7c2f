import KanbanModel

/// The task commands, for any store: load a snapshot, let `TaskLifecycle` decide, apply its effects.
/// No SQL and no rules here; a second backend inherits all of it by implementing `LifecycleStore`.
///
/// What a thrown error leaves (the contract callers that catch rely on, e.g. `complete` with
/// `claim_next` and the dispatcher's claims, which go on in the same transaction):
/// - a `BoardError` is a refusal. It is decided before the command writes anything, or after whole
///   steps that stand on their own: `claim` writes each demotion in a savepoint of its own, and
///   decides each attempt to open a claim in the run row's insert, before anything of it is written
///   (`openRun`), so a step that fails half-way is undone whole or never begun before the refusal.
/// - any other error (the storage failed, or `BoardFault`: the board contradicted itself after a
///   write began) may leave part of a write behind: the caller's savepoint or transaction must undo
///   it (the coordinator gives each request one, `atomically`).
/// Other commands open no savepoint: each checks before it writes, and its one compare-and-set comes
/// first (`apply` writes the task row before anything else), so a refusal has nothing to undo.
extension LifecycleStore {
    /// Claims one task for the lane; nil when the lane has nothing claimable. A refusal found after
    /// Hermes-style bookkeeping (demoting a ready task whose parents are not done) is thrown only
    /// after that bookkeeping is written, as in Hermes.
    public func claim(_ intent: ClaimIntent, nowMs: Int64) throws -> ClaimedTask? {
        // The lifecycle's refusal comes back as a value so that the transaction commits what was
        // written before it (the demotions); a failed write throws and undoes everything.
        let outcome: Result<ClaimedTask?, BoardError> = try inTransaction { try claimOrRefuse(intent, nowMs: nowMs) }
        return try outcome.get()
    }

    private func claimOrRefuse(_ intent: ClaimIntent, nowMs: Int64) throws -> Result<ClaimedTask?, BoardError> {
        let lane = intent.lane
        let live = try liveClaimCount(lane: lane.name)
        do { try TaskLifecycle.admitClaim(lane: lane, named: intent.taskID != nil, liveClaims: live) } catch { return .failure(error) }
        while true {
            let snapshot: TaskSnapshot?
            if let id = intent.taskID {
                snapshot = try taskSnapshot(id: id, nowMs: nowMs)
            } else {
                guard let best = try nextCandidate(lane: lane.name, nowMs: nowMs) else { return .success(nil) }
                snapshot = best
            }
            let decision: TaskLifecycle.ClaimDecision
            do {
                decision = try TaskLifecycle.claim(snapshot?.state, taskID: intent.taskID ?? "", lane: lane, named: intent.taskID != nil,
                                                   leaseMs: intent.leaseMs, nowMs: nowMs, pinMaxRetries: intent.pinMaxRetries)
            } catch { return .failure(error) }
            switch decision {
            case .demote(let effects):
                // Whole or not at all: a caller that catches a later refusal commits what came before.
                // (A savepoint only on this rare path: the claims of the hot path never demote.)
                try atomically { try perform(effects, nowMs: nowMs) }
                if let id = intent.taskID { return .failure(.notReady("task \(id) waits for unfinished parents")) }
            case .open(let plan):
                // The run row first, as Hermes does. Its insert checks that the task is still claimable,
                // so the refusal is decided before anything is written, and no savepoint is needed
                // (which would cost the hot path two statements per claim).
                guard let runID = try openRun(plan) else {
                    // The candidate was read in this very transaction, on the only writer: nobody took it
                    // in between. The board contradicts itself about this task (issue #19, finding 3; the
                    // store counted it). A named claim is refused; the lane's best is stepped over so the
                    // lane's other tasks flow, instead of refusing every claim of the lane.
                    if intent.taskID != nil {
                        return .failure(.conflict("task \(plan.task.id) is not claimable by its id; the board disagrees with itself"))
                    }
                    quarantine(taskID: plan.task.id)
                    continue
                }
                let effects = plan.effects(runID: runID)
                do {
                    try perform(effects, claimTokenHash: intent.tokenHash, nowMs: nowMs)
                } catch let refusal as BoardError {
                    // The compare-and-set checks what the run's insert just checked, on the same row: it
                    // cannot refuse unless SQLite contradicts itself within one transaction. A refusal
                    // now would leave the run row behind, so it is a fault, which callers do not catch.
                    throw BoardFault("a claim of task \(plan.task.id) was refused after its run row was written: \(refusal)")
                }
                return .success(ClaimedTask(task: snapshot!.record.applying(effects.task), runID: runID, leaseExpiresAtMs: plan.leaseExpiresAtMs))
            }
        }
    }

    /// Extends the lease of a live claim; returns the new expiry.
    public func heartbeat(_ proof: ClaimProof, note: String?, metadata: JSONValue?, nowMs: Int64) throws -> Int64 {
        try inTransaction {
            let (claim, _) = try authorized(proof, nowMs: nowMs)
            try perform(TaskLifecycle.heartbeat(claim, note: note, metadata: metadata, nowMs: nowMs), nowMs: nowMs)
            return nowMs + claim.leaseMs
        }
    }

    /// Ends a live claim by completing, blocking or releasing its task; returns the task after.
    public func endClaim(_ proof: ClaimProof, _ ending: ClaimEnding, nowMs: Int64) throws -> TaskRecord {
        try inTransaction {
            let (claim, task) = try authorized(proof, nowMs: nowMs)
            let effects: LifecycleEffects
            switch ending {
            case .complete(let result, let summary, let metadata):
                effects = TaskLifecycle.complete(claim, result: result, summary: summary, metadata: metadata, nowMs: nowMs)
            case .block(let reason, let kind):
                effects = TaskLifecycle.block(claim, task: task.state, reason: reason, kind: kind)
            case .release(let reason, let retryAfterMs):
                effects = TaskLifecycle.release(claim, reason: reason, retryAfterMs: retryAfterMs, nowMs: nowMs)
            case .fail(let outcome, let error, let payload, let retry):
                effects = TaskLifecycle.fail(claim, task: task.state, outcome: outcome, error: error, payload: payload,
                                             retry: retry, nowMs: nowMs)
            }
            try perform(effects, nowMs: nowMs)
            return task.record.applying(effects.task)
        }
    }

    /// Ends every claim whose stored lease ran out by `nowMs` (wall-clock) as `timed_out`; see
    /// `expireLeases(runIDs:)`. The coordinator decides on monotonic time instead (`LeaseDeadlines`).
    public func expireLeases(nowMs: Int64, retry: RetryPolicy) throws -> Int {
        try inTransaction { try expire(try expiredClaims(nowMs: nowMs), retry: retry, nowMs: nowMs) }
    }

    /// Ends the open claims of these runs as `timed_out`, counting a failure: the task is retried
    /// (after any backoff) or given up per `retry`. A run whose claim already ended is skipped.
    /// Returns how many claims ended.
    public func expireLeases(runIDs: [Int64], retry: RetryPolicy, nowMs: Int64) throws -> Int {
        try inTransaction { try expire(try runIDs.compactMap { try openClaim(runID: $0) }, retry: retry, nowMs: nowMs) }
    }

    private func expire(_ claims: [ClaimState], retry: RetryPolicy, nowMs: Int64) throws -> Int {
        for claim in claims {
            try fail(claim, outcome: .timedOut, error: "lease expired", payload: ["reason": "lease expired"], retry: retry, nowMs: nowMs)
        }
        return claims.count
    }

    /// Ends a live claim without success (`crashed`, `timed_out`, `spawn_failed`) with `payload` as the
    /// event's data, counting a failure. False if the claim had already ended (or Hermes took the task).
    public func failClaim(runID: Int64, outcome: RunOutcome, error: String, payload: JSONValue, retry: RetryPolicy,
                          nowMs: Int64) throws -> Bool {
        try inTransaction {
            guard let claim = try openClaim(runID: runID) else { return false }
            return try fail(claim, outcome: outcome, error: error, payload: payload, retry: retry, nowMs: nowMs)
        }
    }

    @discardableResult
    private func fail(_ claim: ClaimState, outcome: RunOutcome, error: String, payload: JSONValue, retry: RetryPolicy,
                      nowMs: Int64) throws -> Bool {
        let task = try taskSnapshot(id: claim.taskID, nowMs: nowMs)
        let effects = TaskLifecycle.fail(claim, task: task?.state, outcome: outcome, error: error, payload: payload,
                                         retry: retry, nowMs: nowMs)
        try perform(effects, nowMs: nowMs)
        return effects.task != nil
    }

    /// Takes a running task back (from a lane or from a Hermes worker): run `reclaimed`, task `ready`.
    public func reclaimTask(id: String, reason: String?, nowMs: Int64) throws -> TaskRecord {
        try command(id, nowMs: nowMs) { try TaskLifecycle.reclaim($0?.state, taskID: id, reason: reason) }
    }

    /// Puts a blocked or scheduled task back: `ready`, or `todo` while a parent is unfinished.
    public func unblockTask(id: String, nowMs: Int64) throws -> TaskRecord {
        try command(id, nowMs: nowMs) { try TaskLifecycle.unblock($0?.state, taskID: id) }
    }

    public func assignTask(id: String, assignee: String?, nowMs: Int64) throws -> TaskRecord {
        try command(id, nowMs: nowMs) { try TaskLifecycle.assign($0?.state, taskID: id, to: assignee) }
    }

    public func linkTasks(parent: String, child: String, nowMs: Int64) throws -> TaskRecord {
        try inTransaction {
            // Lean snapshots and an indexed cycle check: a link costs the same at 10,000 parents as at 10
            // (issue #19, finding 7). The reply lists the first `TaskRecord.replyLinkCap` links.
            let parentStatus = try leanSnapshot(id: parent, nowMs: nowMs)?.state.status
            let snapshot = parentStatus == nil ? nil : try leanSnapshot(id: child, nowMs: nowMs)
            let cycle = snapshot != nil && parent != child ? try closesCycle(parent: parent, child: child) : false
            let effects = try TaskLifecycle.link(parent: parent, parentStatus: parentStatus, child: snapshot?.state, childID: child, closesCycle: cycle)
            try perform(effects, nowMs: nowMs)
            var record = snapshot!.record.applying(effects.task)
            if !record.parents.contains(parent) {
                if record.parents.count < TaskRecord.replyLinkCap { record.parents = (record.parents + [parent]).sorted() } else { record.linksTruncated = true }
            }
            return record
        }
    }

    /// Makes tasks whose retry backoff is over claimable again (announcing them); returns how many.
    public func endBackoffs(nowMs: Int64) throws -> Int {
        try inTransaction {
            let due = try takeDueBackoffs(nowMs: nowMs)
            for (taskID, lastRun) in due {
                guard let task = try taskSnapshot(id: taskID, nowMs: nowMs) else { continue }
                try perform(TaskLifecycle.backoffOver(task.state, lastRunID: lastRun), nowMs: nowMs)
            }
            return due.count
        }
    }

    // MARK: Steps

    /// A command on one task that needs only its snapshot; the task as it is after.
    private func command(_ id: String, nowMs: Int64,
                         _ decide: (TaskSnapshot?) throws -> LifecycleEffects) throws -> TaskRecord {
        try inTransaction {
            let snapshot = try taskSnapshot(id: id, nowMs: nowMs)
            let effects = try decide(snapshot)
            try perform(effects, nowMs: nowMs)
            return snapshot!.record.applying(effects.task)
        }
    }

    /// Claim-scoped authority on a fresh snapshot: the live claim and its task.
    private func authorized(_ proof: ClaimProof, nowMs: Int64) throws -> (ClaimState, TaskSnapshot) {
        let claim = try claimState(tokenHash: proof.tokenHash)
        let task = try taskSnapshot(id: proof.taskID, nowMs: nowMs)
        return (try TaskLifecycle.authorize(proof.principal, taskID: proof.taskID, task: task?.state, claim: claim), task!)
    }

    /// Writes the effects, then what they leave to do (children to promote, work to announce), each
    /// decided by the lifecycle on its own snapshot.
    func perform(_ effects: LifecycleEffects, claimTokenHash: String? = nil, nowMs: Int64) throws {
        try apply(effects, claimTokenHash: claimTokenHash, nowMs: nowMs)
        for followUp in effects.followUps {
            switch followUp {
            case .promoteChildren(let parent):
                try promoteChildren(of: parent, after: nil, nowMs: nowMs)
            case .announce(let taskID):
                try announce(taskID, nowMs: nowMs)
            case .announceKnown(let state):
                try announce(state, nowMs: nowMs)
            case .backOff, .clearBackoff:
                break  // rows of the store's own, written by `apply`
            }
        }
    }

    /// One batch of `parent`'s children, from after `after`: each promoted if its parents are all
    /// finished now; what is left is queued for the next turn. A child that frees costs one indexed
    /// probe for an unfinished parent, however many parents it has.
    private func promoteChildren(of parent: String, after: String?, nowMs: Int64) throws {
        let page = try waitingChildren(of: parent, after: after, limit: Readiness.promotionBatch)
        for child in page.waiting { try promoteIfFree(child, nowMs: nowMs) }
        if page.more, let last = page.last { queuePromotion(.children(of: parent, after: last)) }
    }

    private func promoteIfFree(_ child: String, nowMs: Int64) throws {
        guard let snapshot = try leanSnapshot(id: child, nowMs: nowMs), let promotion = TaskLifecycle.promote(snapshot.state) else { return }
        try perform(promotion, nowMs: nowMs)
    }

    /// One batch of the promotion work left by earlier writes (a large fan-out, the restart sweep), in
    /// a transaction of its own; the coordinator runs one a loop turn while `hasPendingPromotions`.
    /// Returns how many tasks it looked at.
    public func continuePromotions(nowMs: Int64) throws -> Int {
        try inTransaction {
            switch takePromotion() {
            case nil:
                return 0
            case .children(let parent, let after):
                try promoteChildren(of: parent, after: after, nowMs: nowMs)
                return Readiness.promotionBatch
            case .sweep(let after):
                let page = try linkedTodoTasks(after: after, limit: Readiness.promotionBatch)
                for id in page.ids { try promoteIfFree(id, nowMs: nowMs) }
                if let last = page.last { queuePromotion(.sweep(after: last)) }
                return page.ids.count
            }
        }
    }

    /// Publishes `<lane>.available` if the task is claimable now and its lane wants to be told.
    public func announce(_ taskID: String, nowMs: Int64) throws {
        // Lean: an announcement needs readiness, not the lists (a task may have thousands of links).
        guard let task = try leanSnapshot(id: taskID, nowMs: nowMs) else { return }
        try announce(task.state, nowMs: nowMs)
    }

    private func announce(_ state: TaskState, nowMs: Int64) throws {
        guard let lane = state.assignee, let event = TaskLifecycle.announcement(state, laneMode: try claimMode(ofLane: lane)) else { return }
        try apply(LifecycleEffects(events: [event]), claimTokenHash: nil, nowMs: nowMs)
    }
}

/// The board contradicted itself after a command began writing (a check passed, and the write that
/// relied on it was refused). Not a `BoardError`: callers that catch refusals and go on must not catch
/// it, so the caller's savepoint or transaction undoes the partial write.
public struct BoardFault: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
