/// The task lifecycle: every status change the bridge makes, as pure decisions.
///
/// A store loads a snapshot of what a command touches (`TaskState`, `ClaimState`), asks the lifecycle,
/// and writes the `LifecycleEffects` it gets with compare-and-set, or reports the `BoardError`.
/// The rules follow Hermes' own (../shared/design/hermes-compat.md §3) so Hermes' CLI, dispatcher and
/// dashboard read our rows as theirs; where the bridge departs from Hermes it says so below.
///
///     todo ──promote──▶ ready ──claim──▶ running ──complete──▶ done
///       ▲   (parents     ▲  ▲               │ ├──block────────▶ blocked ──unblock──▶ ready | todo
///       │    finished)   │  └─release───────┘ ├──fail (retry)─▶ ready (after any backoff)
///       └──demote (a     │  └─reclaim───────┘ └──fail (limit)─▶ blocked (gave_up)
///          parent is not done, at claim or link)
///
/// docs/ARCHITECTURE.md draws the same machine; `LifecycleDiagramTests` checks the two agree.
public enum TaskLifecycle {
    /// Hermes' `claim_lock` for a bridge claim, Hermes' `claim_expires` (whole seconds, rounded up).
    static func lock(_ claim: ClaimState) -> String { ClaimLock.make(lane: claim.lane, runID: claim.runID) }

    /// Claim-scoped authority on the snapshot (see `ClaimAuthority`), the claim it proves on success.
    public static func authorize(_ principal: Principal, taskID: String, task: TaskState?,
                                 claim: ClaimState?) throws(BoardError) -> ClaimState {
        let facts = ClaimFacts(
            claimTaskID: claim?.taskID, claimLane: claim?.lane, claimRunID: claim?.runID, claimEnded: claim?.ended ?? false,
            taskExists: task != nil, taskStatus: task?.status,
            taskCurrentRunID: task?.currentRunID, taskClaimLock: task?.claimLock)
        if let denial = ClaimAuthority.check(principal: principal, taskID: taskID, facts: facts) {
            if case .notFound = denial { throw .notFound("no task '\(taskID)'") }
            throw .denied(denial)
        }
        return claim!
    }

    // MARK: Claim-scoped commands (the lane holding the claim, or the admin)

    /// A heartbeat: the lease runs `leaseMs` from now; Hermes' liveness fields follow.
    public static func heartbeat(_ claim: ClaimState, note: String?, metadata: JSONValue?, nowMs: Int64) -> LifecycleEffects {
        let expiresMs = nowMs + claim.leaseMs
        var data: [String: JSONValue] = ["lease_expires_at_ms": .int(expiresMs), "note": .of(note)]
        if let metadata { data["metadata"] = metadata }
        return LifecycleEffects(
            task: TaskUpdate(claim.taskID, .runningUnder(lock: lock(claim)), [
                (.claimExpires, .int(Lease.hermesSeconds(fromMs: expiresMs))), (.lastHeartbeatAt, .int(nowMs / 1000))]),
            runs: [.extend(runID: claim.runID, leaseExpiresAtMs: expiresMs)],
            events: [LifecycleEvent(.heartbeat, taskID: claim.taskID, lane: claim.lane, runID: claim.runID,
                                    hermesPayload: note.map { ["note": .string($0)] }, data: .object(data))])
    }

    /// Done: Hermes' `complete_task` (failure streak and block history reset); children may be freed.
    public static func complete(_ claim: ClaimState, result: String?, summary: String?, metadata: JSONValue?,
                                nowMs: Int64) -> LifecycleEffects {
        let runSummary = summary ?? result
        let firstLine = runSummary.map { String(String($0.split(separator: "\n", omittingEmptySubsequences: false).first ?? "").prefix(400)) }
        let payload: JSONValue = ["result_len": .int(Int64(result?.unicodeScalars.count ?? 0)), "summary": .of(firstLine)]
        return LifecycleEffects(
            task: TaskUpdate(claim.taskID, .runningUnder(lock: lock(claim)), [
                (.status, .text(TaskStatus.done.rawValue)), (.result, .of(result)), (.completedAt, .int(nowMs / 1000)),
                (.claimLock, .null), (.claimExpires, .null), (.workerPID, .null), (.blockKind, .null),
                (.blockRecurrences, .int(0)), (.consecutiveFailures, .int(0)), (.lastFailureError, .null), (.currentRunID, .null)]),
            runs: [.close(runID: claim.runID, outcome: .completed, summary: runSummary, error: nil, metadata: metadata)],
            events: [LifecycleEvent(.completed, taskID: claim.taskID, lane: claim.lane, runID: claim.runID,
                                    hermesPayload: payload, data: payload)],
            followUps: [.promoteChildren(of: claim.taskID)])
    }

    /// Blocked, waiting for a person. `recurrences` counts consecutive blocks of the same kind.
    ///
    /// Departs from Hermes on purpose: Hermes sends kind `dependency` to `todo` and a repeated kind to
    /// `triage`, which its gateway auto-decomposes (hermes-compat §7). A lane's block always means
    /// "a person must look", so the bridge always writes `blocked` and lets the person decide.
    public static func block(_ claim: ClaimState, task: TaskState, reason: String?, kind: String?) -> LifecycleEffects {
        let recurrences = (task.blockKind != nil && task.blockKind == kind) ? task.blockRecurrences + 1 : 1
        let payload: JSONValue = ["reason": .of(reason), "kind": .of(kind), "recurrences": .int(Int64(recurrences))]
        return LifecycleEffects(
            task: TaskUpdate(claim.taskID, .runningUnder(lock: lock(claim)), [
                (.status, .text(TaskStatus.blocked.rawValue)), (.claimLock, .null), (.claimExpires, .null), (.workerPID, .null),
                (.blockKind, .of(kind)), (.blockRecurrences, .int(Int64(recurrences))), (.currentRunID, .null)]),
            // The reason is why the run stopped, not what it produced: Hermes shows `error` as such.
            runs: [.close(runID: claim.runID, outcome: .blocked, summary: nil, error: reason, metadata: nil)],
            // Load-bearing: without a `blocked` row Hermes' recompute_ready puts the task back to ready.
            events: [LifecycleEvent(.blocked, taskID: claim.taskID, lane: claim.lane, runID: claim.runID,
                                    hermesPayload: payload, data: payload)])
    }

    /// Given back to the queue by the lane: ready again, announced, dated for Hermes. With
    /// `retryAfterMs` (a rate-limited worker) it waits that long first, as a failed task waits out its
    /// backoff, but no failure is counted.
    public static func release(_ claim: ClaimState, reason: String?, retryAfterMs: Int64? = nil, nowMs: Int64 = 0) -> LifecycleEffects {
        var fields: [String: JSONValue] = ["reason": .of(reason), "prev_lock": .string(lock(claim))]
        if let retryAfterMs, retryAfterMs > 0 {
            fields["retry_after_ms"] = .int(retryAfterMs)
            let payload = JSONValue.object(fields)
            return LifecycleEffects(
                task: TaskUpdate(claim.taskID, .runningUnder(lock: lock(claim)), requeued),
                runs: [.close(runID: claim.runID, outcome: .released, summary: nil, error: "released: \(reason ?? "by the lane")", metadata: nil)],
                events: [LifecycleEvent(.released, taskID: claim.taskID, lane: claim.lane, runID: claim.runID,
                                        hermesPayload: payload, data: payload)],
                followUps: [.backOff(taskID: claim.taskID, untilMs: nowMs + retryAfterMs)])
        }
        let payload = JSONValue.object(fields)
        return LifecycleEffects(
            task: TaskUpdate(claim.taskID, .runningUnder(lock: lock(claim)), requeued),
            runs: [.close(runID: claim.runID, outcome: .released, summary: nil, error: "released: \(reason ?? "by the lane")", metadata: nil)],
            events: [LifecycleEvent(.released, taskID: claim.taskID, lane: claim.lane, runID: claim.runID,
                                    hermesPayload: payload, data: payload),
                     requeuedRow(claim.taskID, runID: claim.runID, why: EventKind.released.rawValue)],
            followUps: [.announce(taskID: claim.taskID)])
    }

    /// A claim that ended without success: lease expired, worker crashed or could not start. Nil
    /// when the task no longer carries the claim (Hermes took it back): only our record of it ends.
    public static func fail(_ claim: ClaimState, task: TaskState?, outcome: RunOutcome, error: String, payload: JSONValue,
                            retry: RetryPolicy, nowMs: Int64) -> LifecycleEffects {
        let lock = lock(claim)
        guard let task, LiveClaim.carried(lane: claim.lane, runID: claim.runID, taskStatus: task.status,
                                          taskCurrentRunID: task.currentRunID, taskClaimLock: task.claimLock) else {
            return LifecycleEffects(runs: [.forgetLost(runID: claim.runID)])
        }
        var data = payload.objectValue ?? [:]
        data["lock"] = .string(lock)
        var effects = LifecycleEffects(
            runs: [.close(runID: claim.runID, outcome: outcome, summary: nil, error: error, metadata: nil)],
            events: [LifecycleEvent(outcome.event, taskID: claim.taskID, lane: claim.lane, runID: claim.runID,
                                    hermesPayload: .object(data), data: .object(data))])
        // Hermes' circuit breaker: the failure counts; retry (maybe after a backoff) or give up.
        let failures = task.consecutiveFailures + 1
        let counted: [(TaskField, FieldValue)] = [(.consecutiveFailures, .int(Int64(failures))), (.lastFailureError, .text(error))]
        switch retry.decide(failures: failures, taskMaxRetries: task.maxRetries, nowMs: nowMs) {
        case .retry(let notBefore):
            effects.task = TaskUpdate(claim.taskID, .runningUnder(lock: lock), requeued + counted)
            if notBefore > nowMs {
                effects.followUps = [.backOff(taskID: task.id, untilMs: notBefore)]
            } else {
                effects.events.append(requeuedRow(task.id, runID: claim.runID, why: outcome.rawValue))
                effects.followUps = [.announce(taskID: task.id)]
            }
        case .giveUp(let limit, let source):
            // The limit is pinned on the task so Hermes' recompute_ready, which applies its own default
            // to tasks without one, leaves the given-up task blocked too.
            effects.task = TaskUpdate(claim.taskID, .runningUnder(lock: lock), [
                (.status, .text(TaskStatus.blocked.rawValue)), (.claimLock, .null), (.claimExpires, .null), (.workerPID, .null),
                (.currentRunID, .null)] + counted + [(.maxRetries, .unlessSet(Int64(limit)))])
            let payload: JSONValue = ["failures": .int(Int64(failures)), "effective_limit": .int(Int64(limit)),
                                      "limit_source": .string(source), "error": .string(error), "trigger_outcome": .string(outcome.rawValue)]
            effects.events.append(LifecycleEvent(.gaveUp, taskID: task.id, lane: task.assignee, hermesPayload: payload, data: payload))
        }
        return effects
    }

    /// The fields of a task put back to `ready` with its claim gone.
    static let requeued: [(TaskField, FieldValue)] = [
        (.status, .text(TaskStatus.ready.rawValue)), (.claimLock, .null), (.claimExpires, .null), (.workerPID, .null), (.currentRunID, .null)]

    /// Tells Hermes that a task the bridge put back is ready again from now: a `promoted` row (the
    /// kind Hermes' own recompute_ready writes on the way to `ready`), which Hermes' `stranded_in_ready`
    /// diagnostic and its dispatcher's respawn guard read by kind and date only. It carries the ended
    /// run's id (Hermes' own have none) and `{"requeued": why}`, and is not published: subscribers
    /// already hear `released`/`timed_out`/… and `available`.
    public static func requeuedRow(_ taskID: String, runID: Int64, why: String) -> LifecycleEvent {
        LifecycleEvent(.promoted, taskID: taskID, lane: nil, runID: runID, hermesPayload: ["requeued": .string(why)],
                       audience: .hermesOnly)
    }
}
