import GRDB
import KanbanModel

/// Writes that other programs make to the board file (Hermes' CLI, its dispatcher, its gateway).
///
/// Hermes records every change as a `task_events` row. The bridge mirrors each row into its own
/// published stream, so a foreign write becomes an event like any other: it wakes parked claims,
/// announces newly claimable tasks, and retires bridge claims that Hermes took back.
extension SQLiteBoard {
    /// Hermes' event kinds (hermes-compat §4, its own vocabulary, not `EventKind`) after which a task
    /// may have become claimable, newer Hermes' requeues included.
    static let kindsThatMayFreeTasks: Set<String> = Set([
        "created", "promoted", "promoted_manual", "reclaimed", "unblocked", "assigned", "status",
        "stale", "crashed", "timed_out", "linked", "unlinked", "edited", "archived",
    ]).union(HermesEventKinds.requeued)

    /// Changes whenever another connection commits to the file; cheap enough to poll often.
    /// (SQLite's `data_version` ignores this connection's own commits, which is exactly what we want.)
    public func externalChangeMarker() throws -> Int64 {
        // One statement in autocommit mode (its own read transaction), not BEGIN … COMMIT around it.
        if openTransactionActive { return try read { db in try Int64.fetchOne(db.cachedStatement(sql: "PRAGMA data_version")) ?? 0 } }
        return try queue.inDatabase { db in try Int64.fetchOne(db.cachedStatement(sql: "PRAGMA data_version")) ?? 0 }
    }

    /// Publishes every `task_events` row written by someone else since the last call; returns how many.
    public func importExternalEvents(nowMs: Int64) throws -> Int {
        try write { db in
            let cursor = try Int64.fetchOne(db.cachedStatement(sql: "SELECT CAST(value AS INTEGER) FROM bridge_meta WHERE key = 'hermes_event_cursor'")) ?? 0
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT e.id, e.task_id, e.run_id, e.kind, e.payload, t.assignee FROM task_events e
                LEFT JOIN tasks t ON t.id = e.task_id
                WHERE e.id > ? AND NOT EXISTS (SELECT 1 FROM bridge_events b WHERE b.source_event_id = e.id)
                  -- Our own `promoted` rows for requeued tasks (see noteRequeued): Hermes writes none with a run.
                  AND NOT (e.kind = 'promoted' AND e.run_id IS NOT NULL
                           AND EXISTS (SELECT 1 FROM bridge_claims c WHERE c.run_id = e.run_id AND c.task_id = e.task_id))
                ORDER BY e.id LIMIT 1000
                """), arguments: [cursor])
            let events = events(db, nowMs)
            var changed: [String] = [], mayBeFree: Set<String> = []
            for row in rows {
                let taskID: String = row["task_id"], kind: String = row["kind"]
                var data = JSONText.decode(row["payload"])?.objectValue ?? [:]
                data["source"] = "hermes"
                try events.published(kind, taskID: taskID, lane: row["assignee"], runID: row["run_id"],
                                     data: .object(data), source: row["id"])
                if !changed.contains(taskID) { changed.append(taskID) }
                if Self.kindsThatMayFreeTasks.contains(kind) { mayBeFree.insert(taskID) }
            }
            for taskID in changed {
                try Self.retireLostClaims(db, taskID: taskID, nowMs: nowMs)
                if mayBeFree.contains(taskID) { try announce(taskID, nowMs: nowMs) }
            }
            // Advance past our own rows too, so the NOT EXISTS scan stays short.
            let newest = try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(id) FROM task_events")) ?? cursor
            let through = rows.count == 1000 ? (rows.last?["id"] as Int64? ?? cursor) : newest
            try db.cachedStatement(sql: "UPDATE bridge_meta SET value = ? WHERE key = 'hermes_event_cursor'").execute(arguments: [String(through)])
            return rows.count
        }
    }

    /// Bridge claims on `taskID` whose run Hermes ended (reclaim, hand-completion, block): retire them
    /// so their lease timer stops. Their holders already get `stale_claim` (see `ClaimAuthority`).
    static func retireLostClaims(_ db: Database, taskID: String, nowMs: Int64) throws {
        try db.cachedStatement(sql: retireLostClaimsSQL).execute(arguments: [nowMs, taskID])
    }

    /// Open claims of a task that it no longer carries (`LiveClaim`): ended as `lost`.
    static let retireLostClaimsSQL = """
        UPDATE bridge_claims SET ended_at_ms = ?, end_reason = 'lost'
        WHERE task_id = ? AND ended_at_ms IS NULL AND NOT EXISTS (
          SELECT 1 FROM tasks t WHERE t.id = bridge_claims.task_id AND \(LiveClaim.carriedSQL(claim: "bridge_claims", task: "t")))
        """
}
