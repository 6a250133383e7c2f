import KanbanModel
import XCTest
@testable import KanbanCoordinator

/// When leases end: committed events, the loop's stalls and the wall clock's steps, without a board.
final class LeaseTimersTests: XCTestCase {
    let start = ClockReading(wallMs: 1_800_000_000_000, monotonicMs: 5_000)

    func claimed(run: Int64, atMs: Int64, expiresMs: Int64) -> BoardEvent {
        BoardEvent(seq: run, type: EventKind.claimed.rawValue, taskID: "t_\(run)", lane: "x", runID: run, atMs: atMs,
                   data: ["lease_expires_at_ms": .int(expiresMs)])
    }

    func at(_ later: Int64, wallStep: Int64 = 0) -> ClockReading {
        ClockReading(wallMs: start.wallMs + later + wallStep, monotonicMs: start.monotonicMs + later)
    }

    /// A machine past its first turn's stall grace (the first turn holds expiry: the coordinator was down).
    func running() -> LeaseTimers {
        var t = LeaseTimers()
        t.loaded([], at: start)
        _ = t.turnBegins(monotonicMs: start.monotonicMs, uptimeMs: 0)
        _ = t.expiryDue(at: start, uptimeMs: StallGrace.settleMs, socketDrained: true)
        return t
    }

    func test_aClaimedLease_expiresAtItsDeadline_notBefore() {
        var t = running()
        t.committed([claimed(run: 1, atMs: start.wallMs, expiresMs: start.wallMs + 30_000)], at: start)
        XCTAssertEqual(t.nextDeadline, start.monotonicMs + 30_000)
        XCTAssertEqual(t.expiryDue(at: at(29_999), uptimeMs: 1_000, socketDrained: true), [])
        XCTAssertEqual(t.expiryDue(at: at(30_000), uptimeMs: 1_000, socketDrained: true), [1])
        t.ended([1])
        XCTAssertNil(t.nextDeadline)
    }

    func test_aRunsOutcomeEvent_forgetsItsLease() {
        var t = running()
        t.committed([claimed(run: 1, atMs: start.wallMs, expiresMs: start.wallMs + 30_000)], at: start)
        t.committed([BoardEvent(seq: 2, type: RunOutcome.completed.rawValue, taskID: "t_1", lane: "x", runID: 1,
                                atMs: start.wallMs, data: [:])], at: start)
        XCTAssertNil(t.nextDeadline)
    }

    func test_loadedClaims_keepWhatTheirStoredExpirySaysIsLeft() {
        var t = LeaseTimers()
        t.loaded([ClaimState(runID: 7, taskID: "t_7", lane: "x", leaseMs: 60_000, leaseExpiresAtMs: start.wallMs + 12_000)], at: start)
        XCTAssertEqual(t.nextDeadline, start.monotonicMs + 12_000)
    }

    func test_afterAStall_leasesRunLonger_andExpiryWaitsForTheSocketToBeReadDry() {
        var t = running()
        t.committed([claimed(run: 1, atMs: start.wallMs, expiresMs: start.wallMs + 30_000)], at: start)
        // The loop stood still for 40 s (SIGSTOP): the lease runs 40 s longer, and the stored expiry is restated.
        XCTAssertEqual(t.turnBegins(monotonicMs: start.monotonicMs + 40_000, uptimeMs: 40_000), 40_000)
        XCTAssertEqual(t.nextDeadline, start.monotonicMs + 70_000)
        XCTAssertTrue(t.restatePending)
        // Past even the extended deadline, expiry waits until the socket was read dry after the settling time.
        let late = at(80_000)
        XCTAssertEqual(t.expiryDue(at: late, uptimeMs: 40_000 + StallGrace.settleMs, socketDrained: false), [])
        XCTAssertEqual(t.expiryDue(at: late, uptimeMs: 40_000 + StallGrace.settleMs, socketDrained: true), [1])
    }

    func test_aStallInTheMiddleOfATurn_holdsExpiryAsOneBetweenTurnsDoes() {
        var t = running()
        t.committed([claimed(run: 1, atMs: start.wallMs, expiresMs: start.wallMs + 3_000)], at: start)
        _ = t.turnBegins(monotonicMs: start.monotonicMs + 10, uptimeMs: 300)
        // Stopped for 5 s after the turn began (right after it sent a reply); it resumes where it was.
        XCTAssertEqual(t.beforeExpiry(uptimeMs: 5_300), 5_000)
        XCTAssertEqual(t.expiryDue(at: at(5_010), uptimeMs: 5_300, socketDrained: true), [],
                       "a heartbeat queued meanwhile is read first")
        XCTAssertEqual(t.nextDeadline, start.monotonicMs + 8_000, "and the lease runs the stall longer")
        XCTAssertNil(t.beforeExpiry(uptimeMs: 5_310), "no stall since")
    }

    func test_aSteppedWallClock_asksForTheStoredExpiriesToBeRestated_untilTheyAre() {
        var t = running()
        t.committed([claimed(run: 1, atMs: start.wallMs, expiresMs: start.wallMs + 30_000)], at: start)
        XCTAssertNil(t.restateDue(at: at(10), boardWritable: true), "no step")
        let stepped = at(1_000, wallStep: 3_600_000)
        XCTAssertNil(t.restateDue(at: stepped, boardWritable: false), "the board is locked: asked again next turn")
        let restate = t.restateDue(at: stepped, boardWritable: true)
        XCTAssertEqual(restate?.jumpMs, 3_600_000)
        XCTAssertEqual(restate?.expiries.map(\.runID), [1])
        XCTAssertEqual(restate?.expiries.first?.expiresMs, stepped.wallMs + 29_000, "what is left, on the new wall clock")
        t.restated(at: stepped)
        XCTAssertNil(t.restateDue(at: at(1_010, wallStep: 3_600_000), boardWritable: true))
        XCTAssertEqual(t.nextDeadline, start.monotonicMs + 30_000, "the deadline did not move: leases run on monotonic time")
    }
}
