import KanbanModel

/// Why a board operation was refused. The coordinator maps each case to one wire error code.
public enum BoardError: Error, Equatable, Sendable {
    case notFound(String)
    case conflict(String)
    case notAssigned(String)
    case notReady(String)
    case laneFull(String)
    case invalid(String)
    case denied(AuthorityDenial)
    /// The board file cannot be used (not a Hermes board, too old, too new, damaged, empty).
    case incompatibleBoard(String)
    /// Another program holds the board's write lock and did not let go within `lockWaitMs`. Nothing
    /// was written; the same call may be tried again.
    case busy
}

/// A lane claim as the store records it: only the hash of the claim token ever reaches the disk.
public struct ClaimIntent: Sendable {
    public var lane: Lane
    /// Claim this task, or nil for the lane's best eligible task.
    public var taskID: String?
    public var leaseMs: Int64
    public var tokenHash: String
    public init(lane: Lane, taskID: String?, leaseMs: Int64, tokenHash: String) {
        self.lane = lane; self.taskID = taskID; self.leaseMs = leaseMs; self.tokenHash = tokenHash
    }
}

/// A successful claim, before the coordinator attaches the clear-text token.
public struct ClaimedTask: Sendable {
    public var task: TaskRecord
    public var runID: Int64
    public var leaseExpiresAtMs: Int64
}

/// A presented claim: the caller, the task it names and the hash of the token it holds.
public struct ClaimProof: Sendable {
    public var principal: Principal
    public var taskID: String
    public var tokenHash: String
    public init(principal: Principal, taskID: String, tokenHash: String) {
        self.principal = principal; self.taskID = taskID; self.tokenHash = tokenHash
    }
}

/// How a claim-scoped mutation ends the claim.
public enum ClaimEnding: Sendable {
    case complete(result: String?, summary: String?, metadata: JSONValue?)
    case block(reason: String?, kind: String?)
    case release(reason: String?)
}

/// Everything the coordinator needs from a board. SQLite implements it today; a server database
/// (several coordinators on one board) can implement it later without touching the coordinator.
///
/// Every mutation is one transaction that also appends its events; when a call returns, the change
/// and its events are committed. Times are passed in (milliseconds since the epoch) so tests drive the clock.
public protocol BoardStore: AnyObject {
    // Lanes
    func registerLane(_ lane: Lane, tokenHash: String, nowMs: Int64) throws -> LaneSummary
    func updateLane(name: String, patch: LanePatch, nowMs: Int64) throws -> LaneSummary
    /// Makes the lane exactly as declared (every setting, unset ones cleared), registering it with
    /// `newTokenHash` if it does not exist; an existing lane keeps its token. Returns true if it was new.
    func defineLane(_ lane: Lane, newTokenHash: String, nowMs: Int64) throws -> Bool
    /// Assignees with ready tasks that are not registered lanes: (name, ready count, oldest created_at).
    func unregisteredAssignees() throws -> [(assignee: String, queued: Int, oldestQueuedAt: Int64)]
    func lane(named name: String) throws -> LaneSummary?
    /// The lane's settings alone, without the counts of `lane(named:)` (which cost a scan of its
    /// queue): what every claim reads.
    func laneDefinition(named name: String) throws -> Lane?
    func lanes() throws -> [LaneSummary]
    /// Spawn and pool lanes that have at least one ready task, with their live claims counted.
    func spawnableLanes() throws -> [(lane: Lane, running: Int)]
    func removeLane(name: String, nowMs: Int64) throws
    func rotateLaneToken(name: String, tokenHash: String, nowMs: Int64) throws
    /// The lane whose token hashes to `tokenHash`, if any.
    func laneName(forTokenHash tokenHash: String) throws -> String?
    /// The lane whose CURVE public key (Z85) is `key`, if any.
    func laneName(forCurveKey key: String) throws -> String?
    /// The hash of the lane's current token (worker credentials are derived from it).
    func tokenHash(ofLane name: String) throws -> String?

    // Tasks
    func createTask(_ spec: TaskSpec, nowMs: Int64) throws -> TaskRecord
    func task(id: String) throws -> TaskDetail?
    func tasks(status: TaskStatus?, assignee: String?, limit: Int) throws -> [TaskRecord]
    func assignTask(id: String, assignee: String?, nowMs: Int64) throws -> TaskRecord
    func linkTasks(parent: String, child: String, nowMs: Int64) throws -> TaskRecord
    /// Takes a running task back (from a lane or from a Hermes worker): run `reclaimed`, task `ready`.
    func reclaimTask(id: String, reason: String?, nowMs: Int64) throws -> TaskRecord
    /// Puts a blocked or scheduled task back: `ready`, or `todo` while a parent is unfinished.
    func unblockTask(id: String, nowMs: Int64) throws -> TaskRecord

    // Claims
    /// Claims one task for the lane atomically; nil when the lane has nothing claimable.
    func claim(_ intent: ClaimIntent, nowMs: Int64) throws -> ClaimedTask?
    /// Extends the lease of a live claim; returns the new expiry.
    func heartbeat(_ proof: ClaimProof, note: String?, metadata: JSONValue?, nowMs: Int64) throws -> Int64
    /// Ends a live claim by completing, blocking or releasing its task; returns the task after.
    func endClaim(_ proof: ClaimProof, _ ending: ClaimEnding, nowMs: Int64) throws -> TaskRecord
    /// Ends every claim whose lease ran out by `nowMs` as `timed_out`, counting a failure: the task is
    /// retried (after any backoff) or given up per `retry`. Returns how many claims ended.
    func expireLeases(nowMs: Int64, retry: RetryPolicy) throws -> Int
    /// Ends a live claim without success (`crashed`, `timed_out`, `spawn_failed`) with `payload` as the
    /// event's data, counting a failure. False if the claim had already ended.
    func failClaim(runID: Int64, outcome: String, error: String, payload: JSONValue, retry: RetryPolicy, nowMs: Int64) throws -> Bool
    /// Records that the dispatcher started a worker for the run (Hermes' `spawned` event, the pid in
    /// `worker_pid` so Hermes shows it alive; Hermes never signals it, the lock being foreign) and where it works.
    func noteSpawned(taskID: String, runID: Int64, lane: String, pid: Int32, workspace: String?, nowMs: Int64) throws
    /// The process id the dispatcher recorded for a run's worker (its `spawned` event), if any.
    func spawnedPID(runID: Int64) throws -> Int32?
    /// How a run ended (`completed`, `reclaimed`, …), nil while it is open.
    func runOutcome(runID: Int64) throws -> String?
    /// Sets `last_heartbeat_at` (task and run) to now on every live bridge claim whose value is older
    /// than `staleAfterS` seconds, so Hermes' stale-run detector never takes a claim whose lease runs.
    /// Writes no event and leaves `claim_expires` (the lease's end) alone. Returns how many tasks.
    func refreshLiveness(nowMs: Int64, staleAfterS: Int64) throws -> Int
    /// True while the run's claim is live (not ended, and the task still carries it).
    func isClaimLive(runID: Int64) throws -> Bool
    /// Makes tasks whose retry backoff is over claimable again (announcing them); returns how many.
    func endBackoffs(nowMs: Int64) throws -> Int
    /// The earliest lease expiry or backoff end, for the coordinator's next wake-up.
    func nextTimerDue() throws -> Int64?

    // Writes by other programs (Hermes) to the same board
    /// A value that changes whenever another program commits to the board.
    func externalChangeMarker() throws -> Int64
    /// Publishes what other programs wrote since the last call; returns how many events.
    func importExternalEvents(nowMs: Int64) throws -> Int

    /// The longest a write waits for another program's write lock before it fails with
    /// `BoardError.busy`. The coordinator keeps it small so its loop never stalls on a lock.
    func limitLockWait(ms: Int)

    // Safe retries
    /// Runs several store calls in one transaction: all of them commit together, or none does.
    /// Called inside another `atomically`, it is a savepoint: if `body` throws, only its writes are undone.
    func atomically<T>(_ body: () throws -> T) throws -> T
    /// The reply first given to `requestID` from `principal`, if it was given after `sinceMs`.
    func savedReply(principal: String, requestID: String, sinceMs: Int64) throws -> [UInt8]?
    /// Records the reply to a mutating request, in the caller's transaction.
    func saveReply(principal: String, requestID: String, reply: [UInt8], nowMs: Int64) throws
    /// Forgets replies older than `beforeMs`; returns how many.
    func forgetReplies(beforeMs: Int64) throws -> Int

    // Events
    func events(since seq: Int64, limit: Int, lane: String?) throws -> [BoardEvent]
    func lastEventSeq() throws -> Int64

    // Observability
    /// Per-lane counts now, and what happened since `sinceMs` (read-only; see StatsQueries.swift).
    func stats(sinceMs: Int64, nowMs: Int64) throws -> BoardStats
}
