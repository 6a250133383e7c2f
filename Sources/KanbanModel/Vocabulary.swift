/// Hermes Kanban task statuses, spelled as Hermes stores them.
public enum TaskStatus: String, CaseIterable, Codable, Sendable {
    case triage, todo, scheduled, ready, running, blocked, review, done, archived

    /// A parent in one of these statuses no longer holds its children back.
    public var releasesChildren: Bool { self == .done || self == .archived }
}

/// How a lane gets its work.
public enum LaneKind: String, CaseIterable, Codable, Sendable {
    /// A long-lived worker that pulls or watches; the coordinator never starts it.
    case persistent
    /// The coordinator starts the lane's command per task, one at a time by default.
    case spawn
    /// Like `spawn`, with up to `max_concurrency` tasks at once.
    case pool

    /// Only spawn and pool lanes are ever started by the dispatcher.
    public var isSpawned: Bool { self != .persistent }
}

/// How a lane learns about work.
public enum ClaimMode: String, CaseIterable, Codable, Sendable {
    case pull, watch
    case pullOrWatch = "pull-or-watch"

    /// Watch lanes are told about work (`available` events); pull lanes ask for it.
    public var announcesWork: Bool { self != .pull }
    /// Pull lanes ask for their best task, or wait for one (`wait_ms`); watch lanes claim the task
    /// an `available` event named.
    public var mayPull: Bool { self != .watch }
}

/// Where a spawned task runs.
public enum WorkspacePolicy: String, CaseIterable, Codable, Sendable {
    case none, scratch
    case worktreePerTask = "worktree-per-task"
}

/// Which status changes a lane may make. One value today: only on tasks it holds a live claim on.
public enum StatusMutationPolicy: String, CaseIterable, Codable, Sendable {
    case ownClaimedOnly = "own-claimed-only"
}

/// Who is asking: the board's administrator, or one registered lane.
public enum Principal: Hashable, Sendable, CustomStringConvertible {
    case admin
    case lane(String)

    /// A stable key for per-principal bookkeeping (request ids).
    public var key: String {
        switch self {
        case .admin: return "admin"
        case .lane(let name): return "lane:\(name)"
        }
    }

    public var description: String { key }
}

/// Names of the events the bridge publishes. Events imported from Hermes may carry other kinds.
public enum EventType {
    public static let created = "created"
    public static let available = "available"
    public static let claimed = "claimed"
    public static let heartbeat = "heartbeat"
    public static let completed = "completed"
    public static let blocked = "blocked"
    public static let released = "released"
    public static let timedOut = "timed_out"
    public static let gaveUp = "gave_up"
    public static let reclaimed = "reclaimed"
    public static let assigned = "assigned"
    public static let unblocked = "unblocked"
    public static let linked = "linked"
    public static let promoted = "promoted"
    public static let claimRejected = "claim_rejected"
    public static let laneRegistered = "lane_registered"
    public static let laneUpdated = "lane_updated"
    public static let laneRemoved = "lane_removed"
}
