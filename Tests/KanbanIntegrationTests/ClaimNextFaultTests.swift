import Foundation
import GRDB
import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import KanbanStore
import XCTest

/// `complete` with `claim_next` catches the next claim's refusal and commits the completion. Here the
/// next claim is made to fail after its run row was inserted (a trigger makes its compare-and-set
/// change no row): that is a fault, not a refusal, so the request fails whole, the completion with
/// it, and no orphan run is left. Runs the real op handler on a real board file; no sockets are needed
/// for what is tested.
final class ClaimNextFaultTests: XCTestCase {
    func test_completeWithClaimNext_whoseNextClaimFailsAfterItsRunRow_failsWholeWithNoOrphanRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kb-claimnext-fault-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("kanban.db").path
        let board = try SQLiteBoard(path: path)
        let clock = ManualClock()
        let operations = Operations(store: board, clock: clock, version: "test", tokenKey: Array(repeating: 7, count: 32))
        _ = try board.registerLane(Lane(name: "factory"), tokenHash: Secrets.hash("lt_factory"), nowMs: clock.nowMs())
        let first = try board.createTask(TaskSpec(title: "first", assignee: "factory"), nowMs: clock.nowMs())
        clock.advance(ms: 1000)
        let second = try board.createTask(TaskSpec(title: "second", assignee: "factory"), nowMs: clock.nowMs())

        guard case .claimed(let grant) = try operations.perform(.claim(ClaimRequest(lane: "factory")), as: .lane("factory")).outcome else {
            return XCTFail("the first claim was not granted")
        }
        XCTAssertEqual(grant.task.id, first.id)
        let raw = try DatabaseQueue(path: path)
        try raw.write { db in
            try db.execute(sql: """
                CREATE TRIGGER inject_cas_miss BEFORE UPDATE OF claim_lock ON tasks WHEN NEW.claim_lock IS NOT NULL
                BEGIN SELECT RAISE(IGNORE); END
                """)
        }
        XCTAssertThrowsError(try board.atomically {  // as a request's savepoint in the group commit
            try operations.perform(.complete(ClaimRef(taskID: first.id, claimToken: grant.token), result: "ok", summary: nil,
                                             metadata: nil, claimNext: true), as: .lane("factory"))
        }) { error in XCTAssertTrue(error is BoardFault, "\(error)") }
        try raw.read { db in
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT status FROM tasks WHERE id = ?", arguments: [first.id]), "running",
                           "the request failed whole: the worker may retry its completion")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM task_runs"), 1, "no orphan run of the failed next claim")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM bridge_claims WHERE task_id = ?", arguments: [second.id]), 0)
            let row = try XCTUnwrap(try Row.fetchOne(db, sql: "SELECT status, claim_lock, current_run_id FROM tasks WHERE id = ?",
                                                     arguments: [second.id]))
            XCTAssertEqual(row[0] as String, "ready")
            XCTAssertNil(row[1] as String?)
            XCTAssertNil(row[2] as Int64?)
        }
    }
}
