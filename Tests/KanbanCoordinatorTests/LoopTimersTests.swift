import XCTest
@testable import KanbanCoordinator

/// The loop's periodic jobs, holds and wake-up, on times the test makes up.
final class LoopTimersTests: XCTestCase {
    func now(wall: Int64 = 1_000_000, mono: Int64 = 5_000, up: Int64 = 700) -> LoopTimers.Now {
        LoopTimers.Now(wallMs: wall, monotonicMs: mono, uptimeMs: up)
    }

    func test_everyJob_isDueOnTheFirstTurn() {
        let timers = LoopTimers()
        for job in LoopTimers.Job.allCases { XCTAssertTrue(timers.due(at: now()).contains(job), "\(job)") }
    }

    func test_aJobThatRan_isDueAgainAfterItsPeriod_only() {
        var timers = LoopTimers()
        timers.ran(.livenessRefresh, at: now(wall: 1_000_000))
        XCTAssertFalse(timers.isDue(.livenessRefresh, at: now(wall: 1_059_999)))
        XCTAssertTrue(timers.isDue(.livenessRefresh, at: now(wall: 1_060_000)))
        XCTAssertTrue(timers.due(at: now(wall: 1_000_001)).contains(.memoryTrim), "other jobs are paced apart")
    }

    func test_aWallClockSteppedBack_doesNotHoldAJobOff() {
        var timers = LoopTimers()
        timers.ran(.dispatchScan, at: now(wall: 1_000_000))
        XCTAssertFalse(timers.isDue(.dispatchScan, at: now(wall: 1_000_010)))
        XCTAssertTrue(timers.isDue(.dispatchScan, at: now(wall: 400_000)), "an hour back: due, not in an hour")
    }

    func test_theChangeWatcher_isPacedOnRealTime_notTheInjectedClock() {
        var timers = LoopTimers()
        timers.ran(.importChanges, at: now(wall: 1_000_000, up: 700))
        XCTAssertFalse(timers.isDue(.importChanges, at: now(wall: 9_000_000, up: 709)), "a test clock's jump changes nothing")
        XCTAssertTrue(timers.isDue(.importChanges, at: now(wall: 1_000_000, up: 710)), "real time passing does")
    }

    func test_holds_endAfterTheirTime() {
        var timers = LoopTimers()
        XCTAssertFalse(timers.leaseTimersHeld(monotonicMs: 5_000))
        timers.holdLeaseTimers(monotonicMs: 5_000)
        XCTAssertTrue(timers.leaseTimersHeld(monotonicMs: 5_999))
        XCTAssertFalse(timers.leaseTimersHeld(monotonicMs: 6_000))
        timers.holdPromotions(wallMs: 1_000)
        XCTAssertTrue(timers.promotionsHeld(wallMs: 1_099))
        XCTAssertFalse(timers.promotionsHeld(wallMs: 1_100))
    }

    func test_anIdleLoop_wakesAfterIdleWake() {
        XCTAssertEqual(LoopTimers().wakeInMs(at: now(), .init()), Int(LoopTimers.idleWakeMs))
    }

    func test_wake_isTheNearestDeadline_eachOnItsOwnClock() {
        let timers = LoopTimers()
        let t = now(wall: 1_000_000, mono: 5_000, up: 700)
        XCTAssertEqual(timers.wakeInMs(at: t, .init(leaseMs: 5_030)), 30)
        XCTAssertEqual(timers.wakeInMs(at: t, .init(renewalMs: 5_040, backoffEndMs: 1_000_020)), 20)
        XCTAssertEqual(timers.wakeInMs(at: t, .init(stallHoldEndMs: 707)), 7)
        XCTAssertEqual(timers.wakeInMs(at: t, .init(parkedMs: 1_000_050, writesMs: 1_000_060)), 50)
        XCTAssertEqual(timers.wakeInMs(at: t, .init(leaseMs: 4_000)), 0, "past due: at once")
    }

    func test_aWantedDispatchPass_wakesTheLoopWhenItIsDue_notAfterAnIdleWake() {
        var timers = LoopTimers()
        let t = now(wall: 1_000_000, mono: 5_000, up: 700)
        timers.ran(.dispatchScan, at: t)
        XCTAssertEqual(timers.nextDue(.dispatchScan), 1_000_000 + LoopTimers.Job.dispatchScan.periodMs)
        XCTAssertEqual(timers.wakeInMs(at: t, .init(dispatchDueMs: timers.nextDue(.dispatchScan))), 25)
        XCTAssertEqual(timers.wakeInMs(at: t, .init()), Int(LoopTimers.idleWakeMs), "nothing changed: idle")
        XCTAssertNil(LoopTimers().nextDue(.dispatchScan), "never ran: due now")
        XCTAssertEqual(timers.wakeInMs(at: t, .init(writeLockPauseEndMs: 1_000_040, dispatchDueMs: 1_000_025)), 40,
                       "a pass claims: not before the write lock may be tried")
    }

    func test_writingTimers_areNotWokenForBeforeTheWriteLockMayBeTried() {
        let timers = LoopTimers()
        let t = now(wall: 1_000_000, mono: 5_000)
        let d = LoopTimers.Deadlines(leaseMs: 5_001, writeLockPauseEndMs: 1_000_040)
        XCTAssertEqual(timers.wakeInMs(at: t, d), 40)
        var held = LoopTimers()
        held.holdLeaseTimers(monotonicMs: 5_000)
        XCTAssertEqual(held.wakeInMs(at: t, .init(leaseMs: 5_001)), Int(LoopTimers.idleWakeMs), "a failed write's hold: 1 s")
    }

    func test_pendingPromotions_wakeAtOnce_unlessHeldOrTheLockIsTaken() {
        var timers = LoopTimers()
        let t = now(wall: 1_000_000)
        XCTAssertEqual(timers.wakeInMs(at: t, .init(promotionsPending: true)), 0)
        XCTAssertEqual(timers.wakeInMs(at: t, .init(writeLockPauseEndMs: 1_000_050, promotionsPending: true)),
                       Int(LoopTimers.idleWakeMs))
        timers.holdPromotions(wallMs: 1_000_000 - LoopTimers.promotionsHoldMs + 30)
        XCTAssertEqual(timers.wakeInMs(at: t, .init(promotionsPending: true)), 30, "at the hold's end")
    }
}
