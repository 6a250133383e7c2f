import GRDB
import KanbanModel

/// Snapshots for the lifecycle, read inside the write transaction. Each is one statement, bound by
/// position and read by column index (GRDB's lookup by name lowercases every column name per row).
extension SQLiteBoard {
    public func inTransaction<T>(_ body: () throws -> T) throws -> T { try write { _ in try body() } }

    /// The task row, its parents and children, whether it backs off and whether a parent is
    /// unfinished: one statement. Ids are joined with a control character Hermes' ids (`t_` + hex)
    /// never hold. Readiness is one indexed probe (`idx_links_child`, then the parent by id) that
    /// stops at the first unfinished parent; no parent's status comes back to Swift.
    static func snapshotSQL(lists: SnapshotLists) -> String {
        let limit = lists == .capped ? " LIMIT \(TaskRecord.replyLinkCap + 1)" : ""
        return """
        SELECT \(taskColumns), block_kind, block_recurrences, consecutive_failures, max_retries,
          (SELECT group_concat(parent_id, char(30)) FROM (SELECT parent_id FROM task_links WHERE child_id = tasks.id\(limit))),
          (SELECT group_concat(child_id, char(30)) FROM (SELECT child_id FROM task_links WHERE parent_id = tasks.id\(limit))),
          EXISTS (SELECT 1 FROM bridge_backoff b WHERE b.task_id = tasks.id AND b.not_before_ms > ?),
          \(ParentsFinished.unfinishedParentSQL(childID: "tasks.id"))
        FROM tasks
        """
    }

    /// How much of a task's links a snapshot lists: all (replies that show the task in full), or the
    /// first `TaskRecord.replyLinkCap` (link, promotion: their cost must not grow with the links).
    enum SnapshotLists { case all, capped }

    public func taskSnapshot(id: String, nowMs: Int64) throws -> TaskSnapshot? {
        try read { db in try snapshot(in: db, id: id, nowMs: nowMs) }
    }

    public func leanSnapshot(id: String, nowMs: Int64) throws -> TaskSnapshot? {
        try read { db in try snapshot(in: db, id: id, nowMs: nowMs, lists: .capped) }
    }

    /// `taskSnapshot` inside a transaction the caller holds (`task(id:)`, `createTask`).
    func snapshot(in db: Database, id: String, nowMs: Int64, lists: SnapshotLists = .all) throws -> TaskSnapshot? {
        let key = lists == .all ? Hot.snapshotByID : Hot.leanSnapshotByID
        let q = try prepared(key.rawValue, db, Self.snapshotSQL(lists: lists) + " WHERE id = ?")
        q.bind(.int(nowMs), .text(id))
        guard try q.next() else { return nil }
        defer { q.reset() }
        return Self.snapshot(q, capped: lists == .capped)
    }

    public func nextCandidate(lane: String, nowMs: Int64) throws -> TaskSnapshot? {
        try read { db in
            // Quarantined tasks (the board contradicts itself about them, Quarantine.swift) are stepped
            // over, so the lane's other tasks flow; the set is small and bounded.
            let q = try prepared(Hot.nextCandidate.rawValue, db, Self.snapshotSQL(lists: .all) + """
                 WHERE assignee = ? AND \(UnclaimedReady.sql())
                  AND NOT EXISTS (SELECT 1 FROM bridge_backoff b WHERE b.task_id = tasks.id AND b.not_before_ms > ?)
                ORDER BY priority DESC, created_at ASC, rowid ASC LIMIT ?
                """)
            q.bind(.int(nowMs), .text(lane), .int(nowMs), .int(Int64(skipped.count + 1)))
            defer { q.reset() }
            while try q.next() {
                if skipped.contains(q.text(0) ?? "") { continue }
                return Self.snapshot(q, capped: false)
            }
            return nil
        }
    }

    /// A row of `snapshotSQL`.
    static func snapshot(_ row: SQLStatement, capped: Bool) -> TaskSnapshot {
        var parents = row.text(21).map { $0.split(separator: "\u{1E}").map(String.init) } ?? []
        var children = row.text(22).map { $0.split(separator: "\u{1E}").map(String.init) } ?? []
        let truncated = capped && (parents.count > TaskRecord.replyLinkCap || children.count > TaskRecord.replyLinkCap)
        if capped { parents = Array(parents.prefix(TaskRecord.replyLinkCap)); children = Array(children.prefix(TaskRecord.replyLinkCap)) }
        var record = Self.record(row, parents: parents.sorted(), children: children.sorted())
        record.linksTruncated = truncated
        let state = TaskState(
            id: record.id, status: record.status, assignee: record.assignee, priority: record.priority,
            claimLock: record.claimLock, currentRunID: record.currentRunID, blockKind: row.text(17),
            blockRecurrences: Int(row.int(18)), consecutiveFailures: Int(row.int(19)), maxRetries: row.optionalInt(20).map { Int($0) },
            // A link to a parent that no longer exists does not hold the child back (Hermes deletes tasks): the JOIN drops it.
            parentsFinished: row.int(24) == 0, backingOff: row.int(23) != 0)
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

    public func waitingChildren(of parent: String, after: String?, limit: Int) throws -> ChildPage {
        try read { db in
            // A range of the (parent_id, child_id) primary key from the cursor on: each call reads the
            // next `limit` links, so a fan-out of 10,000 is read once over all its batches.
            let q = try prepared(Hot.waitingChildren.rawValue, db, """
                SELECT l.child_id, t.status = \(TaskStatus.todo.sql) FROM task_links l LEFT JOIN tasks t ON t.id = l.child_id
                WHERE l.parent_id = ? AND l.child_id > ? ORDER BY l.child_id LIMIT ?
                """)
            q.bind(.text(parent), .text(after ?? ""), .int(Int64(limit)))
            var page = ChildPage(waiting: [], last: nil, more: false)
            var read = 0
            while try q.next() {
                read += 1
                let id = q.text(0) ?? ""
                page.last = id
                if q.int(1) != 0 { page.waiting.append(id) }
            }
            page.more = read == limit
            return page
        }
    }

    public func closesCycle(parent: String, child: String) throws -> Bool {
        try read { db in
            // One recursive statement down the `task_links` primary key from the child; its cost is the
            // child's descendants, never the parents either task has. UNION (not ALL) ends at a cycle.
            let q = try prepared(Hot.closesCycle.rawValue, db, """
                WITH RECURSIVE below(id) AS (
                  SELECT ? UNION SELECT l.child_id FROM task_links l JOIN below ON l.parent_id = below.id)
                SELECT EXISTS (SELECT 1 FROM below WHERE id = ?)
                """)
            q.bind(.text(child), .text(parent))
            guard try q.next() else { return false }
            defer { q.reset() }
            return parent == child || q.int(0) != 0
        }
    }

    public func openRun(_ plan: ClaimPlan) throws -> Int64? {
        try write { db in
            let now = plan.nowMs / 1000
            // One statement makes the whole run row, its lock included: the id is chosen here, as
            // AUTOINCREMENT would choose it (past the highest id ever given, `sqlite_sequence`, and the
            // highest present), so the lock that names it is written with it instead of by a second
            // UPDATE. Only this connection writes inside the transaction, so nobody takes the id meanwhile.
            // The task must still be claimable (`UnclaimedReady`), which makes the claim's
            // compare-and-set that follows certain: a refusal is decided here, before anything is written.
            let q = try prepared(Hot.openRun.rawValue, db, """
                INSERT INTO task_runs (id, task_id, profile, step_key, status, started_at, last_heartbeat_at, claim_lock, claim_expires)
                SELECT n.id, t.id, ?, t.current_step_key, \(RunStatus.openSQL), ?, ?, \(ClaimLock.sql(lane: "?", runID: "n.id")), ?
                FROM tasks t, (SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'task_runs'), 0),
                                          COALESCE((SELECT MAX(id) FROM task_runs), 0)) + 1 AS id) n
                WHERE t.id = ? AND \(UnclaimedReady.sql(task: "t"))
                """)
            q.bind(.text(plan.profile), .int(now), .int(now), .text(plan.lane), .int(Lease.hermesSeconds(fromMs: plan.leaseExpiresAtMs)),
                   .text(plan.task.id))
            // No row: the task the snapshot just read as claimable, in this transaction, is not found by
            // its id or is not claimable after all (a damaged index, issue #19 finding 3). Nothing was
            // written; the claim loop quarantines it.
            guard try q.run() == 1 else {
                noteInconsistency(taskID: plan.task.id, what: "a claim's run found no claimable task by its id")
                return nil
            }
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
/// on the fields they set, use keys from `UpdateShape.key` above this range.
enum Hot: Int {
    case snapshotByID, leanSnapshotByID, closesCycle, nextCandidate, claimByToken, openClaimByRun, expiredClaims, liveClaims, waitingChildren, openRun
    case claimInsert, runExtend, claimExtend, runClose, claimClose, runCloseStale, claimLost
    case backoffInsert, backoffDelete, linkInsert, hermesEvent, publishedEvent, savedReply, saveReply
    case savepoint, release, rollbackTo, beginImmediate, beginDeferred, commit, rollback
    case openClaims
}
