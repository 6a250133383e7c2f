/// A registered lane: who may claim which tasks, and how (for spawn/pool lanes) to start them.
public struct Lane: Equatable, Sendable {
    public var name: String
    public var kind: LaneKind
    public var claimMode: ClaimMode
    public var maxConcurrency: Int
    /// Lease length for this lane's claims; nil means the board default.
    public var leaseSeconds: Int?
    public var allowedStatusMutations: StatusMutationPolicy
    /// For spawn/pool lanes: argv template. Stored now, used by the dispatcher.
    public var command: [String]?
    public var profile: String?
    public var workspacePolicy: WorkspacePolicy
    public var repo: String?
    /// For spawn/pool lanes: kill a run that lasts longer (a task's own `max_runtime_seconds` wins).
    public var maxRuntimeSeconds: Int?
    /// For `scratch` workspaces: keep the directory after the task completes.
    public var keepWorkspaces: Bool
    /// The lane's CURVE public key (Z85): with CURVE on, a connection with this key acts as the lane.
    public var curvePublicKey: String?
    /// For spawn/pool lanes of a Hermes profile: the memory setting as registered; nil follows
    /// `max_concurrency` (`memoryMode`).
    public var memory: MemoryMode?
    /// For `propose`: the lane that gets a task to review each run's proposals ("review memory
    /// proposed by run N of task T"), so the profile's owner consolidates in a session of its own.
    public var memoryOwner: String?
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(name: String, kind: LaneKind = .persistent, claimMode: ClaimMode = .pullOrWatch,
                maxConcurrency: Int = 1, leaseSeconds: Int? = nil,
                allowedStatusMutations: StatusMutationPolicy = .ownClaimedOnly,
                command: [String]? = nil, profile: String? = nil,
                workspacePolicy: WorkspacePolicy = .none, repo: String? = nil,
                maxRuntimeSeconds: Int? = nil, keepWorkspaces: Bool = false, curvePublicKey: String? = nil,
                memory: MemoryMode? = nil, memoryOwner: String? = nil, createdAt: Int64 = 0, updatedAt: Int64 = 0) {
        self.name = name; self.kind = kind; self.claimMode = claimMode
        self.maxConcurrency = maxConcurrency; self.leaseSeconds = leaseSeconds
        self.allowedStatusMutations = allowedStatusMutations; self.command = command
        self.profile = profile; self.workspacePolicy = workspacePolicy; self.repo = repo
        self.maxRuntimeSeconds = maxRuntimeSeconds; self.keepWorkspaces = keepWorkspaces
        self.curvePublicKey = curvePublicKey; self.memory = memory; self.memoryOwner = memoryOwner
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }
}

extension Lane {
    /// What the lane's runs may do to their profile's memory: the registered setting, else `shared`
    /// for one run at a time and `propose` for a pool of several. A lane without a Hermes profile, or
    /// one never spawned, has no profile memory of its own to protect: `shared`.
    public var memoryMode: MemoryMode {
        guard kind.isSpawned, profile != nil else { return .shared }
        return memory ?? ProfileMemory.defaultMode(maxConcurrency: maxConcurrency)
    }
}

/// A lane with its live slot usage, as `lane.list` shows it.
public struct LaneSummary: Equatable, Sendable {
    public var lane: Lane
    /// Live claims held by the lane.
    public var running: Int
    /// Tasks in `ready` assigned to the lane.
    public var queued: Int
    /// When the longest-waiting ready task was created (Hermes seconds), if any.
    public var oldestQueuedAt: Int64?
    /// The live claims, for spotting stuck slots.
    public var claims: [LiveClaimInfo]

    public init(lane: Lane, running: Int, queued: Int, oldestQueuedAt: Int64? = nil, claims: [LiveClaimInfo] = []) {
        self.lane = lane; self.running = running; self.queued = queued
        self.oldestQueuedAt = oldestQueuedAt; self.claims = claims
    }
}

/// One live claim as dashboards see it (never its token).
public struct LiveClaimInfo: Equatable, Sendable {
    public var taskID: String
    public var runID: Int64
    public var claimedAtMs: Int64
    public var leaseMs: Int64
    public var leaseExpiresAtMs: Int64
    /// Hermes' `last_heartbeat_at` (seconds).
    public var lastHeartbeatAt: Int64?

    public init(taskID: String, runID: Int64, claimedAtMs: Int64, leaseMs: Int64, leaseExpiresAtMs: Int64, lastHeartbeatAt: Int64?) {
        self.taskID = taskID; self.runID = runID; self.claimedAtMs = claimedAtMs; self.leaseMs = leaseMs
        self.leaseExpiresAtMs = leaseExpiresAtMs; self.lastHeartbeatAt = lastHeartbeatAt
    }

    /// A slot looks stuck when its lease is in its last fifth, or it has not heartbeaten for half a lease.
    public func isStuck(nowMs: Int64) -> Bool {
        let remaining = leaseExpiresAtMs - nowMs
        if remaining < leaseMs / 5 { return true }
        let lastSign = max(claimedAtMs, (lastHeartbeatAt ?? 0) * 1000)
        return nowMs - lastSign > leaseMs / 2
    }
}

/// A task row as the bridge reads it from the Hermes `tasks` table.
public struct TaskRecord: Equatable, Sendable {
    public var id: String
    public var title: String
    public var body: String?
    public var assignee: String?
    public var status: TaskStatus
    public var priority: Int
    public var tenant: String?
    public var idempotencyKey: String?
    public var createdAt: Int64
    public var startedAt: Int64?
    public var completedAt: Int64?
    public var result: String?
    public var claimLock: String?
    public var claimExpires: Int64?
    public var currentRunID: Int64?
    public var lastHeartbeatAt: Int64?
    /// Hermes' per-task run time limit (a lane's limit applies when nil).
    public var maxRuntimeSeconds: Int?
    public var parents: [String]
    public var children: [String]
    /// `parents` and `children` list only the first `replyLinkCap` links (a `task.link` reply: its
    /// cost must not grow with a task's links; `task.get` lists them all).
    public var linksTruncated = false

    /// The most links a capped list shows.
    public static let replyLinkCap = 100

    public init(id: String, title: String, body: String? = nil, assignee: String? = nil,
                status: TaskStatus, priority: Int = 0, tenant: String? = nil, idempotencyKey: String? = nil,
                createdAt: Int64, startedAt: Int64? = nil, completedAt: Int64? = nil, result: String? = nil,
                claimLock: String? = nil, claimExpires: Int64? = nil, currentRunID: Int64? = nil,
                lastHeartbeatAt: Int64? = nil, maxRuntimeSeconds: Int? = nil, parents: [String] = [], children: [String] = []) {
        self.id = id; self.title = title; self.body = body; self.assignee = assignee
        self.status = status; self.priority = priority; self.tenant = tenant
        self.idempotencyKey = idempotencyKey; self.createdAt = createdAt; self.startedAt = startedAt
        self.completedAt = completedAt; self.result = result; self.claimLock = claimLock
        self.claimExpires = claimExpires; self.currentRunID = currentRunID
        self.lastHeartbeatAt = lastHeartbeatAt; self.maxRuntimeSeconds = maxRuntimeSeconds
        self.parents = parents; self.children = children
    }
}

/// One attempt at a task (a row of Hermes `task_runs`).
public struct RunRecord: Equatable, Sendable {
    public var id: Int64
    public var taskID: String
    public var profile: String?
    public var status: String
    public var outcome: String?
    public var summary: String?
    public var error: String?
    public var claimLock: String?
    public var startedAt: Int64
    public var endedAt: Int64?
    /// The lane whose claim the run was (nil: a run of Hermes' own dispatcher). `profile` is the Hermes
    /// profile the run ran, which a pool shares with others.
    public var lane: String?

    public init(id: Int64, taskID: String, profile: String?, status: String, outcome: String?,
                summary: String?, error: String?, claimLock: String?, startedAt: Int64, endedAt: Int64?, lane: String? = nil) {
        self.id = id; self.taskID = taskID; self.profile = profile; self.status = status
        self.outcome = outcome; self.summary = summary; self.error = error
        self.claimLock = claimLock; self.startedAt = startedAt; self.endedAt = endedAt; self.lane = lane
    }
}

/// A task together with its run history, as `task.get` returns it.
public struct TaskDetail: Equatable, Sendable {
    public var task: TaskRecord
    public var runs: [RunRecord]
    public init(task: TaskRecord, runs: [RunRecord]) { self.task = task; self.runs = runs }
}

/// What a successful claim hands to the lane. The token is only ever here, in clear, once.
public struct ClaimGrant: Equatable, Sendable {
    public var task: TaskRecord
    public var token: String
    public var runID: Int64
    public var leaseExpiresAtMs: Int64
    public init(task: TaskRecord, token: String, runID: Int64, leaseExpiresAtMs: Int64) {
        self.task = task; self.token = token; self.runID = runID; self.leaseExpiresAtMs = leaseExpiresAtMs
    }
}

/// One published event, sequenced by the bridge's event log.
public struct BoardEvent: Equatable, Sendable {
    /// Strictly increasing over the whole stream.
    public var seq: Int64
    public var type: String
    public var taskID: String?
    /// The task's assignee (the topic prefix), or nil for none.
    public var lane: String?
    public var runID: Int64?
    /// Milliseconds since the Unix epoch.
    public var atMs: Int64
    public var data: JSONValue

    public init(seq: Int64, type: String, taskID: String?, lane: String?, runID: Int64?, atMs: Int64, data: JSONValue) {
        self.seq = seq; self.type = type; self.taskID = taskID; self.lane = lane
        self.runID = runID; self.atMs = atMs; self.data = data
    }

    /// The PUB topic: `<lane>.<type>`, `_` standing for no lane.
    public var topic: String { "\(lane ?? "_").\(type)" }
}
