import Foundation
import KanbanModel
import KanbanStore

/// A fresh board file in a temporary directory, removed afterwards.
final class BoardFixture {
    let dir: URL
    let board: SQLiteBoard
    var nowMs: Int64 = 1_800_000_000_000

    var path: String { dir.appendingPathComponent("kanban.db").path }

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("kb-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        board = try SQLiteBoard(path: dir.appendingPathComponent("kanban.db").path)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    @discardableResult
    func lane(_ name: String, max: Int = 1) throws -> Lane {
        try board.registerLane(Lane(name: name, maxConcurrency: max), tokenHash: Secrets.hash("lt_\(name)"), nowMs: nowMs).lane
    }

    @discardableResult
    func task(_ title: String, assignee: String? = "factory", priority: Int = 0, parents: [String] = []) throws -> TaskRecord {
        nowMs += 1000  // distinct created_at seconds, so "oldest first" is observable
        return try board.createTask(TaskSpec(title: title, assignee: assignee, priority: priority, parents: parents), nowMs: nowMs)
    }

    /// Claims for `lane`; returns the task and the clear-text token.
    func claim(_ lane: String, task: String? = nil, leaseMs: Int64 = 60_000) throws -> (task: TaskRecord, token: String)? {
        let token = Secrets.newToken(prefix: "ct_")
        guard let l = try board.lane(named: lane)?.lane else { return nil }
        guard let c = try board.claim(ClaimIntent(lane: l, taskID: task, leaseMs: leaseMs, tokenHash: Secrets.hash(token)), nowMs: nowMs) else {
            return nil
        }
        return (c.task, token)
    }

    func proof(_ lane: String, _ task: String, _ token: String) -> ClaimProof {
        ClaimProof(principal: .lane(lane), taskID: task, tokenHash: Secrets.hash(token))
    }

    func eventTypes(task: String) throws -> [String] {
        try board.events(since: 0, limit: 10_000, lane: nil).filter { $0.taskID == task }.map(\.type)
    }
}
