import GRDB
import KanbanModel

/// Promotions left for later loop turns: a finished parent's children past the first batch, and the
/// restart sweep. Memory only, and transactional: `SQLiteBoard` restores the queue when the write
/// that changed it is undone, so a batch is taken off only by a transaction that committed.
///
/// Durable across a crash without a table of our own: the board itself says what is left (a `todo`
/// task whose parents are all finished), and every start queues a sweep that finds those.
struct PromotionQueue {
    private(set) var work: [PromotionWork] = []
    mutating func push(_ item: PromotionWork) { if !work.contains(item) { work.append(item) } }
    mutating func pop() -> PromotionWork? { work.isEmpty ? nil : work.removeFirst() }
}

extension SQLiteBoard {
    public func queuePromotion(_ work: PromotionWork) { promotions.push(work) }
    public func takePromotion() -> PromotionWork? { promotions.pop() }
    public var hasPendingPromotions: Bool { !promotions.work.isEmpty }

    public func linkedTodoTasks(after: Int64, limit: Int) throws -> (ids: [String], last: Int64?) {
        try read { db in
            // `idx_tasks_status` holds (status, rowid): a range from the cursor on, read once over all batches.
            let rows = try Row.fetchAll(db.cachedStatement(sql: Self.linkedTodoSQL), arguments: [after, limit])
            let ids = rows.filter { ($0[2] as Int64) != 0 }.map { $0[1] as String }
            return (ids, rows.count == limit ? rows.last.map { $0[0] as Int64 } : nil)
        }
    }

    static let linkedTodoSQL = """
        SELECT rowid, id, EXISTS (SELECT 1 FROM task_links l WHERE l.child_id = tasks.id)
        FROM tasks WHERE status = \(TaskStatus.todo.sql) AND rowid > ? ORDER BY rowid LIMIT ?
        """
}
