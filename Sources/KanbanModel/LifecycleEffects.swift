/// What `TaskLifecycle` decides a command does: plain values a store writes with compare-and-set.
/// Nothing here knows SQL; the store maps each field to a column of Hermes' schema.

/// A value for one column: what Hermes stores (integers, text, NULL).
public enum FieldValue: Equatable, Sendable {
    case null
    case int(Int64)
    case text(String)
    /// Keep the column's value if it has one, else set this (`COALESCE(column, value)`).
    case unlessSet(Int64)

    public static func of(_ s: String?) -> FieldValue { s.map(FieldValue.text) ?? .null }
    public static func of(_ i: Int64?) -> FieldValue { i.map(FieldValue.int) ?? .null }
}

/// The `tasks` columns the lifecycle writes.
public enum TaskField: String, CaseIterable, Sendable {
    case status, assignee, result
    case completedAt = "completed_at"
    case startedAt = "started_at"
    case claimLock = "claim_lock"
    case claimExpires = "claim_expires"
    case workerPID = "worker_pid"
    case lastHeartbeatAt = "last_heartbeat_at"
    case currentRunID = "current_run_id"
    case blockKind = "block_kind"
    case blockRecurrences = "block_recurrences"
    case consecutiveFailures = "consecutive_failures"
    case lastFailureError = "last_failure_error"
    case maxRetries = "max_retries"
}

/// What a task row must still be for a write to apply (the compare of compare-and-set). A write whose
/// guard no longer holds changed under the command (Hermes took the task back, another claim won).
public enum TaskGuard: Equatable, Sendable {
    /// Running under exactly this claim lock: every claim-scoped write.
    case runningUnder(lock: String)
    /// Ready and unlocked: opening a claim.
    case claimable
    /// In this status (admin transitions, promotions and demotions).
    case status(TaskStatus)
    /// Whatever it is (assignment, which its own checks guard).
    case any
}

/// One write to a task row: the fields in order, applied only while `guard` holds.
public struct TaskUpdate: Equatable, Sendable {
    public var taskID: String
    public var guardedBy: TaskGuard
    public var fields: [(TaskField, FieldValue)]
    /// True when a failed guard means the command lost a race (refused); false when the write is
    /// Hermes-style bookkeeping that simply does not apply any more (a demotion, a promotion).
    public var mustApply: Bool

    public init(_ taskID: String, _ guardedBy: TaskGuard, _ fields: [(TaskField, FieldValue)], mustApply: Bool = true) {
        self.taskID = taskID; self.guardedBy = guardedBy; self.fields = fields; self.mustApply = mustApply
    }

    public static func == (a: TaskUpdate, b: TaskUpdate) -> Bool {
        a.taskID == b.taskID && a.guardedBy == b.guardedBy && a.mustApply == b.mustApply && a.fields.count == b.fields.count
            && zip(a.fields, b.fields).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    /// The value this update gives `field`, if it sets it.
    public func value(of field: TaskField) -> FieldValue? { fields.last { $0.0 == field }?.1 }

    /// The status this update moves the task to, if it does.
    public var newStatus: TaskStatus? {
        if case .text(let s)? = value(of: .status) { return TaskStatus(rawValue: s) }
        return nil
    }
}

/// A write to the task's run (`task_runs`), mirrored in the bridge's claim record where there is one.
public enum RunChange: Equatable, Sendable {
    /// Hermes' claim sequence, after the run row was inserted: the run carries the lock, and the
    /// bridge records the claim (lease, token hash).
    case open(runID: Int64, taskID: String, lock: String, lane: String, leaseMs: Int64, leaseExpiresAtMs: Int64)
    /// Lease extended (heartbeat): Hermes' `claim_expires`/`last_heartbeat_at` and the bridge lease.
    case extend(runID: Int64, leaseExpiresAtMs: Int64)
    /// The run ends: Hermes' run status/outcome/summary/error/metadata; the bridge claim ends with it.
    case close(runID: Int64, outcome: RunOutcome, summary: String?, error: String?, metadata: JSONValue?)
    /// A run Hermes left open on a ready task (defensive, as Hermes' own claim does).
    case closeStale(runID: Int64)
    /// The bridge's claim record ends without touching Hermes' run (Hermes already took it back).
    case forgetLost(runID: Int64)
}

/// One event the command writes: to Hermes' `task_events`, to the published stream, or both.
public struct LifecycleEvent: Equatable, Sendable {
    public var kind: EventKind
    public var taskID: String
    public var lane: String?
    public var runID: Int64?
    /// Hermes' `task_events.payload` (NULL when nil).
    public var hermesPayload: JSONValue?
    /// The published event's `data`.
    public var data: JSONValue
    public var audience: EventAudience

    public init(_ kind: EventKind, taskID: String, lane: String?, runID: Int64? = nil,
                hermesPayload: JSONValue? = nil, data: JSONValue = [:], audience: EventAudience? = nil) {
        self.kind = kind; self.taskID = taskID; self.lane = lane; self.runID = runID
        self.hermesPayload = hermesPayload; self.data = data; self.audience = audience ?? kind.audience
    }
}

/// Work the command leaves for the store to do once its own writes are in, because it needs rows
/// the command's snapshot does not hold (each is decided by `TaskLifecycle` again on its snapshot).
public enum FollowUp: Equatable, Sendable {
    /// Children of this task waiting in `todo` may now be free (`TaskLifecycle.promote`). The store
    /// promotes `Readiness.promotionBatch` of them with the command and the rest in later turns, one
    /// batch a turn; a restart sweeps for any a crash left waiting (TaskCommands.swift).
    case promoteChildren(of: String)
    /// Tell the task's lane it is claimable now, if it is (`TaskLifecycle.announcement`).
    case announce(taskID: String)
    /// The same for a task whose state after the write the lifecycle knows (a promotion): no second
    /// snapshot, so a child with 10,000 parents is probed for readiness once, not twice.
    case announceKnown(TaskState)
    /// The task is claimable only from this time on (retry backoff).
    case backOff(taskID: String, untilMs: Int64)
    /// Any pending backoff of the task is void (a person unblocked it).
    case clearBackoff(taskID: String)
}

/// Everything one command does, in the order a store applies it.
public struct LifecycleEffects: Equatable, Sendable {
    public var task: TaskUpdate?
    public var runs: [RunChange]
    public var events: [LifecycleEvent]
    public var followUps: [FollowUp]
    /// A dependency to add (`link`).
    public var newLink: TaskLink?

    public init(task: TaskUpdate? = nil, runs: [RunChange] = [], events: [LifecycleEvent] = [], followUps: [FollowUp] = [],
                newLink: TaskLink? = nil) {
        self.task = task; self.runs = runs; self.events = events; self.followUps = followUps; self.newLink = newLink
    }
}

/// Why a command was refused: by the lifecycle's rules (`TaskLifecycle`) or by the board itself.
/// The coordinator maps each case to one wire error code (`Operations.wireError`).
public enum BoardError: Error, Equatable, Sendable {
    case notFound(String)
    case conflict(String)
    case notAssigned(String)
    case notReady(String)
    case laneFull(String)
    case invalid(String)
    /// Claim-scoped authority refused the caller (`ClaimAuthority`).
    case denied(AuthorityDenial)
    /// The board file cannot be used (not a Hermes board, too old, too new, damaged, empty).
    case incompatibleBoard(String)
    /// Another program holds the board's write lock and did not let go within `lockWaitMs`. Nothing
    /// was written; the same call may be tried again.
    case busy
}

/// `parent` must finish before `child` may run (Hermes' `task_links`).
public struct TaskLink: Equatable, Sendable {
    public var parent: String
    public var child: String
    public init(parent: String, child: String) { self.parent = parent; self.child = child }
}
