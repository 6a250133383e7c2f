import Foundation
import GRDB
import KanbanModel
import KanbanStore
import XCTest

/// Callers catch some errors and go on in the same transaction (`complete` with `claim_next`, the
/// dispatcher's claims and lease renewals, the group commit's requests). Each test here makes a write
/// fail after an earlier write of the same step went through (a trigger, as another program could
/// install, stands in for a failing disk or a lost race) and finds nothing half-written on the board.
/// SQLite-only: the faults are SQLite triggers.
final class PartialWriteTests: XCTestCase {
    /// The claim's compare-and-set changes no row, after `openRun` inserted the run row.
    static let casMisses = """
        CREATE TRIGGER inject_cas_miss BEFORE UPDATE OF claim_lock ON tasks WHEN NEW.claim_lock IS NOT NULL
        BEGIN SELECT RAISE(IGNORE); END
        """

    /// `openRun` decided the task claimable; a compare-and-set that refuses after it is the board
    /// contradicting itself with the run row written: a `BoardFault`, which no caller takes for a
    /// refusal, and the claim's transaction undoes the run row.
    func test_claimWhoseCompareAndSetFailsAfterItsRunRow_isAFaultAndLeavesNoRunRow() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory")
        let t = try f.task("contested")
        let raw = try SQLiteBoardRaw(path: f.path)
        try raw.exec(Self.casMisses)
        for named in [true, false] {
            XCTAssertThrowsError(try named ? f.claim("factory", task: t.id) : f.claim("factory")) { error in
                XCTAssertTrue(error is BoardFault, "not a refusal: \(error)")
            }
            try assertUntouched(raw, t.id)
        }
        // Inside a caller's transaction that catches refusals and goes on: the fault is not caught as
        // one, so the caller's savepoint undoes the run row.
        XCTAssertThrowsError(try f.board.atomically {
            do { _ = try f.claim("factory") } catch is BoardError { XCTFail("a fault caught as a refusal") }
        })
        try assertUntouched(raw, t.id)
    }

    /// What `complete` with `claim_next` does: the next claim's refusal is caught and the completion
    /// commits. A refused claim writes nothing: here the lane is full when the next claim is asked.
    func test_refusedClaimCaughtInTheTransaction_commitsNoOrphanRun() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory")
        let first = try f.task("first")
        let second = try f.task("second")
        let c = try XCTUnwrap(try f.claim("factory", task: first.id))
        let raw = try SQLiteBoardRaw(path: f.path)
        try raw.exec("UPDATE tasks SET status = 'todo' WHERE id = '\(second.id)'")  // not claimable
        try f.board.atomically {
            _ = try f.board.endClaim(f.proof("factory", first.id, c.token), .complete(result: "ok", summary: nil, metadata: nil),
                                     nowMs: f.nowMs)
            do {
                _ = try f.claim("factory", task: second.id)
                XCTFail("the claim should have been refused")
            } catch is BoardError {}
        }
        XCTAssertEqual(try raw.scalar("SELECT status FROM tasks WHERE id = '\(first.id)'"), "done", "the completion stands")
        XCTAssertEqual(try raw.scalar("SELECT COUNT(*) FROM task_runs"), "1", "only the completed claim's run")
        XCTAssertEqual(try raw.scalar("SELECT COUNT(*) FROM bridge_claims WHERE task_id = '\(second.id)'"), "0")
    }

    /// A demotion (a ready task whose parent is unfinished goes back to `todo`, with `claim_rejected`)
    /// whose event cannot be written is undone whole: not `todo` without its event.
    func test_demotionThatFailsHalfWay_isUndoneWhole() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory")
        let parent = try f.task("parent")
        let child = try f.task("child", parents: [parent.id])
        let raw = try SQLiteBoardRaw(path: f.path)
        try raw.exec("UPDATE tasks SET status = 'ready' WHERE id = '\(child.id)'")  // Hermes can leave a task so
        try raw.exec("""
            CREATE TRIGGER inject_event_failure BEFORE INSERT ON task_events WHEN NEW.kind = 'claim_rejected'
            BEGIN SELECT RAISE(ABORT, 'injected'); END
            """)
        var after = ""
        try f.board.atomically {
            XCTAssertThrowsError(try f.claim("factory", task: child.id))
            after = try f.task("after").id  // the caller goes on, as the dispatcher's pass does
        }
        XCTAssertEqual(try raw.scalar("SELECT status FROM tasks WHERE id = '\(child.id)'"), "ready", "the half-made demotion was undone")
        XCTAssertEqual(try raw.scalar("SELECT COUNT(*) FROM task_events WHERE task_id = '\(child.id)' AND kind = 'claim_rejected'"), "0")
        XCTAssertNotNil(try f.board.task(id: after), "the transaction went on and committed")
    }

    /// A renewal whose run row cannot be written after the task row was: in its own savepoint (as the
    /// dispatcher renews spawned runs' leases) it is undone whole; without one, half of it would commit.
    func test_heartbeatThatFailsHalfWay_isUndoneWholeInItsSavepoint() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory")
        let t = try f.task("long")
        let c = try XCTUnwrap(try f.claim("factory", task: t.id))
        let raw = try SQLiteBoardRaw(path: f.path)
        try raw.exec("""
            CREATE TRIGGER inject_run_failure BEFORE UPDATE OF claim_expires ON task_runs WHEN NEW.claim_expires IS NOT NULL
            BEGIN SELECT RAISE(ABORT, 'injected'); END
            """)
        let expires = try raw.scalar("SELECT claim_expires FROM tasks WHERE id = '\(t.id)'")
        let heartbeat = { _ = try f.board.heartbeat(f.proof("factory", t.id, c.token), note: nil, metadata: nil, nowMs: f.nowMs + 30_000) }
        try f.board.atomically { _ = try? f.board.atomically(heartbeat) }
        XCTAssertEqual(try raw.scalar("SELECT claim_expires FROM tasks WHERE id = '\(t.id)'"), expires, "undone whole")
        // The fault does bite: caught without a savepoint, the task row's half commits.
        try f.board.atomically { _ = try? heartbeat() }
        XCTAssertNotEqual(try raw.scalar("SELECT claim_expires FROM tasks WHERE id = '\(t.id)'"), expires, "the injected fault did not fire")
    }

    /// SQLite may roll the whole transaction back by itself (here a trigger's `RAISE(ROLLBACK)`; some
    /// I/O errors do the same). A caller that catches and goes on must not write in autocommit mode.
    func test_afterSQLiteRolledTheTransactionBack_nothingMoreIsWritten() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory")
        let raw = try SQLiteBoardRaw(path: f.path)
        try raw.exec("""
            CREATE TRIGGER inject_rollback BEFORE INSERT ON tasks WHEN NEW.title = 'doomed'
            BEGIN SELECT RAISE(ROLLBACK, 'injected'); END
            """)
        XCTAssertThrowsError(try f.board.atomically {
            _ = try f.task("before")
            _ = try? f.board.atomically { _ = try f.task("doomed") }
            _ = try f.task("after")
        })
        XCTAssertEqual(try raw.scalar("SELECT group_concat(title) FROM tasks"), nil, "no task was committed, not even alone")
        // The board is usable again afterwards.
        XCTAssertEqual(try f.task("later").title, "later")
    }

    /// The task is still ready, unlocked and unclaimed, with no run and no claim record.
    private func assertUntouched(_ raw: SQLiteBoardRaw, _ taskID: String, runs: Int = 0,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try raw.scalar("SELECT status || '|' || IFNULL(claim_lock, '-') || '|' || IFNULL(current_run_id, '-') FROM tasks WHERE id = '\(taskID)'"),
                       "ready|-|-", file: file, line: line)
        XCTAssertEqual(try raw.scalar("SELECT COUNT(*) FROM task_runs WHERE task_id = '\(taskID)'"), String(runs), "orphan run rows", file: file, line: line)
        XCTAssertEqual(try raw.scalar("SELECT COUNT(*) FROM bridge_claims WHERE task_id = '\(taskID)'"), "0", file: file, line: line)
        XCTAssertEqual(try raw.scalar("SELECT COUNT(*) FROM task_events WHERE task_id = '\(taskID)' AND kind = 'claimed'"), "0", file: file, line: line)
    }
}
