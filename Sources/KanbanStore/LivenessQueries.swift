import GRDB
import KanbanModel

/// What the dispatcher records about running claims, and Hermes' liveness fields. (The claims
/// themselves are `TaskLifecycle` decisions, written by TaskCommands.swift and EffectWriter.swift.)
extension SQLiteBoard {
    public func noteSpawned(taskID: String, runID: Int64, lane: String, pid: Int32, workspace: WorkspaceRecord?, nowMs: Int64) throws {
        try write { db in
            if let workspace {
                // Hermes' words for what the lane made: `scratch` (removed once done), `dir` (a scratch
                // directory the lane keeps), `worktree` (on its branch, kept for review).
                let keeps = try Bool.fetchOne(db.cachedStatement(sql: "SELECT keep_workspaces FROM bridge_lanes WHERE name = ?"),
                                              arguments: [lane]) ?? false
                let kind = switch workspace.policy {
                case .worktreePerTask: "worktree"
                case .scratch where keeps: "dir"
                default: "scratch"
                }
                try db.cachedStatement(sql: """
                    UPDATE tasks SET workspace_kind = ?, workspace_path = ?, branch_name = COALESCE(?, branch_name) WHERE id = ?
                    """).execute(arguments: [kind, workspace.path, workspace.branch, taskID])
                try record(workspace, db, nowMs: nowMs)
            }
            // Hermes shows the worker as it shows its own: alive while the pid lives (the dashboard's
            // active workers, run inspection). It never signals it or declares it crashed: Hermes does
            // that only to workers whose claim lock names its own host, and a bridge lock
            // (`lane:<lane>:<run>`) never does. Every end of the claim clears the task's `worker_pid`.
            try db.cachedStatement(sql: Self.notePIDSQL).execute(arguments: [pid, taskID, runID])
            try db.cachedStatement(sql: "UPDATE task_runs SET worker_pid = ? WHERE id = ? AND ended_at IS NULL").execute(arguments: [pid, runID])
            let payload: JSONValue = ["pid": .int(Int64(pid)), "workspace": .of(workspace?.path)]
            try events(db, nowMs).task(EventKind.spawned.rawValue, taskID: taskID, lane: lane, runID: runID, hermesPayload: payload, data: payload)
        }
    }

    /// Keeps Hermes' liveness field fresh on every live bridge claim (lease not expired, task still
    /// carrying the claim's lock) whose `last_heartbeat_at` is older than `staleAfterS` seconds, on
    /// the task and its run. Hermes' gateway (`detect_stale_running`) reclaims a run older than its
    /// stale timeout whose heartbeat is NULL or over an hour old, whatever the lease says; a lane may
    /// hold a long lease and heartbeat rarely. No event: this is not a lane heartbeat, and
    /// `claim_expires` is left alone (it stays the lease's real end, which Hermes' `release_stale_claims`
    /// honours). Returns how many tasks were refreshed.
    public func refreshLiveness(nowMs: Int64, staleAfterS: Int64) throws -> Int {
        try write { db in
            let now = nowMs / 1000
            try db.cachedStatement(sql: Self.refreshRunsSQL).execute(arguments: [now, nowMs, now - staleAfterS])
            try db.cachedStatement(sql: Self.refreshTasksSQL).execute(arguments: [now, nowMs, now - staleAfterS])
            return db.changesCount
        }
    }

    public func isClaimLive(runID: Int64) throws -> Bool {
        try read { db in try Bool.fetchOne(db.cachedStatement(sql: Self.claimLiveSQL), arguments: [runID]) == true }
    }

    static let notePIDSQL = "UPDATE tasks SET worker_pid = ? WHERE id = ? AND current_run_id = ? AND status = \(TaskStatus.running.sql)"

    /// The runs of live claims (`LiveClaim`) whose lease still runs: one parameter, now in ms.
    static let liveUnexpiredRunsSQL = """
        SELECT c.run_id FROM bridge_claims c JOIN tasks t ON t.id = c.task_id
        WHERE c.lease_expires_ms > ? AND \(LiveClaim.sql(claim: "c", task: "t"))
        """
    static let refreshRunsSQL = """
        UPDATE task_runs SET last_heartbeat_at = ?
        WHERE id IN (\(liveUnexpiredRunsSQL)) AND ended_at IS NULL AND (last_heartbeat_at IS NULL OR last_heartbeat_at < ?)
        """
    static let refreshTasksSQL = """
        UPDATE tasks SET last_heartbeat_at = ?
        WHERE current_run_id IN (\(liveUnexpiredRunsSQL)) AND (last_heartbeat_at IS NULL OR last_heartbeat_at < ?)
        """
    static let claimLiveSQL = """
        SELECT 1 FROM bridge_claims c JOIN tasks t ON t.id = c.task_id
        WHERE c.run_id = ? AND \(LiveClaim.sql(claim: "c", task: "t"))
        """
}
