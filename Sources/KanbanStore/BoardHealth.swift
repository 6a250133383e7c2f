import KanbanModel

/// A write whose guard failed right after a snapshot in the same transaction said it would hold: the
/// board contradicts itself (a damaged index: issue #19, finding 3). Nobody else can have written in
/// between, so this is never a lost race.
public struct BoardInconsistency: Sendable, Equatable {
    public var taskID: String
    public var what: String
    public init(taskID: String, what: String) { self.taskID = taskID; self.what = what }
}

/// What `PRAGMA integrity_check` said, run away from the owner thread (IntegrityMonitor.swift).
public enum IntegrityStatus: Sendable, Equatable {
    /// Not started (a store that was not asked to check).
    case notChecked
    case pending
    case ok
    /// `count` findings (SQLite stops at 100), the first few in SQLite's words.
    case problems(count: Int, first: [String])
    /// The check itself could not run (e.g. the file went away).
    case failed(String)
}

/// The board's consistency as the coordinator knows it: `stats`, `/metrics` and the log show it.
public struct BoardHealth: Sendable, Equatable {
    public var integrity: IntegrityStatus = .notChecked
    /// Inconsistencies found since the coordinator started.
    public var inconsistencies = 0
    /// Tasks candidate selection steps over, oldest first.
    public var quarantined: [String] = []
    public init() {}
}

/// Tasks the lane's claim loop steps over, because the board contradicts itself about them. Memory
/// only: a restart, or an integrity check that comes back clean (after `REINDEX`), empties it.
/// Bounded: past `capacity` the oldest entry goes (it then fails once more and comes back).
struct Quarantine {
    static let capacity = 256
    private(set) var order: [String] = []
    private var members: Set<String> = []
    var count: Int { order.count }
    func contains(_ id: String) -> Bool { !members.isEmpty && members.contains(id) }
    mutating func insert(_ id: String) {
        guard members.insert(id).inserted else { return }
        order.append(id)
        if order.count > Self.capacity { members.remove(order.removeFirst()) }
    }
    mutating func removeAll() { order.removeAll(); members.removeAll() }
}

extension SQLiteBoard {
    public func noteInconsistency(taskID: String, what: String) {
        inconsistencyCount += 1
        if unloggedInconsistencies.count < 100 { unloggedInconsistencies.append(BoardInconsistency(taskID: taskID, what: what)) }
    }

    public func quarantine(taskID: String) {
        skipped.insert(taskID)
        quarantinedAtCheck = integrity.latestCheck  // only a later clean check lifts it
    }

    /// Inconsistencies found since the last call, for the coordinator's log (at most 100 between calls).
    public func takeInconsistencies() -> [BoardInconsistency] {
        defer { unloggedInconsistencies.removeAll() }
        return unloggedInconsistencies
    }

    /// The integrity check's result, the inconsistencies counted and the quarantine. A clean check
    /// that started after the last task was quarantined empties the quarantine: the board was repaired.
    public func health() -> BoardHealth {
        let (status, startedAt) = integrity.status
        if status == .ok, skipped.count > 0, startedAt > quarantinedAtCheck { skipped.removeAll() }
        var h = BoardHealth()
        h.integrity = status
        h.inconsistencies = inconsistencyCount
        h.quarantined = skipped.order
        return h
    }
}
