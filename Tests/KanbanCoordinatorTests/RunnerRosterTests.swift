import KanbanProtocol
import XCTest
@testable import KanbanCoordinator

final class RunnerRosterTests: XCTestCase {
    func report(_ id: String, lane: String = "codex", host: String = "gpu-1", running: [String] = []) -> RunnerReport {
        RunnerReport(lane: lane, runnerID: id, host: host, pid: 42, slots: 3, running: running)
    }

    func test_aReportReplacesTheRunnersLast_andStaleRunnersDrop() {
        var roster = RunnerRoster()
        roster.seen(report("a", running: ["t_1"]), nowMs: 0)
        roster.seen(report("b", host: "gpu-2"), nowMs: 1_000)
        roster.seen(report("a", running: ["t_1", "t_2"]), nowMs: 2_000)
        XCTAssertEqual(roster.runners(lane: "codex", nowMs: 2_000).map(\.report.runnerID), ["a", "b"])
        XCTAssertEqual(roster.runners(lane: "codex", nowMs: 2_000).first?.report.running, ["t_1", "t_2"])
        let later = 1_000 + RunnerRoster.staleAfterMs
        XCTAssertEqual(roster.runners(lane: "codex", nowMs: later).map(\.report.runnerID), ["a"], "b was not heard from")
        XCTAssertEqual(roster.runners(lane: "other", nowMs: 0).count, 0)
    }

    func test_theRosterIsBounded_whateverClientsSend() {
        var roster = RunnerRoster()
        for i in 0..<RunnerRoster.maxPerLane { XCTAssertTrue(roster.seen(report("r\(i)"), nowMs: 0)) }
        XCTAssertFalse(roster.seen(report("one-too-many"), nowMs: 0))
        XCTAssertTrue(roster.seen(report("r0", running: ["t_9"]), nowMs: 1), "a known runner still reports")
        XCTAssertTrue(roster.seen(report("new", lane: "other"), nowMs: 1), "another lane has room")
    }

    func test_wire_showsHowLongAgoItWasSeen() {
        let entry = RunnerRoster.Entry(report: report("a"), lastSeenMs: 1_000)
        let wire = RunnerRoster.wire(entry, nowMs: 4_500)
        XCTAssertEqual(wire["seen_ms_ago"]?.intValue, 3_500)
        XCTAssertEqual(wire["host"]?.stringValue, "gpu-1")
    }
}
