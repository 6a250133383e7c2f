import Foundation
import GRDB
import KanbanModel
import KanbanStore

/// A fresh board for one measurement: created by the store itself (schema, indexes, bridge tables),
/// its lanes registered through the store with tokens we know, and its tasks bulk-inserted with
/// one SQL statement (1M tasks take seconds this way, not 1M round trips).
public struct BenchBoard {
    public static let workLane = "bench"
    public static let probeLane = "probe"
    public static let eventLane = "evlane"

    public let path: String
    public let adminToken: String
    /// Lane name → lane token.
    public let tokens: [String: String]
    /// Seconds the bulk insert took.
    public let loadSeconds: Double

    /// Creates `dir/kanban.db` with `tasks` ready tasks in the work lane and one task each for the
    /// heartbeat probe and event lanes.
    public init(dir: String, tasks: Int) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        path = dir + "/kanban.db"
        adminToken = Secrets.newToken(prefix: "at_")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var tokens: [String: String] = [:]
        do {
            let board = try SQLiteBoard(path: path)
            for name in [Self.workLane, Self.probeLane, Self.eventLane] {
                var lane = Lane(name: name)
                lane.claimMode = .pull
                lane.maxConcurrency = 1024
                lane.leaseSeconds = 3600
                let token = Secrets.newToken(prefix: "lt_")
                _ = try board.registerLane(lane, tokenHash: Secrets.hash(token), nowMs: now)
                tokens[name] = token
            }
        }
        self.tokens = tokens
        let started = nowNs()
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try Self.insertTasks(db, count: tasks, lane: Self.workLane, firstNumber: 1, nowS: now / 1000)
            try Self.insertTasks(db, count: 1, lane: Self.probeLane, firstNumber: tasks + 1, nowS: now / 1000)
            try Self.insertTasks(db, count: 1, lane: Self.eventLane, firstNumber: tasks + 2, nowS: now / 1000)
        }
        loadSeconds = Double(nowNs() - started) / 1e9
    }

    /// Ready tasks `t_<8 hex digits>` (Hermes' id shape), numbered from `firstNumber`, oldest first.
    static func insertTasks(_ db: Database, count: Int, lane: String, firstNumber: Int, nowS: Int64) throws {
        guard count > 0 else { return }
        try db.execute(sql: """
            WITH RECURSIVE n(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM n WHERE x < ?)
            INSERT INTO tasks (id, title, assignee, status, priority, created_by, created_at)
            SELECT printf('t_%08x', x), 'bench task ' || x, ?, 'ready', 0, 'kanban-bench', ? FROM n
            """, arguments: [firstNumber, firstNumber + count - 1, lane, nowS])
    }

    /// How SQLite will find the work lane's best task (for the report: it must use the claim index).
    public func claimQueryPlan() throws -> String {
        let queue = try DatabaseQueue(path: path)
        return try queue.read { db in
            try Row.fetchAll(db, sql: """
                EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE assignee = ? AND status = 'ready' AND claim_lock IS NULL
                  AND NOT EXISTS (SELECT 1 FROM bridge_backoff b WHERE b.task_id = tasks.id AND b.not_before_ms > ?)
                ORDER BY priority DESC, created_at ASC, rowid ASC LIMIT 16
                """, arguments: [Self.workLane, 0]).map { $0["detail"] as String }.joined(separator: "; ")
        }
    }
}
