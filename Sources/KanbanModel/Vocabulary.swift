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

/// What a spawned run of a Hermes profile may do to the profile's durable memory (MEMORY.md, USER.md)
/// and skills (`ProfileMemory`, docs/HERMES.md "Pooled runs and profile memory").
public enum MemoryMode: String, CaseIterable, Codable, Sendable {
    /// Writes go to the profile directly, as in the owner's own sessions.
    case shared
    /// The run works on a copy; what it wrote is staged in the profile's pending store for review.
    case propose
    /// The run works on a copy; what it wrote is dropped, and its log says so.
    case readOnly = "read-only"
}

/// Which status changes a lane may make. One value today: only on tasks it holds a live claim on.
public enum StatusMutationPolicy: String, CaseIterable, Codable, Sendable {
    case ownClaimedOnly = "own-claimed-only"
}

/// Who is asking: the board's administrator, or one registered lane.
public enum Principal: Hashable, Sendable, CustomStringConvertible {
    case admin
    case lane(String)
    /// A worker the dispatcher spawned for one run of a lane: it may act on that run's claim and read
    /// what the run needs, nothing else, and only while the run is live.
    case worker(lane: String, runID: Int64)

    /// A stable key for per-principal bookkeeping (request ids).
    public var key: String {
        switch self {
        case .admin: return "admin"
        case .lane(let name): return "lane:\(name)"
        case .worker(let lane, let runID): return "worker:\(lane):\(runID)"
        }
    }

    public var description: String { key }
}

/// Every event kind the bridge itself writes: a closed set, so a new kind must be named here (and
/// classified below) before any code can write it. Events imported from Hermes keep Hermes' own
/// kind string (`BoardEvent.type`), which may be one of these or any other.
public enum EventKind: String, CaseIterable, Codable, Sendable {
    case created, available, claimed, heartbeat, completed, blocked, released
    case timedOut = "timed_out"
    case gaveUp = "gave_up"
    case reclaimed, assigned, unblocked, linked, promoted
    case claimRejected = "claim_rejected"
    case spawned, crashed
    case spawnFailed = "spawn_failed"
    case laneRegistered = "lane_registered"
    case laneUpdated = "lane_updated"
    case laneRemoved = "lane_removed"

    /// After an event of this kind the task can be claimed again: where a claim's wait starts
    /// (`stats`' claim latency). Exhaustive, like `audience`.
    public var startsWait: Bool {
        switch self {
        case .created, .promoted, .released, .timedOut, .crashed, .spawnFailed, .reclaimed, .unblocked, .available, .assigned:
            return true
        case .claimed, .heartbeat, .completed, .blocked, .gaveUp, .linked, .claimRejected, .spawned,
             .laneRegistered, .laneUpdated, .laneRemoved:
            return false
        }
    }

    /// Where a row of this kind is written. Hermes reads `task_events`; subscribers read the
    /// published stream. Exhaustive on purpose: a new kind must say where it goes.
    public var audience: EventAudience {
        switch self {
        case .available, .laneRegistered, .laneUpdated, .laneRemoved: return .subscribersOnly
        case .created, .claimed, .heartbeat, .completed, .blocked, .released, .timedOut, .gaveUp, .reclaimed,
             .assigned, .unblocked, .linked, .promoted, .claimRejected, .spawned, .crashed, .spawnFailed:
            return .hermesAndSubscribers
        }
    }
}

/// Who sees an event row.
public enum EventAudience: Sendable {
    /// A `task_events` row Hermes shows, mirrored into the published stream.
    case hermesAndSubscribers
    /// Published only (`available`, the lane registry): Hermes has no such kinds.
    case subscribersOnly
    /// A `task_events` row for Hermes alone (the `promoted` row that dates a requeued task).
    case hermesOnly
}

/// How a bridge claim's run ended: `task_runs.outcome` as Hermes reads it, and the claim's end.
public enum RunOutcome: String, CaseIterable, Codable, Sendable {
    case completed, blocked, released, reclaimed
    case timedOut = "timed_out"
    case crashed
    case spawnFailed = "spawn_failed"

    /// `task_runs.status` for this outcome (Hermes writes `done` for a completed run).
    public var runStatus: String { self == .completed ? "done" : rawValue }

    /// The worker ended the run itself (it exits on its own: nothing to stop).
    public var endedByWorker: Bool {
        switch self {
        case .completed, .blocked, .released: return true
        case .reclaimed, .timedOut, .crashed, .spawnFailed: return false
        }
    }

    /// The outcomes that count as a failure against the task (Hermes' circuit breaker).
    public var isFailure: Bool {
        switch self {
        case .timedOut, .crashed, .spawnFailed: return true
        case .completed, .blocked, .released, .reclaimed: return false
        }
    }

    /// The event that records this outcome.
    public var event: EventKind {
        switch self {
        case .completed: return .completed
        case .blocked: return .blocked
        case .released: return .released
        case .reclaimed: return .reclaimed
        case .timedOut: return .timedOut
        case .crashed: return .crashed
        case .spawnFailed: return .spawnFailed
        }
    }
}
