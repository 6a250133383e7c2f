import XCTest
@testable import KanbanBench

final class BenchMathTests: XCTestCase {
    func test_percentile_nearestRank_onOneToHundred() {
        let sorted = (1...100).map(UInt64.init)
        XCTAssertEqual(LatencySummary.percentile(sorted, 50), 50)
        XCTAssertEqual(LatencySummary.percentile(sorted, 99), 99)
        XCTAssertEqual(LatencySummary.percentile(sorted, 99.9), 100)
        XCTAssertEqual(LatencySummary.percentile(sorted, 100), 100)
        XCTAssertEqual(LatencySummary.percentile(sorted, 1), 1)
    }

    func test_summary_sortsItsSamples_andKeepsTheTail() {
        let s = LatencySummary([900, 5, 7, 3, 1, 2, 6, 4, 8, 9])!
        XCTAssertEqual(s.count, 10)
        XCTAssertEqual(s.p50, 5)
        XCTAssertEqual(s.p99, 900)
        XCTAssertEqual(s.max, 900)
        XCTAssertEqual(s.mean, 94.5, accuracy: 1e-9)
        XCTAssertNil(LatencySummary([]))
    }

    func test_percentile_ofOneSample_isThatSample() {
        XCTAssertEqual(LatencySummary([42])!.p999, 42)
    }

    func test_parseSizes_acceptsSuffixes_andRefusesJunk() throws {
        XCTAssertEqual(try BenchPlan.parseSizes("1k, 100k,1m,7"), [1_000, 100_000, 1_000_000, 7])
        XCTAssertThrowsError(try BenchPlan.parseSizes("ten"))
        XCTAssertThrowsError(try BenchPlan.parseSizes("-1"))
    }

    func test_options_quickPlanAndOverrides() throws {
        let quick = try BenchCommand.parse(["--quick"]).makePlan()
        XCTAssertEqual(quick, BenchPlan.quick)
        let custom = try BenchCommand.parse(["--workers", "2,4", "--tasks", "50", "--scaling", "1k", "--beanstalkd-fsync", "0"]).makePlan()
        XCTAssertEqual(custom.workers, [2, 4])
        XCTAssertEqual(custom.tasks, 50)
        XCTAssertEqual(custom.scalingSizes, [1_000])
        XCTAssertEqual(custom.beanstalkFsyncMs, [0])
        XCTAssertThrowsError(try BenchCommand.parse(["--workers", "0"]))
    }

    func test_replyScan_findsTheGrant_inClaimAndClaimNextReplies() {
        let claim = Array(#"{"ok":true,"result":{"claim":{"lease_expires_at":1,"lease_expires_at_ms":1000,"run_id":7,"token":"ct_abc"},"task":{"assignee":"bench","body":null,"children":[],"id":"t_0000002a","result":"x \"id\":\"t_fake\""}}}"#.utf8)
        XCTAssertEqual(ReplyScan.grant(claim)?.taskID, "t_0000002a")
        XCTAssertEqual(ReplyScan.grant(claim)?.token, "ct_abc")
        let chained = Array(#"{"ok":true,"result":{"next":{"claim":{"run_id":9,"token":"ct_next"},"task":{"id":"t_00000002"}},"task":{"id":"t_00000001"}}}"#.utf8)
        XCTAssertEqual(ReplyScan.grant(chained)?.taskID, "t_00000002")
        XCTAssertEqual(ReplyScan.grant(chained)?.token, "ct_next")
        let drained = Array(#"{"ok":true,"result":{"next":{"claim":null,"task":null},"task":{"id":"t_00000001"}}}"#.utf8)
        XCTAssertNil(ReplyScan.grant(drained))
        XCTAssertTrue(ReplyScan.isOK(drained))
        let refused = Array(#"{"error":{"code":"stale_claim","message":"m"},"ok":false}"#.utf8)
        XCTAssertFalse(ReplyScan.isOK(refused))
        XCTAssertNil(ReplyScan.grant(refused))
    }
}
