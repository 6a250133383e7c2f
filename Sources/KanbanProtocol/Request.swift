import KanbanModel

/// Every op of protocol v1, decoded and type-checked. Handlers never see raw JSON.
public enum Request: Equatable, Sendable {
    case ping
    case laneRegister(LaneSpec)
    case laneUpdate(name: String, LanePatch)
    case laneList
    case laneGet(name: String)
    case laneRemove(name: String)
    case laneRotateToken(name: String)
    case taskCreate(TaskSpec)
    case taskGet(taskID: String)
    case taskList(status: TaskStatus?, assignee: String?, limit: Int)
    /// The last `maxBytes` of a task's worker log, read where the coordinator keeps the logs.
    case taskLog(taskID: String, maxBytes: Int)
    case taskAssign(taskID: String, assignee: String?)
    case taskLink(parent: String, child: String)
    /// Admin: take a running task back from whoever holds it (its claim token dies).
    case taskReclaim(taskID: String, reason: String?)
    /// Admin: put a blocked task (given up, or blocked by its worker) back in play.
    case taskUnblock(taskID: String)
    /// Admin: remove workspaces (scratch dirs, worktrees) of finished tasks, on one lane or all.
    case workspacePrune(lane: String?)
    case claim(ClaimRequest)
    case heartbeat(ClaimRef, note: String?, metadata: JSONValue?)
    /// `claimNext`: in the same transaction, claim the lane's next best task and return it too.
    case complete(ClaimRef, result: String?, summary: String?, metadata: JSONValue?, claimNext: Bool)
    case block(ClaimRef, reason: String?, kind: String?)
    /// `retryAfterSeconds`: the task is held back that long before it is claimable again (a worker
    /// that was rate-limited); no failure is counted either way.
    case release(ClaimRef, reason: String?, retryAfterSeconds: Int? = nil)
    /// The claim's worker failed: the run ends `crashed` and counts a failure (retried, or given up at
    /// the limit), as a spawned worker's crash does. `exitCode`/`signal` describe how it ended.
    case fail(ClaimRef, reason: String?, exitCode: Int?, signal: Int?)
    /// Appends `chunk` to the task's worker log and renews the lease: output is a sign of life.
    case logAppend(ClaimRef, chunk: String)
    /// A runner's report of itself, for `lane.list` and `stats` (kept in memory, dropped when stale).
    case runnerReport(RunnerReport)
    case events(since: Int64, limit: Int, lane: String?)
    /// Per-lane counts now, and throughput and claim latency over the last `windowSeconds`.
    case stats(windowSeconds: Int)

    /// The most of a worker log `task.log` returns: enough to see how a run ended, small enough to
    /// read on the owner thread in one bounded `pread`.
    public static let maxLogTailBytes = 64 * 1024
    /// The most one `log.append` carries: a runner sends a busy worker's output in chunks this big.
    public static let maxLogChunkBytes = 32 * 1024

    /// What a stored reply may answer: the op and, where there is one, the task (a `request_id`
    /// reused for another request must not be answered with the first one's reply).
    public var replayScope: String {
        switch self {
        case .taskGet(let id), .taskAssign(let id, _), .taskReclaim(let id, _), .taskUnblock(let id), .taskLog(let id, _):
            return op.rawValue + " " + id
        case .taskLink(let parent, let child): return op.rawValue + " " + parent + ">" + child
        case .claim(let c): return op.rawValue + " " + c.lane + (c.taskID.map { " " + $0 } ?? "")
        case .heartbeat(let ref, _, _), .complete(let ref, _, _, _, _), .block(let ref, _, _), .release(let ref, _, _),
             .fail(let ref, _, _, _), .logAppend(let ref, _):
            return op.rawValue + " " + ref.taskID
        case .runnerReport(let r): return op.rawValue + " " + r.lane
        case .laneUpdate(let name, _), .laneGet(let name), .laneRemove(let name), .laneRotateToken(let name):
            return op.rawValue + " " + name
        case .laneRegister(let spec): return op.rawValue + " " + spec.lane.name
        case .ping, .laneList, .taskCreate, .taskList, .workspacePrune, .events, .stats:
            return op.rawValue
        }
    }

    /// The op this request is sent as.
    public var op: Op {
        switch self {
        case .ping: return .ping
        case .laneRegister: return .laneRegister
        case .laneUpdate: return .laneUpdate
        case .laneList: return .laneList
        case .laneGet: return .laneGet
        case .laneRemove: return .laneRemove
        case .laneRotateToken: return .laneRotateToken
        case .taskCreate: return .taskCreate
        case .taskGet: return .taskGet
        case .taskList: return .taskList
        case .taskLog: return .taskLog
        case .taskAssign: return .taskAssign
        case .taskLink: return .taskLink
        case .taskReclaim: return .taskReclaim
        case .taskUnblock: return .taskUnblock
        case .workspacePrune: return .workspacePrune
        case .claim: return .claim
        case .heartbeat: return .heartbeat
        case .complete: return .complete
        case .block: return .block
        case .release: return .release
        case .fail: return .fail
        case .logAppend: return .logAppend
        case .runnerReport: return .runnerReport
        case .events: return .events
        case .stats: return .stats
        }
    }

    /// True for ops that change the board (and so honour `request_id`); classified per op in `Op`.
    public var isMutation: Bool { op.isMutation }
}

/// A full lane definition, as `lane.register` takes it.
public struct LaneSpec: Equatable, Sendable {
    public var lane: Lane
    public init(lane: Lane) { self.lane = lane }
}

/// A claim request: one eligible task of `lane`, or the named one.
public struct ClaimRequest: Equatable, Sendable {
    public var lane: String
    public var taskID: String?
    public var leaseSeconds: Int?
    /// Block up to this long for work (parked claims; 0 answers at once).
    public var waitMs: Int
    public init(lane: String, taskID: String? = nil, leaseSeconds: Int? = nil, waitMs: Int = 0) {
        self.lane = lane; self.taskID = taskID; self.leaseSeconds = leaseSeconds; self.waitMs = waitMs
    }
}

/// What a runner (`kanban-bridge runner`, on any host) says of itself for one lane it serves.
public struct RunnerReport: Equatable, Sendable {
    public var lane: String
    /// Stable for the runner's life: `host:pid:start`.
    public var runnerID: String
    public var host: String
    public var pid: Int
    public var slots: Int
    /// Task ids it runs for this lane now.
    public var running: [String]
    public var version: String?
    public init(lane: String, runnerID: String, host: String, pid: Int, slots: Int, running: [String], version: String? = nil) {
        self.lane = lane; self.runnerID = runnerID; self.host = host; self.pid = pid; self.slots = slots
        self.running = running; self.version = version
    }
}

/// The task and claim token every claim-scoped op presents.
public struct ClaimRef: Equatable, Sendable {
    public var taskID: String
    public var claimToken: String
    public init(taskID: String, claimToken: String) { self.taskID = taskID; self.claimToken = claimToken }
}

/// A decoded request with its envelope fields.
public struct DecodedRequest: Equatable, Sendable {
    public var op: String
    public var auth: String?
    public var requestID: String?
    public var request: Request
    /// How long the client waits for the reply (`timeout_ms`): a write that cannot get the board's
    /// lock is answered `busy` before then. Nil: the coordinator's default.
    public var timeoutMs: Int?

    public init(op: String, auth: String?, requestID: String?, request: Request, timeoutMs: Int? = nil) {
        self.op = op; self.auth = auth; self.requestID = requestID; self.request = request; self.timeoutMs = timeoutMs
    }
}
