import KanbanModel

/// A lane claim as the store records it: only the hash of the claim token ever reaches the disk.
public struct ClaimIntent: Sendable {
    public var lane: Lane
    /// Claim this task, or nil for the lane's best eligible task.
    public var taskID: String?
    public var leaseMs: Int64
    public var tokenHash: String
    /// The failure limit to write on the task when it has none (`RetryPolicy.pinnedLimit`).
    public var pinMaxRetries: Int?
    public init(lane: Lane, taskID: String?, leaseMs: Int64, tokenHash: String, pinMaxRetries: Int? = nil) {
        self.lane = lane; self.taskID = taskID; self.leaseMs = leaseMs; self.tokenHash = tokenHash
        self.pinMaxRetries = pinMaxRetries
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
    /// `retryAfterMs`: held back that long before it is claimable again (no failure counted).
    case release(reason: String?, retryAfterMs: Int64? = nil)
    /// The worker failed: counted as a failure, retried or given up per `retry` (`TaskLifecycle.fail`).
    case fail(outcome: RunOutcome, error: String, payload: JSONValue, retry: RetryPolicy)
}

/// Everything the coordinator needs from a board: one protocol per job. SQLite implements all of them
/// today (`SQLiteBoard`); a server database (several coordinators on one board) would implement the same
/// and inherit the task rules, which live in `TaskLifecycle` and `TaskCommands.swift`, not in a store.
/// What only some stores can do is not in this list: it is a capability (`BoardCapabilities`), asked
/// for at run time, and the coordinator does without it when a store has none.
///
/// Times are passed in (milliseconds since the epoch) so tests drive the clock.
///
/// **One writer.** A store is used by one coordinator, from its owner thread, and that coordinator is
/// the only writer of the bridge's own tables (`bridge_*`). Stores may keep what they learn in memory
/// on that ground (SQLite: lane settings and tokens, the spawn lanes, the next backoff end, pending
/// promotions, committed events), emptied on every write of theirs and on every rollback. Other
/// programs write Hermes' tables only (`tasks`, `task_runs`, `task_events`, …), and nothing about those
/// is cached. A second writer of the `bridge_*` tables (another coordinator, a hand edit) needs a store
/// that caches none of this.
public typealias BoardStore = BoardTransactions & LifecycleStore & LaneRegistry & TaskCatalog & EventLog & ReplyCache
    & BoardObservability & WorkspaceRegistry & TaskComments & BoardCapabilities

/// What only some stores can do, asked for at run time (as River's driver interface asks
/// `SupportsListener`), so a store without one is not a store with holes in it.
public protocol BoardCapabilities: AnyObject {
    /// Writes that other programs make to the same board, to mirror into the published stream. A
    /// SQLite file has them (Hermes' CLI and dispatcher write it); nil for a store every writer reaches
    /// through the coordinators, which then learns of changes from its own writes only.
    var changeFeed: (any HermesChangeFeed)? { get }
}

/// Transactions. Every write joins the open transaction or runs in one of its own; a call that
/// returns has committed (or joined a transaction whose commit the caller awaits).
public protocol BoardTransactions: AnyObject {
    /// Runs several store calls in one transaction: all of them commit together, or none does.
    /// Called inside another `atomically`, it is a savepoint: if `body` throws, only its writes are undone.
    func atomically<T>(_ body: () throws -> T) throws -> T
    /// Runs `body` in the open transaction as it is (no savepoint), or in an IMMEDIATE transaction of
    /// its own. For commands that check before they write, so a refusal has nothing to undo.
    func inTransaction<T>(_ body: () throws -> T) throws -> T
    /// The longest a write waits for another program's write lock before it fails with
    /// `BoardError.busy`. The coordinator keeps it small so its loop never stalls on a lock.
    func limitLockWait(ms: Int)
    /// The events committed since the last call, in `seq` order: what to publish. The store keeps
    /// what its transactions appended; nothing is read back.
    func takeCommittedEvents() -> [BoardEvent]
}

/// Snapshots for `TaskLifecycle` and the writes of its effects, with compare-and-set. No rules here.
public protocol LifecycleStore: BoardTransactions {
    /// The task with what the lifecycle reads (whether a parent is unfinished, backoff at `nowMs`),
    /// listing all its parents and children.
    func taskSnapshot(id: String, nowMs: Int64) throws -> TaskSnapshot?
    /// `taskSnapshot` with at most `TaskRecord.replyLinkCap` parents and children listed (then
    /// `record.linksTruncated`): what link and promotion read, at a cost that does not grow with links.
    func leanSnapshot(id: String, nowMs: Int64) throws -> TaskSnapshot?
    /// The claim whose token hashes to `tokenHash`, ended or not.
    func claimState(tokenHash: String) throws -> ClaimState?
    /// The open (not ended) claim of a run.
    func openClaim(runID: Int64) throws -> ClaimState?
    /// Open claims whose lease ran out by `nowMs`, earliest first.
    func expiredClaims(nowMs: Int64) throws -> [ClaimState]
    /// Claims of the lane that are open and still carried by their task.
    func liveClaimCount(lane: String) throws -> Int
    /// The lane's best candidate: ready, unlocked, not backing off; highest priority, then oldest.
    func nextCandidate(lane: String, nowMs: Int64) throws -> TaskSnapshot?
    /// The next `limit` children of `parent` after `after` (by id), and which of them wait in `todo`.
    func waitingChildren(of parent: String, after: String?, limit: Int) throws -> ChildPage
    /// Up to `limit` tasks in `todo` with at least one parent, past `after` (a position of the
    /// store's own; 0 is the start): the restart sweep for children a crash left waiting.
    func linkedTodoTasks(after: Int64, limit: Int) throws -> (ids: [String], last: Int64?)
    /// Promotion work left for later turns, in the open transaction (undone with it).
    func queuePromotion(_ work: PromotionWork)
    /// The next promotion work, taken off the queue in the open transaction (undone with it).
    func takePromotion() -> PromotionWork?
    /// True when promotion work waits (the coordinator then runs a batch a turn).
    var hasPendingPromotions: Bool { get }
    /// The board contradicted itself about this task (a write's guard failed right after a snapshot
    /// in the same transaction said it would hold): counted and kept for the log.
    func noteInconsistency(taskID: String, what: String)
    /// `nextCandidate` steps over this task until a restart or a clean integrity check.
    func quarantine(taskID: String)
    /// True when `parent → child` would close a cycle.
    func closesCycle(parent: String, child: String) throws -> Bool
    /// Inserts the run row of a claim being opened, under its lock (Hermes' order: the run first);
    /// returns its id, or nil, having written nothing, when the task is not claimable after all.
    func openRun(_ plan: ClaimPlan) throws -> Int64?
    /// Writes the effects. A `TaskUpdate` whose guard no longer holds throws (`mustApply`) or is skipped.
    /// `claimTokenHash` is recorded for a claim being opened.
    func apply(_ effects: LifecycleEffects, claimTokenHash: String?, nowMs: Int64) throws
    /// Retry backoffs over by `nowMs`, removed; with each task's latest bridge run.
    func takeDueBackoffs(nowMs: Int64) throws -> [(taskID: String, lastRunID: Int64?)]
    /// How the task's lane learns about work (nil: no lane has the name).
    func claimMode(ofLane name: String) throws -> ClaimMode?
    /// The earliest retry backoff end, for the coordinator's next wake-up.
    func nextBackoffEnd() throws -> Int64?
    /// Every open claim (not ended), earliest stored expiry first: what a starting coordinator keeps.
    func openClaims() throws -> [ClaimState]
    /// Rewrites the stored (wall-clock) expiry of open claims after the host's wall clock was
    /// stepped: the bridge's, and Hermes' `claim_expires` on the run and on the task while it carries
    /// the claim. Retry backoffs move by `backoffShiftMs`. No event: no lease changed, only its date.
    func restateLeases(_ expiries: [(runID: Int64, expiresMs: Int64)], backoffShiftMs: Int64) throws
}

/// A page of a parent's children (`waitingChildren`).
public struct ChildPage: Sendable, Equatable {
    /// The children of the page still in `todo`.
    public var waiting: [String]
    /// The last child of the page: where the next page starts.
    public var last: String?
    /// The page was full: there may be more.
    public var more: Bool
    public init(waiting: [String], last: String?, more: Bool) { self.waiting = waiting; self.last = last; self.more = more }
}

/// Promotions a write left for later loop turns (`continuePromotions`).
public enum PromotionWork: Sendable, Equatable {
    /// The children of a finished parent, after this child id.
    case children(of: String, after: String)
    /// The restart sweep: `todo` tasks with parents, past this position.
    case sweep(after: Int64)
}

/// The lane registry (`bridge_lanes`).
public protocol LaneRegistry: AnyObject {
    func registerLane(_ lane: Lane, tokenHash: String, nowMs: Int64) throws -> LaneSummary
    func updateLane(name: String, patch: LanePatch, nowMs: Int64) throws -> LaneSummary
    /// Makes the lane exactly as declared (every setting, unset ones cleared), registering it with
    /// `newTokenHash` if it does not exist; an existing lane keeps its token. Returns true if it was new.
    func defineLane(_ lane: Lane, newTokenHash: String, nowMs: Int64) throws -> Bool
    /// Assignees with ready tasks that are not registered lanes: (name, ready count, oldest created_at).
    func unregisteredAssignees() throws -> [(assignee: String, queued: Int, oldestQueuedAt: Int64)]
    func lane(named name: String) throws -> LaneSummary?
    /// The lane's settings alone, without the counts of `lane(named:)`: what every claim reads.
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
    /// Changes whenever a lane is written (or a write is undone): what callers remember about
    /// lanes and their tokens is stale from then on.
    var registryVersion: Int { get }
}

/// Tasks as rows: creating and reading them, and what the dispatcher records about its workers.
public protocol TaskCatalog: AnyObject {
    func createTask(_ spec: TaskSpec, nowMs: Int64) throws -> TaskRecord
    func task(id: String) throws -> TaskDetail?
    func tasks(status: TaskStatus?, assignee: String?, limit: Int) throws -> [TaskRecord]
    /// Records that the dispatcher started a worker for the run (Hermes' `spawned` event, the pid in
    /// `worker_pid` so Hermes shows it alive; Hermes never signals it, the lock being foreign) and where it works.
    /// The workspace, if any, is recorded too (`WorkspaceRegistry`).
    func noteSpawned(taskID: String, runID: Int64, lane: String, pid: Int32, workspace: WorkspaceRecord?, nowMs: Int64) throws
    /// The process id the dispatcher recorded for a run's worker, if any.
    func spawnedPID(runID: Int64) throws -> Int32?
    /// How a run ended (`completed`, `reclaimed`, …), nil while it is open.
    func runOutcome(runID: Int64) throws -> String?
    /// Sets `last_heartbeat_at` (task and run) to now on every live bridge claim whose value is older
    /// than `staleAfterS` seconds, so Hermes' stale-run detector never takes a claim whose lease runs.
    /// Writes no event and leaves `claim_expires` (the lease's end) alone. Returns how many tasks.
    func refreshLiveness(nowMs: Int64, staleAfterS: Int64) throws -> Int
    /// True while the run's claim is live (not ended, and the task still carries it).
    func isClaimLive(runID: Int64) throws -> Bool
}

/// A workspace the dispatcher made for a task, as recorded when its worker started (or failed to).
/// The coordinator removes only recorded workspaces, at the recorded path: a path is never rebuilt
/// from a board value to delete it.
public struct WorkspaceRecord: Sendable, Hashable, CustomStringConvertible {
    public var lane: String
    public var taskID: String
    /// Absolute, under the coordinator's workspace root at the time.
    public var path: String
    public var policy: WorkspacePolicy
    /// The repository a worktree belongs to (what `git worktree remove` runs in), as it was then.
    public var repo: String?
    public var branch: String?
    public init(lane: String, taskID: String, path: String, policy: WorkspacePolicy, repo: String? = nil, branch: String? = nil) {
        self.lane = lane; self.taskID = taskID; self.path = path; self.policy = policy; self.repo = repo; self.branch = branch
    }
    public var description: String { "\(lane)/\(taskID)" }
}

/// The workspaces the dispatcher made (`bridge_workspaces`).
public protocol WorkspaceRegistry: AnyObject {
    /// Records (or re-records, on a retry) the task's workspace on the lane.
    func recordWorkspace(_ workspace: WorkspaceRecord, nowMs: Int64) throws
    /// The lane's recorded workspaces (every lane's when nil), oldest first.
    func workspaces(lane: String?) throws -> [WorkspaceRecord]
    func workspace(lane: String, taskID: String) throws -> WorkspaceRecord?
    /// Forgets a workspace once it is removed.
    func forgetWorkspace(lane: String, taskID: String) throws
}

/// Comments on tasks (Hermes' `task_comments`), as `hermes kanban comment` writes them.
public protocol TaskComments: AnyObject {
    /// Adds a comment with Hermes' `commented` event; `runID` names the run it is about.
    func addComment(taskID: String, author: String, body: String, runID: Int64?, nowMs: Int64) throws
}

/// The published event stream, for replay (`events`) and the head (`last_seq`).
public protocol EventLog: AnyObject {
    func events(since seq: Int64, limit: Int, lane: String?) throws -> [BoardEvent]
    func lastEventSeq() throws -> Int64
}

/// Replies remembered for safe retries.
public protocol ReplyCache: AnyObject {
    /// The reply first given to `requestID` from `principal`, if it was given after `sinceMs`, with
    /// the scope of the request it answered (nil for replies stored before scopes were).
    func savedReply(principal: String, requestID: String, sinceMs: Int64) throws -> (reply: [UInt8], scope: String?)?
    /// Records the reply to a mutating request and what it answered (`Request.replayScope`), in the
    /// caller's transaction.
    func saveReply(principal: String, requestID: String, scope: String, reply: [UInt8], nowMs: Int64) throws
    /// Forgets replies older than `beforeMs`; returns how many.
    func forgetReplies(beforeMs: Int64) throws -> Int
}

/// Writes by other programs (Hermes) to the same file. A SQLite capability (`BoardCapabilities.changeFeed`):
/// a server database would have every writer go through the coordinators (or its own change stream) instead.
public protocol HermesChangeFeed: AnyObject {
    /// A value that changes whenever another program commits to the board.
    func externalChangeMarker() throws -> Int64
    /// Publishes what other programs wrote since the last call; returns how many events.
    func importExternalEvents(nowMs: Int64) throws -> Int
}

/// Read-only figures for `stats`, `/metrics` and the dashboard.
public protocol BoardObservability: AnyObject {
    /// Per-lane counts now, and what happened since `sinceMs` (see StatsQueries.swift).
    func stats(sinceMs: Int64, nowMs: Int64) throws -> BoardStats
    /// The board's consistency: the background integrity check, inconsistencies found, quarantined tasks.
    func health() -> BoardHealth
    /// Inconsistencies found since the last call, for the log.
    func takeInconsistencies() -> [BoardInconsistency]
    /// Starts a full integrity check off the calling thread; false when one is running.
    @discardableResult func startIntegrityCheck() -> Bool
}
