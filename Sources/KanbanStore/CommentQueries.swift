import GRDB
import KanbanModel

/// Comments on tasks (`task_comments`): the same row and `commented` event as Hermes'
/// `kanban_db.add_comment`, so `hermes kanban show` lists them and its notifier sees them.
extension SQLiteBoard {
    public func addComment(taskID: String, author: String, body: String, runID: Int64?, nowMs: Int64) throws {
        try write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM tasks WHERE id = ?", arguments: [taskID]) == true else {
                throw BoardError.notFound("no task '\(taskID)'")
            }
            try db.execute(sql: "INSERT INTO task_comments (task_id, author, body, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [taskID, author, body, nowMs / 1000])
            let lane = try String.fetchOne(db, sql: "SELECT assignee FROM tasks WHERE id = ?", arguments: [taskID])
            try events(db, nowMs).task("commented", taskID: taskID, lane: lane, runID: runID,
                                       hermesPayload: ["author": .string(author), "len": .int(Int64(body.utf8.count))])
        }
    }
}
