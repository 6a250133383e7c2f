import KanbanModel
import XCTest
@testable import KanbanCoordinator

/// The spawned runs machine without a dispatcher: slots, lease renewals (also after a stall of the
/// loop), and what the dispatcher's reports do to a run.
final class SpawnedRunsTests: XCTestCase {
    let pool = Lane(name: "pool", kind: .pool, maxConcurrency: 3, command: ["true"])

    func run(_ id: Int64, lane: Lane? = nil, leaseMs: Int64 = 30_000, nextBeatMs: Int64 = 10_000) -> SpawnedRuns.Run {
        SpawnedRuns.Run(lane: lane ?? pool, taskID: "t_\(id)", runID: id, tokenHash: "h", leaseMs: leaseMs,
                        nextBeatMs: nextBeatMs, limitSeconds: nil)
    }

    func test_freeSlots_countTheLargerOfTheBoardsRunningTasksAndOurRuns() {
        var runs = SpawnedRuns()
        XCTAssertEqual(runs.freeSlots(pool, runningOnBoard: 0), 3)
        runs.claimed(run(1))
        runs.claimed(run(2, lane: Lane(name: "other", kind: .pool, command: ["true"])))
        XCTAssertEqual(runs.freeSlots(pool, runningOnBoard: 0), 2, "a claim whose worker has not started fills a slot")
        XCTAssertEqual(runs.freeSlots(pool, runningOnBoard: 2), 1, "the board may know of more")
    }

    func test_renewal_isDueAThirdOfTheLeaseAfterTheLast() {
        var runs = SpawnedRuns()
        runs.claimed(run(1, leaseMs: 30_000, nextBeatMs: 10_000))
        XCTAssertTrue(runs.renewalsDue(monotonicMs: 9_999).isEmpty)
        let due = runs.renewalsDue(monotonicMs: 10_000)
        XCTAssertEqual(due.map(\.runID), [1])
        runs.renewed(due, monotonicMs: 10_050)
        XCTAssertEqual(runs.nextBeatMs, 20_050)
        XCTAssertTrue(runs.renewalsDue(monotonicMs: 20_049).isEmpty)
    }

    func test_afterAStallOfTheLoop_everyRunIsDue_andRenewedTogether() {
        var runs = SpawnedRuns()
        runs.claimed(run(1, leaseMs: 30_000, nextBeatMs: 10_000))
        runs.claimed(run(2, leaseMs: 60_000, nextBeatMs: 25_000))
        // The loop stood still for a minute: both renewals were missed.
        let due = runs.renewalsDue(monotonicMs: 70_000)
        XCTAssertEqual(Set(due.map(\.runID)), [1, 2])
        runs.renewed(due, monotonicMs: 70_000)
        XCTAssertEqual(runs.run(1)?.nextBeatMs, 80_000)
        XCTAssertEqual(runs.run(2)?.nextBeatMs, 90_000)
    }

    func test_aRenewalThatDidNotCommit_leavesTheRunDue() {
        var runs = SpawnedRuns()
        runs.claimed(run(1, nextBeatMs: 10_000))
        _ = runs.renewalsDue(monotonicMs: 10_000)  // the write found the board locked: `renewed` is not called
        XCTAssertEqual(runs.renewalsDue(monotonicMs: 10_020).map(\.runID), [1])
    }

    func test_reports_startEndAndForget() {
        var runs = SpawnedRuns()
        runs.claimed(run(1))
        runs.claimed(run(2))
        XCTAssertTrue(runs.awaitingTakeBackCheck().isEmpty, "a worker not started yet has nothing to stop")
        XCTAssertNil(runs.reported(.spawned(runID: 1, taskID: "t_1", lane: "pool", pid: 42, workspace: nil)))
        XCTAssertEqual(runs.awaitingTakeBackCheck().map(\.runID), [1])
        runs.stopRequested(runID: 1)
        XCTAssertTrue(runs.awaitingTakeBackCheck().isEmpty, "told to stop once")
        XCTAssertEqual(runs.reported(.exited(runID: 1, status: .exited(0), stoppedForRuntime: false)), 1)
        XCTAssertEqual(runs.reported(.spawnFailed(runID: 2, error: "no such file", workspace: nil)), 2)
        XCTAssertNil(runs.reported(.orphanGone(taskID: "t_9", runID: 9, what: "gone")))
        XCTAssertTrue(runs.isEmpty)
    }

    func test_rounds_rotate_andTakeAllEmpties() {
        var runs = SpawnedRuns()
        XCTAssertEqual(runs.nextRound(), 1)
        XCTAssertEqual(runs.nextRound(), 2)
        runs.claimed(run(1))
        XCTAssertTrue(runs.holds(lane: "pool", taskID: "t_1"))
        XCTAssertEqual(runs.takeAll().map(\.runID), [1])
        XCTAssertTrue(runs.isEmpty)
        XCTAssertNil(runs.nextBeatMs)
    }
}
