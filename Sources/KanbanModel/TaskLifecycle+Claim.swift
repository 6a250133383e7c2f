/// Claiming: which task a lane may take, and Hermes' claim sequence once it has one.
extension TaskLifecycle {
    /// What a claim on one task comes to.
    public enum ClaimDecision: Equatable, Sendable {
        /// Take it: the store inserts the run row, then writes `plan.effects(runID:)`.
        case open(ClaimPlan)
        /// Not claimable after all: it is `ready` with an unfinished parent (Hermes can leave a task
        /// so). It goes back to `todo`, as Hermes' claim does; that bookkeeping commits either way.
        case demote(LifecycleEffects)
    }

    /// A lane may claim at all: a free slot, and a pull lane unless it names the task.
    public static func admitClaim(lane: Lane, named: Bool, liveClaims: Int) throws(BoardError) {
        if !lane.claimMode.mayPull, !named {
            throw .invalid("lane '\(lane.name)' is a watch lane: claim the task its 'available' event names (task_id), or make it pull-or-watch")
        }
        if liveClaims >= lane.maxConcurrency {
            throw .laneFull("lane '\(lane.name)' already runs \(liveClaims)/\(lane.maxConcurrency) tasks")
        }
    }

    /// A claim on `task`. A named claim (`named`) is checked: the task must be the lane's (or nobody's:
    /// it is then assigned to the lane), ready, unlocked and not backing off. The lane's best task was
    /// chosen by those rules already (see the store's candidate query); both are demoted when a parent
    /// is unfinished.
    /// `pinMaxRetries`: the bridge's failure limit, written on the task when Hermes' differs (see
    /// `RetryPolicy.pinnedLimit`).
    public static func claim(_ task: TaskState?, taskID: String, lane: Lane, named: Bool, leaseMs: Int64,
                             nowMs: Int64, pinMaxRetries: Int? = nil) throws(BoardError) -> ClaimDecision {
        guard let task else { throw .notFound("no task '\(taskID)'") }
        if named {
            if let assignee = task.assignee, assignee != lane.name {
                throw .notAssigned("task \(task.id) is assigned to '\(assignee)', not to lane '\(lane.name)'")
            }
            guard UnclaimedReady.holds(status: task.status, claimLock: task.claimLock) else {
                throw .notReady("task \(task.id) is \(task.status.rawValue), not ready")
            }
            if task.backingOff { throw .notReady("task \(task.id) failed recently and waits out its retry backoff") }
        }
        if !task.parentsFinished {
            return .demote(LifecycleEffects(
                task: TaskUpdate(task.id, .status(.ready), [(.status, .text(TaskStatus.todo.rawValue))], mustApply: false),
                events: [LifecycleEvent(.claimRejected, taskID: task.id, lane: task.assignee,
                                        hermesPayload: ["reason": "parents_not_done"], data: ["reason": "parents_not_done"])]))
        }
        return .open(ClaimPlan(task: task, lane: lane.name, profile: runProfile(lane), leaseMs: leaseMs, nowMs: nowMs,
                               pinMaxRetries: pinMaxRetries))
    }

    /// Who runs the claim, as Hermes' `task_runs.profile` (shown as `@…` in `runs`, `show` and the
    /// dashboard): the Hermes profile a spawned lane runs, else the lane itself.
    public static func runProfile(_ lane: Lane) -> String { lane.profile ?? lane.name }
}

/// An accepted claim, waiting for its run id (the run row is inserted first, as Hermes does).
public struct ClaimPlan: Equatable, Sendable {
    public var task: TaskState
    public var lane: String
    public var profile: String
    public var leaseMs: Int64
    public var nowMs: Int64
    /// Written as the task's `max_retries` unless it has one, so Hermes counts to the bridge's limit.
    public var pinMaxRetries: Int?

    public init(task: TaskState, lane: String, profile: String, leaseMs: Int64, nowMs: Int64, pinMaxRetries: Int? = nil) {
        self.task = task; self.lane = lane; self.profile = profile; self.leaseMs = leaseMs; self.nowMs = nowMs
        self.pinMaxRetries = pinMaxRetries
    }

    public var leaseExpiresAtMs: Int64 { nowMs + leaseMs }
    /// A ready task must not still point at an open run (defensive, as Hermes): it is closed first.
    public var staleRun: Int64? { task.currentRunID }

    /// Hermes' claim sequence (hermes-compat §3) with the new run's id: CAS the task to running under
    /// our lock, mirror the lock on the run, record the claim, write `claimed`. A named claim on a task
    /// nobody was assigned assigns it to the lane first (`assigned`).
    public func effects(runID: Int64) -> LifecycleEffects {
        let lock = ClaimLock.make(lane: lane, runID: runID)
        let expires = Lease.hermesSeconds(fromMs: leaseExpiresAtMs)
        let now = nowMs / 1000
        var fields: [(TaskField, FieldValue)] = [
            (.status, .text(TaskStatus.running.rawValue)), (.claimLock, .text(lock)), (.claimExpires, .int(expires)),
            (.startedAt, .unlessSet(now)), (.workerPID, .null), (.lastHeartbeatAt, .int(now)), (.currentRunID, .int(runID))]
        if let pin = pinMaxRetries, task.maxRetries == nil { fields.append((.maxRetries, .unlessSet(Int64(pin)))) }
        var events: [LifecycleEvent] = []
        if task.assignee == nil {
            fields.append((.assignee, .text(lane)))
            events.append(LifecycleEvent(.assigned, taskID: task.id, lane: lane, hermesPayload: ["assignee": .string(lane)],
                                         data: ["assignee": .string(lane), "previous": .null]))
        }
        events.append(LifecycleEvent(.claimed, taskID: task.id, lane: lane, runID: runID,
                                     hermesPayload: ["lock": .string(lock), "expires": .int(expires), "run_id": .int(runID)],
                                     data: ["lock": .string(lock), "lease_expires_at_ms": .int(leaseExpiresAtMs)]))
        var runs: [RunChange] = []
        if let stale = staleRun { runs.append(.closeStale(runID: stale)) }
        runs.append(.open(runID: runID, taskID: task.id, lock: lock, lane: lane, leaseMs: leaseMs, leaseExpiresAtMs: leaseExpiresAtMs))
        return LifecycleEffects(task: TaskUpdate(task.id, .claimable, fields), runs: runs, events: events)
    }
}
