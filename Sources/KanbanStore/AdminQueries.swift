import GRDB
import KanbanModel

/// Admin recovery actions, written as Hermes' `reclaim_task` and `unblock_task` write them.
extension SQLiteBoard {
    public func reclaimTask(id: String, reason: String?, nowMs: Int64) throws -> TaskRecord {
        try write { db in
            guard let task = try Self.fetchTask(db, id) else { throw BoardError.notFound("no task '\(id)'") }
            guard task.status == .running else {
                throw BoardError.conflict("task \(id) is \(task.status.rawValue); only a running task can be reclaimed")
            }
            let now = nowMs / 1000
            try db.cachedStatement(sql: """
                UPDATE tasks SET status = 'ready', claim_lock = NULL, claim_expires = NULL, worker_pid = NULL, current_run_id = NULL
                WHERE id = ? AND status = 'running'
                """).execute(arguments: [id])
            if let run = task.currentRunID {
                try db.cachedStatement(sql: """
                    UPDATE task_runs SET status = 'reclaimed', outcome = 'reclaimed', error = ?, ended_at = ?,
                      claim_lock = NULL, claim_expires = NULL, worker_pid = NULL
                    WHERE id = ? AND ended_at IS NULL
                    """).execute(arguments: ["manual_reclaim: \(reason ?? "by admin")", now, run])
                try db.cachedStatement(sql: "UPDATE bridge_claims SET ended_at_ms = ?, end_reason = 'reclaimed' WHERE run_id = ? AND ended_at_ms IS NULL").execute(
                               arguments: [nowMs, run])
            }
            let events = EventWriter(db: db, nowMs: nowMs)
            let payload: JSONValue = ["manual": true, "reason": .of(reason), "prev_lock": .of(task.claimLock)]
            try events.task(EventType.reclaimed, taskID: id, lane: task.assignee, runID: task.currentRunID, hermesPayload: payload, data: payload)
            try Self.announceIfClaimable(db, id, events: events)
            return try Self.fetchTask(db, id)!
        }
    }

    public func unblockTask(id: String, nowMs: Int64) throws -> TaskRecord {
        try write { db in
            guard let task = try Self.fetchTask(db, id) else { throw BoardError.notFound("no task '\(id)'") }
            guard task.status == .blocked || task.status == .scheduled else {
                throw BoardError.conflict("task \(id) is \(task.status.rawValue); only a blocked or scheduled task can be unblocked")
            }
            let status = Readiness.initialStatus(parentStatuses: try Self.parentStatuses(db, id))
            // A person unblocking is a fresh start: the failure streak and any backoff go.
            try db.cachedStatement(sql: """
                UPDATE tasks SET status = ?, current_run_id = NULL, consecutive_failures = 0, last_failure_error = NULL WHERE id = ?
                """).execute(arguments: [status.rawValue, id])
            try db.cachedStatement(sql: "DELETE FROM bridge_backoff WHERE task_id = ?").execute(arguments: [id])
            let events = EventWriter(db: db, nowMs: nowMs)
            let payload: JSONValue? = status == .todo ? ["status": "todo"] : nil
            try events.task(EventType.unblocked, taskID: id, lane: task.assignee, hermesPayload: payload, data: payload ?? [:])
            try Self.announceIfClaimable(db, id, events: events)
            return try Self.fetchTask(db, id)!
        }
    }
}
