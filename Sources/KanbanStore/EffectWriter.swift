import GRDB
import KanbanModel

/// Writes `LifecycleEffects` to Hermes' tables and the bridge's, with compare-and-set on the task.
/// It decides nothing: every value comes from `TaskLifecycle`; this maps fields to columns.
extension SQLiteBoard {
    public func apply(_ effects: LifecycleEffects, claimTokenHash: String?, nowMs: Int64) throws {
        try write { db in
            if let update = effects.task { try Self.write(update, db) }
            for change in effects.runs { try write(change, db, tokenHash: claimTokenHash, nowMs: nowMs) }
            if let link = effects.newLink {
                try db.cachedStatement(sql: "INSERT OR IGNORE INTO task_links (parent_id, child_id) VALUES (?, ?)")
                    .execute(arguments: [link.parent, link.child])
            }
            let events = events(db, nowMs)
            for event in effects.events { try events.write(event) }
            for followUp in effects.followUps {
                switch followUp {
                case .backOff(let taskID, let until):
                    try db.cachedStatement(sql: "INSERT OR REPLACE INTO bridge_backoff (task_id, not_before_ms) VALUES (?, ?)")
                        .execute(arguments: [taskID, until])
                    timers.add(until)
                case .clearBackoff(let taskID):
                    try db.cachedStatement(sql: "DELETE FROM bridge_backoff WHERE task_id = ?").execute(arguments: [taskID])
                case .promoteChildren, .announce:
                    break  // decided on their own snapshots (`perform` in TaskCommands.swift)
                }
            }
        }
    }

    /// One UPDATE per shape of update (which fields, which guard), prepared once and bound by position.
    static func write(_ update: TaskUpdate, _ db: Database) throws {
        let taskID = update.taskID
        var sets: [String] = [], values: [DatabaseValue] = []
        sets.reserveCapacity(update.fields.count)
        values.reserveCapacity(update.fields.count + 3)
        for (field, value) in update.fields {
            switch value {
            case .unlessSet(let v):
                sets.append("\(field.rawValue) = COALESCE(\(field.rawValue), ?)"); values.append(v.databaseValue)
            case .int(let v): sets.append("\(field.rawValue) = ?"); values.append(v.databaseValue)
            case .text(let v): sets.append("\(field.rawValue) = ?"); values.append(v.databaseValue)
            case .null: sets.append("\(field.rawValue) = NULL")
            }
        }
        values.append(taskID.databaseValue)
        let guardSQL: String
        switch update.guardedBy {
        case .runningUnder(let lock): guardSQL = " AND status = 'running' AND claim_lock = ?"; values.append(lock.databaseValue)
        case .claimable: guardSQL = " AND status = 'ready' AND claim_lock IS NULL"
        case .status(let s): guardSQL = " AND status = ?"; values.append(s.rawValue.databaseValue)
        case .any: guardSQL = ""
        }
        try db.cachedStatement(sql: "UPDATE tasks SET " + sets.joined(separator: ", ") + " WHERE id = ?" + guardSQL)
            .execute(arguments: StatementArguments(values))
        guard update.mustApply, db.changesCount == 0 else { return }
        switch update.guardedBy {
        case .runningUnder: throw BoardError.denied(.staleClaim("the task changed under this claim"))
        case .claimable: throw BoardError.conflict("task \(taskID) was claimed by someone else")
        case .status, .any: throw BoardError.conflict("task \(taskID) changed while it was being written")
        }
    }

    func write(_ change: RunChange, _ db: Database, tokenHash: String?, nowMs: Int64) throws {
        let now = nowMs / 1000
        switch change {
        case .open(let runID, let taskID, let lock, let lane, let leaseMs, let expiresMs):
            try db.cachedStatement(sql: "UPDATE task_runs SET claim_lock = ?, claim_expires = ? WHERE id = ?")
                .execute(arguments: [lock, Lease.hermesSeconds(fromMs: expiresMs), runID])
            try db.cachedStatement(sql: """
                INSERT INTO bridge_claims (run_id, task_id, lane, token_hash, lease_ms, lease_expires_ms, claimed_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [runID, taskID, lane, tokenHash, leaseMs, expiresMs, nowMs])
            timers.add(expiresMs)
        case .extend(let runID, let expiresMs):
            try db.cachedStatement(sql: "UPDATE task_runs SET claim_expires = ?, last_heartbeat_at = ? WHERE id = ?")
                .execute(arguments: [Lease.hermesSeconds(fromMs: expiresMs), now, runID])
            try db.cachedStatement(sql: "UPDATE bridge_claims SET lease_expires_ms = ? WHERE run_id = ?").execute(arguments: [expiresMs, runID])
        case .close(let runID, let outcome, let summary, let error, let metadata):
            try db.cachedStatement(sql: """
                UPDATE task_runs SET status = ?, outcome = ?, summary = ?, error = ?, metadata = ?, ended_at = ?,
                  claim_lock = NULL, claim_expires = NULL, worker_pid = NULL
                WHERE id = ? AND ended_at IS NULL
                """).execute(arguments: [outcome.runStatus, outcome.rawValue, summary, error, metadata.flatMap(JSONText.encode), now, runID])
            try db.cachedStatement(sql: "UPDATE bridge_claims SET ended_at_ms = ?, end_reason = ? WHERE run_id = ? AND ended_at_ms IS NULL")
                .execute(arguments: [nowMs, outcome.rawValue, runID])
        case .closeStale(let runID):
            try db.cachedStatement(sql: """
                UPDATE task_runs SET status = 'reclaimed', outcome = 'reclaimed', ended_at = ?, claim_lock = NULL, claim_expires = NULL
                WHERE id = ? AND ended_at IS NULL
                """).execute(arguments: [now, runID])
        case .forgetLost(let runID):
            try db.cachedStatement(sql: "UPDATE bridge_claims SET ended_at_ms = ?, end_reason = 'lost' WHERE run_id = ?")
                .execute(arguments: [nowMs, runID])
        }
    }
}
