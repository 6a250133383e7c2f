import GRDB
import KanbanModel

/// Snapshots for the lifecycle, read inside the write transaction. Each is one statement, bound by
/// position and read by column index (GRDB's lookup by name lowercases every column name per row).
extension SQLiteBoard {
    public func inTransaction<T>(_ body: () throws -> T) throws -> T { try write { _ in try body() } }

    /// The task row, its parents with their statuses, its children and whether it backs off: one statement.
    /// Parent and child ids are joined with control characters Hermes' ids (`t_` + hex) never hold.
    static let snapshotSQL = """
        SELECT \(taskColumns), block_kind, block_recurrences, consecutive_failures, max_retries,
          (SELECT group_concat(l.parent_id || char(31) || COALESCE(p.status, ''), char(30))
             FROM task_links l LEFT JOIN tasks p ON p.id = l.parent_id WHERE l.child_id = tasks.id),
          (SELECT group_concat(child_id, char(30)) FROM task_links WHERE parent_id = tasks.id),
          EXISTS (SELECT 1 FROM bridge_backoff b WHERE b.task_id = tasks.id AND b.not_before_ms > ?)
        FROM tasks
        """

    public func taskSnapshot(id: String, nowMs: Int64) throws -> TaskSnapshot? {
        try read { db in try snapshot(in: db, id: id, nowMs: nowMs) }
    }

    /// `taskSnapshot` inside a transaction the caller holds (`task(id:)`, `createTask`).
    func snapshot(in db: Database, id: String, nowMs: Int64) throws -> TaskSnapshot? {
        let q = try prepared(Hot.snapshotByID.rawValue, db, Self.snapshotSQL + " WHERE id = ?")
        q.bind(.int(nowMs), .text(id))
        guard try q.next() else { return nil }
        defer { q.reset() }
        return Self.snapshot(q)
    }

    public func nextCandidate(lane: String, nowMs: Int64) throws -> TaskSnapshot? {
        try read { db in
            let q = try prepared(Hot.nextCandidate.rawValue, db, Self.snapshotSQL + """
                 WHERE assignee = ? AND status = 'ready' AND claim_lock IS NULL
                  AND NOT EXISTS (SELECT 1 FROM bridge_backoff b WHERE b.task_id = tasks.id AND b.not_before_ms > ?)
                ORDER BY priority DESC, created_at ASC, rowid ASC LIMIT 1
                """)
            q.bind(.int(nowMs), .text(lane), .int(nowMs))
            guard try q.next() else { return nil }
            defer { q.reset() }
            return Self.snapshot(q)
        }
    }

    /// A row of `snapshotSQL`.
    static func snapshot(_ row: SQLStatement) -> TaskSnapshot {
        var parents: [String] = [], parentStatuses: [TaskStatus] = []
        if let joined = row.text(21) {
            for pair in joined.split(separator: "\u{1E}") {
                let parts = pair.split(separator: "\u{1F}", maxSplits: 1, omittingEmptySubsequences: false)
                parents.append(String(parts[0]))
                // A link to a parent that no longer exists does not hold the child back (Hermes deletes tasks).
                if parts.count == 2, !parts[1].isEmpty { parentStatuses.append(TaskStatus(rawValue: String(parts[1])) ?? .triage) }
            }
        }
        let children = row.text(22).map { $0.split(separator: "\u{1E}").map(String.init).sorted() } ?? []
        let record = Self.record(row, parents: parents.sorted(), children: children)
        let state = TaskState(
            id: record.id, status: record.status, assignee: record.assignee, priority: record.priority,
            claimLock: record.claimLock, currentRunID: record.currentRunID, blockKind: row.text(17),
            blockRecurrences: Int(row.int(18)), consecutiveFailures: Int(row.int(19)), maxRetries: row.optionalInt(20).map { Int($0) },
            parentStatuses: parentStatuses, backingOff: row.int(23) != 0)
        return TaskSnapshot(record: record, state: state)
    }

    static let claimColumns = "run_id, task_id, lane, lease_ms, lease_expires_ms, ended_at_ms"

    /// The current row of a `claimColumns` query.
    static func claimRow(_ q: SQLStatement) -> ClaimState {
        ClaimState(runID: q.int(0), taskID: q.text(1) ?? "", lane: q.text(2) ?? "", leaseMs: q.int(3),
                   leaseExpiresAtMs: q.int(4), ended: !q.isNull(5))
    }

    /// The one claim row of a `claimColumns` query, if it has one.
    static func claim(_ q: SQLStatement) throws -> ClaimState? {
        guard try q.next() else { return nil }
        defer { q.reset() }
        return claimRow(q)
    }

    public func claimState(tokenHash: String) throws -> ClaimState? {
        try read { db in
            let q = try prepared(Hot.claimByToken.rawValue, db, "SELECT \(Self.claimColumns) FROM bridge_claims WHERE token_hash = ?")
            q.bind(.text(tokenHash))
            return try Self.claim(q)
        }
    }

    public func openClaim(runID: Int64) throws -> ClaimState? {
        try read { db in
            let q = try prepared(Hot.openClaimByRun.rawValue, db,
                                 "SELECT \(Self.claimColumns) FROM bridge_claims WHERE run_id = ? AND ended_at_ms IS NULL")
            q.bind(.int(runID))
            return try Self.claim(q)
        }
    }

    public func expiredClaims(nowMs: Int64) throws -> [ClaimState] {
        try read { db in
            let q = try prepared(Hot.expiredClaims.rawValue, db, """
                SELECT \(Self.claimColumns) FROM bridge_claims WHERE ended_at_ms IS NULL AND lease_expires_ms <= ?
                ORDER BY lease_expires_ms
                """)
            q.bind(.int(nowMs))
            var expired: [ClaimState] = []
            while try q.next() { expired.append(Self.claimRow(q)) }
            return expired
        }
    }

    public func liveClaimCount(lane: String) throws -> Int {
        try read { db in
            let q = try prepared(Hot.liveClaims.rawValue, db, Self.liveClaimsSQL)
            q.bind(.text(lane))
            guard try q.next() else { return 0 }
            defer { q.reset() }
            return Int(q.int(0))
        }
    }

    public func waitingChildren(of parent: String) throws -> [String] {
        try read { db in
            let q = try prepared(Hot.waitingChildren.rawValue, db, """
                SELECT t.id FROM task_links l JOIN tasks t ON t.id = l.child_id WHERE l.parent_id = ? AND t.status = 'todo'
                ORDER BY t.id
                """)
            q.bind(.text(parent))
            var children: [String] = []
            while try q.next() { if let id = q.text(0) { children.append(id) } }
            return children
        }
    }

    public func closesCycle(parent: String, child: String) throws -> Bool {
        try read { db in
            try Readiness.wouldCycle(parent: parent, child: child) { node in
                try String.fetchAll(db.cachedStatement(sql: "SELECT child_id FROM task_links WHERE parent_id = ?"), arguments: [node])
            }
        }
    }

    public func openRun(taskID: String, profile: String, nowMs: Int64) throws -> Int64 {
        try write { db in
            let now = nowMs / 1000
            let q = try prepared(Hot.openRun.rawValue, db, """
                INSERT INTO task_runs (task_id, profile, step_key, status, started_at, last_heartbeat_at)
                SELECT id, ?, current_step_key, 'running', ?, ? FROM tasks WHERE id = ?
                """)
            q.bind(.text(profile), .int(now), .int(now), .text(taskID))
            try q.run()
            return q.lastInsertedRowID
        }
    }

    public func takeDueBackoffs(nowMs: Int64) throws -> [(taskID: String, lastRunID: Int64?)] {
        try write { db in
            let due = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT b.task_id, (SELECT MAX(run_id) FROM bridge_claims c WHERE c.task_id = b.task_id)
                FROM bridge_backoff b WHERE b.not_before_ms <= ? ORDER BY b.not_before_ms
                """), arguments: [nowMs]).map { (taskID: $0[0] as String, lastRunID: $0[1] as Int64?) }
            try db.cachedStatement(sql: "DELETE FROM bridge_backoff WHERE not_before_ms <= ?").execute(arguments: [nowMs])
            timers.fired()
            return due
        }
    }

    public func claimMode(ofLane name: String) throws -> ClaimMode? {
        try laneDefinition(named: name)?.claimMode
    }

    public func nextBackoffEnd() throws -> Int64? {
        if let known = timers.due { return known }
        let due = try read { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT MIN(not_before_ms) FROM bridge_backoff"))
        }
        timers.learned(due)
        return due
    }
}

/// The next backoff end, kept in memory: the coordinator is the only writer of `bridge_backoff`, so
/// it learns every new due time as it writes it. The value is a lower bound: a backoff cleared or a
/// rollback leaves it early, which costs one wake-up that finds nothing due and reads the true value
/// again. (Lease ends are the coordinator's, on monotonic time: `LeaseDeadlines`.)
struct TimerHint {
    private(set) var due: Int64??
    /// A new backoff ends at `ms`.
    mutating func add(_ ms: Int64) {
        if case .some(let known) = due { due = .some(known.map { min($0, ms) } ?? ms) }
    }
    /// Read from the table.
    mutating func learned(_ ms: Int64?) { due = .some(ms) }
    /// Backoffs ended (or a rollback may have undone a write): read again next time.
    mutating func fired() { due = nil }
}

/// Keys of the hot path's prepared statements (`PreparedStatements`). Task updates, whose SQL depends
/// on the fields they set, use keys from `EffectWriter.updateKey` above this range.
enum Hot: Int {
    case snapshotByID, nextCandidate, claimByToken, openClaimByRun, expiredClaims, liveClaims, waitingChildren, openRun
    case runOpen, claimInsert, runExtend, claimExtend, runClose, claimClose, runCloseStale, claimLost
    case backoffInsert, backoffDelete, linkInsert, hermesEvent, publishedEvent, savedReply, saveReply
    case savepoint, release, rollbackTo, beginImmediate, beginDeferred, commit, rollback
    case openClaims
}
