import GRDB
import KanbanModel

extension SQLiteBoard {
    /// Most events one `stats` call reads, so a huge window cannot stall the coordinator's thread.
    public static let statsEventCap = 200_000

    public func stats(sinceMs: Int64, nowMs: Int64) throws -> BoardStats {
        try read { db in
            var stats = BoardStats.Builder()
            for row in try Row.fetchAll(db, sql: "SELECT name, max_concurrency FROM bridge_lanes") {
                stats.registered(lane: row["name"], maxConcurrency: row["max_concurrency"])
            }
            for row in try Row.fetchAll(db, sql: "SELECT assignee, status, COUNT(*) AS n FROM tasks GROUP BY assignee, status") {
                stats.tasks(assignee: row["assignee"], status: row["status"], count: row["n"])
            }
            for row in try Row.fetchAll(db, sql: "SELECT lane, COUNT(*) AS n FROM bridge_claims WHERE ended_at_ms IS NULL GROUP BY lane") {
                stats.running(lane: row["lane"], count: row["n"])
            }
            let first = try Self.firstSeq(db, atOrAfterMs: sinceMs)
            let rows = try Row.fetchAll(db, sql: """
                SELECT type, task_id, lane, at_ms FROM bridge_events WHERE seq >= ? ORDER BY seq DESC LIMIT ?
                """, arguments: [first, Self.statsEventCap]).reversed()
            for row in rows {
                stats.event(type: row["type"], taskID: row["task_id"], lane: row["lane"], atMs: row["at_ms"])
            }
            return stats.build(sinceMs: sinceMs, nowMs: nowMs)
        }
    }

    /// The first event `seq` at or after `ms`, by binary search over the primary key: events are
    /// appended in time order, so this is O(log n) point reads instead of a scan of the whole log.
    static func firstSeq(_ db: Database, atOrAfterMs ms: Int64) throws -> Int64 {
        guard var high = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM bridge_events") else { return 1 }
        var low = try Int64.fetchOne(db, sql: "SELECT MIN(seq) FROM bridge_events") ?? 1
        high += 1  // one past the end: "nothing in the window"
        while low < high {
            let mid = low + (high - low) / 2
            // seq may have holes (AUTOINCREMENT after a rollback): read the nearest row at or after mid.
            let at = try Int64.fetchOne(db, sql: "SELECT at_ms FROM bridge_events WHERE seq >= ? ORDER BY seq LIMIT 1", arguments: [mid])
            if let at, at < ms { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
