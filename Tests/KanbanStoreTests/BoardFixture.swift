import Foundation
import KanbanModel
import KanbanStore

/// A fresh board in a temporary directory, removed afterwards.
///
/// The store tests (every file but the SQLite-only ones: BoardFileTests, CompatibilityTests,
/// HermesSeesTests, HermesWritesTests, SQLiteMigrationTests) see the board only as `any BoardStore`,
/// made by `makeStore(in:)`: a second backend inherits all of them by adding its case there and
/// running the suite with `KANBAN_TEST_STORE=<its name>`.
final class BoardFixture {
    let dir: URL
    let board: any BoardStore
    var nowMs: Int64 = 1_800_000_000_000

    /// The board file of an SQLite store (`BoardFixture.sqlite()`): what the SQLite-only tests open
    /// beside the store, as Hermes would.
    var path: String { dir.appendingPathComponent("kanban.db").path }

    /// A board of the backend under test.
    convenience init() throws { try self.init(makeStore: Self.makeStore(in:)) }

    /// A board that is an `SQLiteBoard` at `path` whatever backend is under test: for tests of the
    /// file itself (its rows as Hermes reads and writes them).
    static func sqlite() throws -> BoardFixture {
        try BoardFixture { dir in try SQLiteBoard(path: dir.appendingPathComponent("kanban.db").path) }
    }

    private init(makeStore: (URL) throws -> any BoardStore) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("kb-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        board = try makeStore(dir)
    }

    /// The one factory of the store tests: an empty board of the backend named by `KANBAN_TEST_STORE`
    /// (default `sqlite`), with `dir` to keep any files in.
    static func makeStore(in dir: URL) throws -> any BoardStore {
        switch ProcessInfo.processInfo.environment["KANBAN_TEST_STORE"] ?? "sqlite" {
        case "sqlite": return try SQLiteBoard(path: dir.appendingPathComponent("kanban.db").path)
        case let other: throw BoardError.invalid("KANBAN_TEST_STORE=\(other): no such store backend in BoardFixture.makeStore")
        }
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
