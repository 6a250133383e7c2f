import KanbanConfig
import XCTest

/// Hermes' global cap as its dispatcher resolves it (hermes_cli/kanban_db_dispatch.py,
/// `derive_default_max_in_progress` / `resolve_max_in_progress`), and what lanes take of it.
final class HermesGlobalCapTests: XCTestCase {
    let gib = 1024 * 1024  // KiB

    func test_unsetCap_isDerivedFromMemory_clampedToTwoThroughEight() {
        XCTAssertEqual(HermesGlobalCap.derived(memTotalKiB: 1 * gib), 2, "1 GiB / 512 MiB = 2")
        XCTAssertEqual(HermesGlobalCap.derived(memTotalKiB: 512 * 1024), 2, "the floor: 1 worker's worth is raised to 2")
        XCTAssertEqual(HermesGlobalCap.derived(memTotalKiB: 3 * gib), 6)
        XCTAssertEqual(HermesGlobalCap.derived(memTotalKiB: 16 * gib), 8, "16 GiB would be 32: the ceiling is 8")
        // Whole MiB, then whole workers, as Hermes' integer divisions: 2047 MiB is 3 workers, not 4.
        XCTAssertEqual(HermesGlobalCap.derived(memTotalKiB: 2047 * 1024 + 1023), 3)
        XCTAssertNil(HermesGlobalCap.derived(memTotalKiB: nil), "unknown memory: no cap")
        XCTAssertNil(HermesGlobalCap.derived(memTotalKiB: 0))
    }

    func test_configuredCapWins_elseDerived_elseNone() {
        XCTAssertEqual(HermesGlobalCap.effective(configured: 3, memTotalKiB: 16 * gib), HermesGlobalCap(value: 3, origin: .configured))
        XCTAssertEqual(HermesGlobalCap.effective(configured: nil, memTotalKiB: 2 * gib), HermesGlobalCap(value: 4, origin: .derived(memTotalMiB: 2048)))
        XCTAssertEqual(HermesGlobalCap.effective(configured: nil, memTotalKiB: nil), HermesGlobalCap(value: nil, origin: .none))
    }

    func test_summarySaysWhatEachHermesVersionApplies() {
        let derived = HermesGlobalCap.effective(configured: nil, memTotalKiB: 2 * gib).summary
        XCTAssertTrue(derived.contains("4 for Hermes 0.21+") && derived.contains("clamp(2048/512, 2, 8)"), derived)
        XCTAssertTrue(derived.contains("Hermes 0.19 applies no cap"), derived)
        XCTAssertEqual(HermesGlobalCap.effective(configured: 5, memTotalKiB: nil).summary, "5 (kanban.max_in_progress)")
    }

    func test_readsMemTotalFromProcMeminfo() {
        let meminfo = "MemFree:         123 kB\nMemTotal:       24683784 kB\nMemAvailable:  1 kB\n"
        XCTAssertEqual(HermesGlobalCap.memTotalKiB(meminfo: meminfo), 24_683_784)
        XCTAssertNil(HermesGlobalCap.memTotalKiB(meminfo: "MemFree: 1 kB\n"))
    }

    func test_lanesThatCanTakeEverySlotStarveHermes_andTheAdviceNamesTheSetting() throws {
        let cap = HermesGlobalCap(value: 8, origin: .derived(memTotalMiB: 16384))
        let share = try XCTUnwrap(cap.share(laneClaims: 3, running: 5, lanesMaxConcurrency: 8))
        XCTAssertTrue(share.lanesCanStarveHermes, "8 lane slots on a cap of 8: Hermes may get none")
        XCTAssertFalse(share.full)
        XCTAssertEqual(share.held, "lanes hold 3 of its 8 slots (5 task(s) running on this board)")
        let advice = share.advice(hermesHome: "/srv/hermes")
        XCTAssertTrue(advice.contains("kanban.max_in_progress in /srv/hermes/config.yaml to at least 9"), advice)
        XCTAssertFalse(try XCTUnwrap(cap.share(laneClaims: 0, running: 0, lanesMaxConcurrency: 7)).lanesCanStarveHermes)
        XCTAssertTrue(try XCTUnwrap(cap.share(laneClaims: 2, running: 8, lanesMaxConcurrency: 2)).full, "the board alone fills it")
        XCTAssertNil(HermesGlobalCap(value: nil, origin: .none).share(laneClaims: 1, running: 1, lanesMaxConcurrency: 9))
    }
}
