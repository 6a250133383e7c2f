import GRDB
import KanbanModel

/// The workspaces the dispatcher made (`bridge_workspaces`): what the coordinator may remove.
extension SQLiteBoard {
    public func recordWorkspace(_ workspace: WorkspaceRecord, nowMs: Int64) throws {
        try write { db in try record(workspace, db, nowMs: nowMs) }
    }

    func record(_ w: WorkspaceRecord, _ db: Database, nowMs: Int64) throws {
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO bridge_workspaces (lane, task_id, path, policy, repo, branch, created_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [w.lane, w.taskID, w.path, w.policy.rawValue, w.repo, w.branch, nowMs])
    }

    public func workspaces(lane: String?) throws -> [WorkspaceRecord] {
        try read { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT * FROM bridge_workspaces WHERE ?1 IS NULL OR lane = ?1 ORDER BY created_at_ms, lane, task_id
                """), arguments: [lane]).compactMap(Self.workspace(from:))
        }
    }

    public func workspace(lane: String, taskID: String) throws -> WorkspaceRecord? {
        try read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM bridge_workspaces WHERE lane = ? AND task_id = ?"),
                             arguments: [lane, taskID]).flatMap(Self.workspace(from:))
        }
    }

    public func forgetWorkspace(lane: String, taskID: String) throws {
        try write { db in
            try db.cachedStatement(sql: "DELETE FROM bridge_workspaces WHERE lane = ? AND task_id = ?").execute(arguments: [lane, taskID])
        }
    }

    /// A row with a policy this build does not know is skipped: nothing is removed on a guess.
    private static func workspace(from row: Row) -> WorkspaceRecord? {
        guard let policy = WorkspacePolicy(rawValue: row["policy"]) else { return nil }
        return WorkspaceRecord(lane: row["lane"], taskID: row["task_id"], path: row["path"], policy: policy,
                               repo: row["repo"], branch: row["branch"])
    }
}
