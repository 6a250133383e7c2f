import XCTest
@testable import KanbanModel

final class LeaseDeadlinesTests: XCTestCase {
    let start = ClockReading(wallMs: 1_800_000_000_000, monotonicMs: 5_000)

    func at(wall: Int64 = 0, passed: Int64) -> ClockReading {
        ClockReading(wallMs: start.wallMs + passed + wall, monotonicMs: start.monotonicMs + passed)
    }

    func test_storedExpiry_keepsWhatIsLeft_asAMonotonicDeadline() {
        var leases = LeaseDeadlines()
        leases.track(runID: 1, storedExpiryMs: start.wallMs + 6_000, at: start)
        leases.track(runID: 2, storedExpiryMs: start.wallMs - 1_000, at: start)  // ran out while the coordinator was down
        XCTAssertEqual(leases.deadline(runID: 1), 11_000)
        XCTAssertEqual(leases.due(atMonotonicMs: start.monotonicMs), [2])
        XCTAssertEqual(leases.nextDeadline, 4_000)
        XCTAssertEqual(leases.due(atMonotonicMs: 11_000), [2, 1], "earliest first")
    }

    func test_aWriteSeenLater_inTheSameTurn_runsItsLengthFromTheWrite() {
        var leases = LeaseDeadlines()
        // The turn began at `start`; the claim was written 1 s later; seen 5 s after the write.
        leases.track(runID: 1, storedExpiryMs: start.wallMs + 1_000 + 6_000, writtenAtMs: start.wallMs + 1_000,
                     seen: at(passed: 6_000), turnBeganMs: start.monotonicMs)
        XCTAssertEqual(leases.deadline(runID: 1), start.monotonicMs + 7_000)
    }

    func test_aWallStepBetweenWriteAndSight_movesTheDeadlineByAtMostTheTurn() {
        var leases = LeaseDeadlines()
        let seen = at(wall: -3_600_000, passed: 20)  // set back an hour just after the write
        leases.track(runID: 1, storedExpiryMs: start.wallMs + 6_000, writtenAtMs: start.wallMs, seen: seen, turnBeganMs: start.monotonicMs)
        XCTAssertEqual(leases.deadline(runID: 1), seen.monotonicMs + 6_000)
        let ahead = at(wall: 7_200_000, passed: 20)  // set forward two hours
        leases.track(runID: 2, storedExpiryMs: start.wallMs + 6_000, writtenAtMs: start.wallMs, seen: ahead, turnBeganMs: start.monotonicMs)
        XCTAssertEqual(leases.deadline(runID: 2), start.monotonicMs + 6_000)
    }

    func test_wallStepForward_doesNotEndALease() {
        var leases = LeaseDeadlines()
        leases.track(runID: 1, storedExpiryMs: start.wallMs + 900_000, at: start)
        let later = at(wall: 2 * 3_600_000, passed: 2_000)
        XCTAssertEqual(leases.due(atMonotonicMs: later.monotonicMs), [])
        XCTAssertEqual(leases.storedExpiries(at: later).map(\.expiresMs), [later.wallMs + 898_000], "Hermes sees the time left")
    }

    func test_wallStepBack_doesNotStretchALease() {
        var leases = LeaseDeadlines()
        leases.track(runID: 1, storedExpiryMs: start.wallMs + 6_000, at: start)
        XCTAssertEqual(leases.due(atMonotonicMs: at(wall: -3_600_000, passed: 6_000).monotonicMs), [1])
    }

    func test_heartbeat_movesTheDeadline_andAnEndedRunIsForgotten() {
        var leases = LeaseDeadlines()
        leases.track(runID: 1, storedExpiryMs: start.wallMs + 3_000, at: start)
        let beat = at(passed: 2_000)
        leases.track(runID: 1, storedExpiryMs: beat.wallMs + 3_000, at: beat)
        XCTAssertEqual(leases.due(atMonotonicMs: at(passed: 4_999).monotonicMs), [])
        XCTAssertEqual(leases.due(atMonotonicMs: at(passed: 5_000).monotonicMs), [1])
        leases.forget(runID: 1)
        XCTAssertNil(leases.nextDeadline)
    }

    func test_wallClockWatch_reportsSteps_notTimePassing() {
        var watch = WallClockWatch()
        XCTAssertNil(watch.jump(at: start), "the first reading is the reference")
        XCTAssertNil(watch.jump(at: at(passed: 30_000)), "both clocks ran (a SIGSTOP looks like this)")
        XCTAssertNil(watch.jump(at: at(wall: 999, passed: 1)), "drift under a second is left alone")
        XCTAssertEqual(watch.jump(at: at(wall: 7_200_000, passed: 5)), 7_200_000)
        XCTAssertEqual(watch.jump(at: at(wall: 7_200_000, passed: 9)), 7_200_000, "until restated")
        watch.restated(at: at(wall: 7_200_000, passed: 9))
        XCTAssertNil(watch.jump(at: at(wall: 7_200_000, passed: 50)))
        XCTAssertEqual(watch.jump(at: at(wall: 3_600_000, passed: 60)), -3_600_000)
    }

    func test_stallGrace_holdsExpiry_untilTheSocketIsReadDry_afterSettling() {
        var grace = StallGrace()
        XCTAssertEqual(grace.turnBegins(atMs: 0), 0, "the first turn follows downtime")
        XCTAssertFalse(grace.mayExpire(atMs: 10, socketDrained: true), "libzmq's I/O thread may not have caught up")
        XCTAssertFalse(grace.mayExpire(atMs: StallGrace.settleMs, socketDrained: false))
        XCTAssertTrue(grace.mayExpire(atMs: StallGrace.settleMs, socketDrained: true))
        XCTAssertNil(grace.holdEndsMs)

        XCTAssertNil(grace.turnBegins(atMs: 1_000), "an idle turn is no stall")
        XCTAssertTrue(grace.mayExpire(atMs: 1_000, socketDrained: false), "no hold: expiry as usual")
        XCTAssertEqual(grace.turnBegins(atMs: 31_000), 30_000)
        XCTAssertEqual(grace.holdEndsMs, 31_000 + StallGrace.settleMs)
        XCTAssertFalse(grace.mayExpire(atMs: 31_000, socketDrained: true))
        XCTAssertTrue(grace.mayExpire(atMs: 31_000 + StallGrace.maxHoldMs, socketDrained: false), "a flood cannot hold it off for good")
    }

    func test_aStallOfTheCoordinator_isNotChargedToTheLeases() {
        let at = ClockReading(wallMs: 1_000_000, monotonicMs: 50_000)
        var leases = LeaseDeadlines()
        leases.track(runID: 1, storedExpiryMs: 1_003_000, at: at)  // 3 s left
        leases.postpone(byMs: 5_000)  // the loop stood still for 5 s
        XCTAssertEqual(leases.due(atMonotonicMs: 55_000), [], "5 s later, still 3 s left: the stall is not the worker's time")
        XCTAssertEqual(leases.due(atMonotonicMs: 58_000), [1])
        let later = ClockReading(wallMs: 1_005_000, monotonicMs: 55_000)
        XCTAssertEqual(leases.storedExpiries(at: later).first?.expiresMs, 1_008_000, "what is stored says so too")
    }
}
