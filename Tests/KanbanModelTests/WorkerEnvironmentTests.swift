import XCTest
@testable import KanbanModel

final class WorkerEnvironmentTests: XCTestCase {
    func test_claim_tellsTheClaimTheTaskAndHermesVariables() {
        var lane = Lane(name: "codex")
        lane.profile = "backend"
        let env = WorkerEnvironment.claim(taskID: "t_1", runID: 7, claimToken: "ct_x", lane: lane, title: "T", body: nil, tenant: "acme")
        XCTAssertEqual(env["KANBAN_TASK"], "t_1")
        XCTAssertEqual(env["KANBAN_RUN_ID"], "7")
        XCTAssertEqual(env["HERMES_KANBAN_CLAIM_LOCK"], "lane:codex:7")
        XCTAssertEqual(env["HERMES_PROFILE"], "backend")
        XCTAssertEqual(env["HERMES_TENANT"], "acme")
        XCTAssertEqual(env["KANBAN_TASK_BODY"], "")
        XCTAssertEqual(WorkerEnvironment.workspace(nil), ["KANBAN_WORKSPACE": ""])
        XCTAssertEqual(WorkerEnvironment.workspace("/w")["TERMINAL_CWD"], "/w")
    }

    func test_aBodyPastWhatExecTakes_isCutOnACharacter_withItsSize() {
        XCTAssertEqual(WorkerEnvironment.bounded("short"), "short")
        let big = String(repeating: "é", count: 100_000)  // 200,000 bytes: exec refuses strings over 128 KiB
        let cut = WorkerEnvironment.bounded(big)
        XCTAssertLessThanOrEqual(cut.utf8.count, WorkerEnvironment.maxValueBytes)
        XCTAssertTrue(cut.hasPrefix("éé"))
        XCTAssertTrue(cut.hasSuffix("the task's text is 200000 bytes; `kanban-bridge task show` has all of it]"), cut.suffix(120).description)
        let values = CommandTemplate.values(taskID: "t_1", runID: 1, lane: Lane(name: "l"), workspace: nil, title: "t", body: big)
        XCTAssertEqual(values["body"], cut, "the {body} placeholder is bounded the same way")
    }
}
