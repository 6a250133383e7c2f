import GRDB
import KanbanModel

/// What the dispatcher recorded about the processes it started (the `spawned` events).
extension SQLiteBoard {
    public func spawnedPID(runID: Int64) throws -> Int32? {
        try read { db in
            let data = try String.fetchOne(db, sql: """
                SELECT data FROM bridge_events WHERE type = 'spawned' AND run_id = ? ORDER BY seq DESC LIMIT 1
                """, arguments: [runID])
            return JSONText.decode(data)?["pid"]?.intValue.flatMap { Int32(exactly: $0) }
        }
    }

    public func runOutcome(runID: Int64) throws -> String? {
        try read { db in try String.fetchOne(db.cachedStatement(sql: "SELECT outcome FROM task_runs WHERE id = ?"), arguments: [runID]) }
    }
}
