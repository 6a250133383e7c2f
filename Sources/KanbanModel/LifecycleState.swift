/// The snapshots `TaskLifecycle` decides on: what a store reads (inside its write transaction)
/// about the task and the claim a command touches.

/// A task as the lifecycle needs it.
public struct TaskState: Equatable, Sendable {
    public var id: String
    public var status: TaskStatus
    public var assignee: String?
    public var priority: Int
    public var claimLock: String?
    public var currentRunID: Int64?
    public var blockKind: String?
    public var blockRecurrences: Int
    public var consecutiveFailures: Int
    /// The task's own retry limit (Hermes' `max_retries`); nil means the board's.
    public var maxRetries: Int?
    /// Every parent is done or archived (true without parents). A store answers this with one
    /// indexed "any unfinished parent?" probe, never by loading the parents: a task may have
    /// thousands, and link, claim and promotion must not cost more for it (issue #19, finding 7).
    public var parentsFinished: Bool
    /// True while a failed run's retry backoff is not over.
    public var backingOff: Bool

    public init(id: String, status: TaskStatus, assignee: String? = nil, priority: Int = 0, claimLock: String? = nil,
                currentRunID: Int64? = nil, blockKind: String? = nil, blockRecurrences: Int = 0, consecutiveFailures: Int = 0,
                maxRetries: Int? = nil, parentStatuses: [TaskStatus] = [], parentsFinished: Bool? = nil, backingOff: Bool = false) {
        self.id = id; self.status = status; self.assignee = assignee; self.priority = priority; self.claimLock = claimLock
        self.currentRunID = currentRunID; self.blockKind = blockKind; self.blockRecurrences = blockRecurrences
        self.consecutiveFailures = consecutiveFailures; self.maxRetries = maxRetries
        // `parentStatuses` spells out a few parents (tests, small boards); `parentsFinished` is what a store knows.
        self.parentsFinished = parentsFinished ?? parentStatuses.allSatisfy(\.releasesChildren); self.backingOff = backingOff
    }
}

/// A bridge claim (`bridge_claims`): the run it opened, its lane and lease.
public struct ClaimState: Equatable, Sendable {
    public var runID: Int64
    public var taskID: String
    public var lane: String
    public var leaseMs: Int64
    public var leaseExpiresAtMs: Int64
    /// The bridge ended it (completed, released, expired, lost …).
    public var ended: Bool

    public init(runID: Int64, taskID: String, lane: String, leaseMs: Int64, leaseExpiresAtMs: Int64, ended: Bool = false) {
        self.runID = runID; self.taskID = taskID; self.lane = lane; self.leaseMs = leaseMs
        self.leaseExpiresAtMs = leaseExpiresAtMs; self.ended = ended
    }
}

/// A task as a store loads it for a command: the row the reply shows, and the lifecycle's view.
public struct TaskSnapshot: Equatable, Sendable {
    public var record: TaskRecord
    public var state: TaskState
    public init(record: TaskRecord, state: TaskState) { self.record = record; self.state = state }
}

extension TaskRecord {
    /// The row after `update` was written: a reply built from the rows a command touched, without
    /// reading the task again. `startedAt` follows `COALESCE`; fields the record does not show are ignored.
    public func applying(_ update: TaskUpdate?) -> TaskRecord {
        guard let update else { return self }
        var r = self
        for (field, value) in update.fields {
            switch field {
            case .status: if case .text(let s) = value { r.status = TaskStatus(rawValue: s) ?? .triage }
            case .assignee: r.assignee = value.text
            case .result: r.result = value.text
            case .completedAt: r.completedAt = value.int
            case .startedAt: r.startedAt = r.startedAt ?? value.int
            case .claimLock: r.claimLock = value.text
            case .claimExpires: r.claimExpires = value.int
            case .currentRunID: r.currentRunID = value.int
            case .lastHeartbeatAt: r.lastHeartbeatAt = value.int
            case .workerPID, .blockKind, .blockRecurrences, .consecutiveFailures, .lastFailureError, .maxRetries: break
            }
        }
        return r
    }
}

extension FieldValue {
    var text: String? { if case .text(let s) = self { return s }; return nil }
    var int: Int64? {
        switch self {
        case .int(let i), .unlessSet(let i): return i
        case .null, .text: return nil
        }
    }
}
