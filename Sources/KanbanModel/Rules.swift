/// Readiness: which status a task should have given its parents. Pure.
public enum Readiness {
    /// The status a new (or re-evaluated) task gets: `ready` when every parent released it, else `todo`.
    public static func initialStatus(parentStatuses: [TaskStatus]) -> TaskStatus {
        initialStatus(parentsFinished: ParentsFinished.holds(parentStatuses: parentStatuses))
    }

    public static func initialStatus(parentsFinished: Bool) -> TaskStatus { parentsFinished ? .ready : .todo }

    /// A task is claimable when it is `ready`, unlocked (`UnclaimedReady`), and its parents are all
    /// done or archived (`ParentsFinished`); BoardPredicates.swift has both with their SQL.
    public static func isClaimable(status: TaskStatus, claimLock: String?, parentStatuses: [TaskStatus]) -> Bool {
        isClaimable(status: status, claimLock: claimLock, parentsFinished: ParentsFinished.holds(parentStatuses: parentStatuses))
    }

    public static func isClaimable(status: TaskStatus, claimLock: String?, parentsFinished: Bool) -> Bool {
        UnclaimedReady.holds(status: status, claimLock: claimLock) && parentsFinished
    }

    /// How many waiting children one write promotes. A parent with more (a fan-out of 10,000) has the
    /// rest promoted in later loop turns, a batch each, so no turn holds the loop past its budget
    /// (about 60 µs a child: 256 keep a turn near 15 ms). See `FollowUp.promoteChildren`.
    public static let promotionBatch = 256

    /// True when linking `parent → child` would close a cycle: `parent` is already reachable
    /// downward from `child`. `children` returns the direct children of a task.
    public static func wouldCycle(parent: String, child: String, children: (String) throws -> [String]) rethrows -> Bool {
        if parent == child { return true }
        var seen: Set<String> = []
        var stack = [child]
        while let node = stack.popLast() {
            if node == parent { return true }
            if !seen.insert(node).inserted { continue }
            stack.append(contentsOf: try children(node))
        }
        return false
    }
}

/// The public `claim_lock` string Hermes sees: `lane:<lane>:<run>`. Never the secret token,
/// never `<hostname>:` (Hermes would treat a host-local lock as its own worker).
public enum ClaimLock {
    /// What every bridge lock starts with, and what parts it; lane names hold no `:` (`Names`), so a
    /// lock splits back into its lane and run.
    static let prefix = "lane:"
    static let separator: Character = ":"

    public static func make(lane: String, runID: Int64) -> String { "\(prefix)\(lane)\(separator)\(runID)" }

    /// `make` in SQL, from the SQL expressions of a lane name and a run id (`c.lane`, `c.run_id`).
    public static func sql(lane: String, runID: String) -> String {
        "'\(prefix)' || \(lane) || '\(separator)' || \(runID)"
    }

    /// A `LIKE` pattern that matches every bridge lock (and no Hermes host lock): `'lane:%'`.
    public static let likeSQL = "'\(prefix)%'"

    /// The lane and run a bridge lock names, or nil when the lock is someone else's.
    public static func parse(_ lock: String) -> (lane: String, runID: Int64)? {
        guard lock.hasPrefix(prefix) else { return nil }
        let parts = lock.dropFirst(prefix.count).split(separator: separator, omittingEmptySubsequences: false)
        guard parts.count == 2, let run = Int64(parts[1]) else { return nil }
        return (String(parts[0]), run)
    }
}

/// The facts about a presented claim that authority needs, read inside the write transaction.
public struct ClaimFacts: Sendable {
    /// The claim the token belongs to (nil when no claim has that token).
    public var claimTaskID: String?
    public var claimLane: String?
    public var claimRunID: Int64?
    /// When the bridge ended the claim, or nil while it has not.
    public var claimEnded: Bool
    /// The task as it is now.
    public var taskExists: Bool
    public var taskStatus: TaskStatus?
    public var taskCurrentRunID: Int64?
    public var taskClaimLock: String?

    public init(claimTaskID: String?, claimLane: String?, claimRunID: Int64?, claimEnded: Bool,
                taskExists: Bool, taskStatus: TaskStatus?, taskCurrentRunID: Int64?, taskClaimLock: String?) {
        self.claimTaskID = claimTaskID; self.claimLane = claimLane; self.claimRunID = claimRunID
        self.claimEnded = claimEnded; self.taskExists = taskExists
        self.taskStatus = taskStatus; self.taskCurrentRunID = taskCurrentRunID; self.taskClaimLock = taskClaimLock
    }
}

/// Why a claim-scoped mutation was refused.
public enum AuthorityDenial: Equatable, Sendable {
    /// No such task.
    case notFound
    /// The token is not the task's claim token.
    case notClaimOwner
    /// The token belongs to another lane's claim than the caller's.
    case forbidden
    /// The token's claim has ended (completed, released, expired, or taken back by Hermes).
    case staleClaim(String)
}

/// Claim-scoped authority: may `principal` mutate `taskID` with the presented claim token? Pure.
///
/// Order matters: a caller who does not own the token learns nothing about the claim's state.
///
/// The lease's end is not checked here: a claim lives until the coordinator ends it (`timed_out`),
/// which it decides on monotonic time (`LeaseDeadlines`) after reading what is queued. The stored
/// expiry is wall-clock: judged against the wall clock, a stepped clock or the coordinator's own
/// stall would refuse a heartbeat that was sent in time.
public enum ClaimAuthority {
    public static func check(principal: Principal, taskID: String, facts: ClaimFacts) -> AuthorityDenial? {
        guard facts.taskExists else { return .notFound }
        guard let claimTask = facts.claimTaskID, claimTask == taskID, let claimLane = facts.claimLane,
              let runID = facts.claimRunID else { return .notClaimOwner }
        switch principal {
        case .admin: break
        case .lane(let caller): if caller != claimLane { return .forbidden }
        case .worker(let lane, let run): if lane != claimLane || run != runID { return .forbidden }
        }
        if facts.claimEnded { return .staleClaim("this claim has ended") }
        // Hermes (or a person with its CLI) may have reclaimed, completed or blocked the task
        // without the token: the claim is lost when the task no longer carries our lock and run.
        guard LiveClaim.carried(lane: claimLane, runID: runID, taskStatus: facts.taskStatus,
                                taskCurrentRunID: facts.taskCurrentRunID, taskClaimLock: facts.taskClaimLock) else {
            return .staleClaim("the task was taken back or finished outside this claim (status \(facts.taskStatus?.rawValue ?? "?"))")
        }
        return nil
    }
}

/// Lease arithmetic. Hermes keeps whole seconds; the bridge keeps milliseconds in its own table.
public enum Lease {
    /// Default lease when neither the claim nor the lane names one (Hermes' claim TTL default).
    public static let defaultSeconds = 900
    /// Longest lease a claim may ask for: a day.
    public static let maxSeconds = 86_400

    /// The lease length in force: the claim's, else the lane's, else the board default.
    public static func seconds(requested: Int?, lane: Int?, boardDefault: Int = defaultSeconds) -> Int {
        min(requested ?? lane ?? boardDefault, maxSeconds)
    }

    /// Hermes' `claim_expires` (seconds), rounded up so Hermes never sees it expire before we do.
    public static func hermesSeconds(fromMs ms: Int64) -> Int64 { (ms + 999) / 1000 }
}

/// What happens to a task after a run ends without success (lease expired, worker crashed).
/// Hermes' circuit breaker: give up once consecutive failures reach the limit, where the limit is
/// the task's own `max_retries` if set, else the board's. `max_retries = 1` gives up at once.
///
/// Hermes applies its own board-wide limit (`kanban.failure_limit`, else 2) to every task without a
/// `max_retries`, and `hermes kanban show` prints it. So the bridge's limit follows Hermes' by default,
/// and a different one is written on each task it claims (`pinnedLimit`), where Hermes reads it: both
/// tools then give up at the same count and say so.
public struct RetryPolicy: Equatable, Sendable {
    /// Hermes' `DEFAULT_FAILURE_LIMIT` (hermes_cli/kanban_db.py), used when its config sets none.
    public static let hermesDefaultLimit = 2
    /// Board-wide limit on consecutive failures.
    public var maxRetries: Int
    /// The limit Hermes applies to tasks without their own (`kanban.failure_limit`, else 2).
    public var hermesLimit: Int
    /// Wait before a failed task is claimable again: base × 2^(failures−1), capped. 0 = at once.
    public var backoffBaseMs: Int64
    public var backoffCapMs: Int64

    public init(maxRetries: Int? = nil, hermesLimit: Int = RetryPolicy.hermesDefaultLimit, backoffBaseMs: Int64 = 0,
                backoffCapMs: Int64 = 3_600_000) {
        self.maxRetries = maxRetries ?? hermesLimit; self.hermesLimit = hermesLimit
        self.backoffBaseMs = backoffBaseMs; self.backoffCapMs = backoffCapMs
    }

    /// The limit to write on a claimed task that has none: the bridge's, when Hermes would apply
    /// another; nil when they agree (nothing to write).
    public var pinnedLimit: Int? { maxRetries == hermesLimit ? nil : maxRetries }

    public enum Decision: Equatable, Sendable {
        /// Back to `ready`, claimable from `notBeforeMs` on.
        case retry(notBeforeMs: Int64)
        /// To `blocked` with a `gave_up` event.
        case giveUp(limit: Int, source: String)
    }

    /// `failures` counts the failure being recorded now.
    public func decide(failures: Int, taskMaxRetries: Int?, nowMs: Int64) -> Decision {
        let limit = taskMaxRetries ?? maxRetries
        if failures >= limit { return .giveUp(limit: limit, source: taskMaxRetries == nil ? "board" : "task") }
        guard backoffBaseMs > 0 else { return .retry(notBeforeMs: nowMs) }
        let exponent = min(max(failures - 1, 0), 30)
        let wait = min(backoffCapMs, backoffBaseMs.multipliedReportingOverflow(by: Int64(1) << exponent).partialValue)
        return .retry(notBeforeMs: nowMs + max(0, wait))
    }
}
