import KanbanModel
import KanbanStore
import XCTest
@testable import KanbanCoordinator

/// `stats`' FAILED column is defined once: runs that ended in failure, each once (issue #25, finding 7:
/// a run that crashed and then gave up counted twice, and a failed spawn not at all).
final class StatsReplyTests: XCTestCase {
    func test_failedRuns_countEachFailedRunOnce_spawnFailuresIncluded_gaveUpNotAdded() {
        var lane = LaneStats(lane: "pool", registered: true, maxConcurrency: 2)
        // Three failed runs: one timed out, one crashed (and reached the limit: gave_up), one never spawned.
        lane.window = ["claimed": 3, "timed_out": 1, "crashed": 1, "gave_up": 1, "spawn_failed": 1, "released": 2]
        let reply = StatsReply.wire(BoardStats(sinceMs: 0, nowMs: 1000, eventsScanned: 9, lanes: [lane]), windowSeconds: 60)
        let out = reply["lanes"]?.arrayValue?.first
        XCTAssertEqual(out?["failed_runs"]?.intValue, 3)
        XCTAssertEqual(out?["window"]?["gave_up"]?.intValue, 1)
    }

    func test_everyFailureOutcome_isAlwaysReported_andCounted() {
        XCTAssertEqual(Set(StatsReply.failedRunKeys), ["timed_out", "crashed", "spawn_failed"])
        let empty = StatsReply.wire(BoardStats(sinceMs: 0, nowMs: 0, eventsScanned: 0,
                                               lanes: [LaneStats(lane: "x", registered: true, maxConcurrency: nil)]), windowSeconds: 60)
        let window = empty["lanes"]?.arrayValue?.first?["window"]
        for key in StatsReply.windowKeys { XCTAssertEqual(window?[key]?.intValue, 0, key) }
        XCTAssertEqual(empty["lanes"]?.arrayValue?.first?["failed_runs"]?.intValue, 0)
    }
}

/// Spawned workers find the coordinator's own CLI (issue #25, finding 1).
final class WorkerEnvironmentTests: XCTestCase {
    func test_theCLIsDirectoryComesFirstOnPATH_once_andKANBAN_BRIDGE_BINNamesIt() {
        let env = DispatchSettings.withOwnCLI(["PATH": "/usr/bin:/opt/kb/bin:/bin"], cli: "/opt/kb/bin/kanban-bridge")
        XCTAssertEqual(env["PATH"], "/opt/kb/bin:/usr/bin:/bin")
        XCTAssertEqual(env["KANBAN_BRIDGE_BIN"], "/opt/kb/bin/kanban-bridge")
        XCTAssertEqual(DispatchSettings.withOwnCLI([:], cli: "/x/kanban-bridge")["PATH"], "/x:/usr/local/bin:/usr/bin:/bin")
        XCTAssertEqual(DispatchSettings.withOwnCLI(["KANBAN_BRIDGE_BIN": "/y/kb"], cli: "/x/kanban-bridge")["KANBAN_BRIDGE_BIN"], "/y/kb")
    }
}
