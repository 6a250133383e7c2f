/// The board's predicates, each defined once: the Swift test the lifecycle applies to a row it holds,
/// and, beside it, the SQL fragment a store puts in a query to find the same rows. The two are
/// written next to each other so that a change to one is a change to both, and
/// `PredicateAgreementTests` (KanbanStoreTests) runs both on generated boards and finds the same sets.
///
/// The SQL speaks Hermes' schema (`tasks`, `task_links`) and the bridge's (`bridge_claims`); a store
/// on another database keeps the Swift side and writes its own fragments, tested the same way.
/// Status words reach SQL only through `TaskStatus.sql` and `RunStatus`: a store's SQL never types one
/// (`StatusWordsTests` fails on a quoted status word in Sources/KanbanStore).
///
/// Fragments name their columns through a qualifier: `""` for the bare table (`status`), or an alias
/// (`"t"` gives `t.status`). Every fragment is plain text without parameters unless it says so, so a
/// statement built from it at start has the same text, plan and cache entry as one typed by hand.
public enum BoardSQL {
    /// `column` of the table known as `qualifier` (`""`: unqualified).
    public static func column(_ qualifier: String, _ column: String) -> String {
        qualifier.isEmpty ? column : qualifier + "." + column
    }

    /// A list of status words for `IN (…)`: `'done', 'archived'`.
    public static func list(_ statuses: [TaskStatus]) -> String { statuses.map(\.sql).joined(separator: ", ") }
}

extension TaskStatus {
    /// The status as an SQL string literal (`'ready'`): the only way a status word gets into a store's SQL.
    public var sql: String { "'" + rawValue + "'" }
}

/// `task_runs.status` words that are not an outcome's (`RunOutcome.runStatus` gives those).
public enum RunStatus {
    /// A run that has not ended (Hermes' word; `ended_at` is NULL).
    public static let open = "running"
    /// `open` as an SQL string literal.
    public static var openSQL: String { "'" + open + "'" }
}

extension RunOutcome {
    /// `runStatus` as an SQL string literal.
    public var runStatusSQL: String { "'" + runStatus + "'" }
}

/// Ready and unlocked: what a claim may take, once its parents are finished (`Readiness.isClaimable`).
/// It is the lane's candidate query, the check of a named claim, and the compare of a claim's
/// compare-and-set (`TaskGuard.claimable`).
public enum UnclaimedReady {
    public static func holds(status: TaskStatus, claimLock: String?) -> Bool { status == .ready && claimLock == nil }

    /// `status = 'ready' AND claim_lock IS NULL`.
    public static func sql(task t: String = "") -> String {
        "\(BoardSQL.column(t, "status")) = \(TaskStatus.ready.sql) AND \(BoardSQL.column(t, "claim_lock")) IS NULL"
    }
}

/// Every parent is finished (done or archived; true without parents): a child may start. A link to a
/// task that no longer exists does not hold the child back (Hermes deletes tasks).
public enum ParentsFinished {
    /// The statuses that release children (`TaskStatus.releasesChildren`).
    public static let releasing: [TaskStatus] = TaskStatus.allCases.filter(\.releasesChildren)

    public static func holds(parentStatuses: [TaskStatus]) -> Bool { parentStatuses.allSatisfy(\.releasesChildren) }

    /// True when the task whose id is the SQL expression `childID` has an unfinished parent: the
    /// negation of this rule, as one indexed probe (`idx_links_child`, then each parent by id) that
    /// stops at the first unfinished parent.
    public static func unfinishedParentSQL(childID: String) -> String {
        """
        EXISTS (SELECT 1 FROM task_links l JOIN tasks p ON p.id = l.parent_id
                          WHERE l.child_id = \(childID) AND p.status NOT IN (\(BoardSQL.list(releasing))))
        """
    }
}

/// A bridge claim is live while we have not ended it and the task still carries it: the task is
/// `running`, on the claim's run, under the claim's lock. Hermes (or a person with its CLI) may take a
/// task back, complete or block it without the claim's token; the claim is lost from that moment,
/// whatever our own record says, until the store retires it (`retireLostClaims`).
///
/// Authority (`ClaimAuthority`), the lane's concurrency (`liveClaimCount`, the dispatcher's free
/// slots), liveness refreshes and the stop of a spawned worker whose run was taken all use this.
public enum LiveClaim {
    /// The task carries the claim of `runID` on `lane`.
    public static func carried(lane: String, runID: Int64, taskStatus: TaskStatus?, taskCurrentRunID: Int64?,
                               taskClaimLock: String?) -> Bool {
        taskStatus == .running && taskCurrentRunID == runID && taskClaimLock == ClaimLock.make(lane: lane, runID: runID)
    }

    /// Not ended by us, and carried by its task.
    public static func holds(ended: Bool, lane: String, runID: Int64, taskStatus: TaskStatus?, taskCurrentRunID: Int64?,
                             taskClaimLock: String?) -> Bool {
        !ended && carried(lane: lane, runID: runID, taskStatus: taskStatus, taskCurrentRunID: taskCurrentRunID,
                          taskClaimLock: taskClaimLock)
    }

    /// `carried` for a `bridge_claims` row `c` and its task row `t` (joined by the caller on
    /// `t.id = c.task_id`).
    public static func carriedSQL(claim c: String, task t: String) -> String {
        "\(BoardSQL.column(t, "status")) = \(TaskStatus.running.sql) AND \(BoardSQL.column(t, "current_run_id")) = \(BoardSQL.column(c, "run_id"))"
            + " AND \(BoardSQL.column(t, "claim_lock")) = \(ClaimLock.sql(lane: BoardSQL.column(c, "lane"), runID: BoardSQL.column(c, "run_id")))"
    }

    /// `holds` for a `bridge_claims` row `c` and its task row `t`.
    public static func sql(claim c: String, task t: String) -> String {
        "\(BoardSQL.column(c, "ended_at_ms")) IS NULL AND " + carriedSQL(claim: c, task: t)
    }
}

/// The compare of a claim-scoped write (`TaskGuard.runningUnder`): the task runs under this lock.
public enum RunningUnder {
    public static func holds(status: TaskStatus, claimLock: String?, lock: String) -> Bool {
        status == .running && claimLock == lock
    }

    /// `status = 'running' AND claim_lock = ?`: one parameter, the lock.
    public static func sql(task t: String = "") -> String {
        "\(BoardSQL.column(t, "status")) = \(TaskStatus.running.sql) AND \(BoardSQL.column(t, "claim_lock")) = ?"
    }
}

/// Lanes the dispatcher starts workers for (`LaneKind.isSpawned`).
public enum SpawnedLane {
    public static let kinds: [LaneKind] = LaneKind.allCases.filter(\.isSpawned)

    /// `kind IN ('spawn', 'pool')` on `bridge_lanes`.
    public static func sql(lane l: String = "") -> String {
        "\(BoardSQL.column(l, "kind")) IN (\(kinds.map { "'" + $0.rawValue + "'" }.joined(separator: ", ")))"
    }
}
