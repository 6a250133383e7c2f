import Foundation
import XCTest
@testable import KanbanModel

final class DispatchRulesTests: XCTestCase {
    func test_template_fillsPlaceholders_perArgument_withoutAShell() {
        let argv = ["hermes", "-p", "{profile}", "chat", "-q", "work kanban task {task_id}"]
        XCTAssertEqual(CommandTemplate.render(argv, ["profile": "backend-hermes", "task_id": "t_1"]),
                       ["hermes", "-p", "backend-hermes", "chat", "-q", "work kanban task t_1"])
        XCTAssertEqual(CommandTemplate.render(["echo", "{title}"], ["title": "a \"quoted\" $(rm -rf /)"]),
                       ["echo", "a \"quoted\" $(rm -rf /)"], "one argument, verbatim")
        XCTAssertEqual(CommandTemplate.render(["{title}-{profile}"], ["title": "{profile}", "profile": "p"]), ["{profile}-p"],
                       "a value is never expanded again")
    }

    func test_template_reportsUnknownPlaceholders() {
        XCTAssertEqual(CommandTemplate.unknownPlaceholders(["run", "{task}", "{task_id}", "{workspce}"]), ["task", "workspce"])
        XCTAssertEqual(CommandTemplate.unknownPlaceholders(["plain", "{lane}"]), [])
    }

    func test_rotation_startsOneLaneFurtherEachRound() {
        XCTAssertEqual(LaneRotation.order(["b", "a", "c"], round: 0), ["a", "b", "c"])
        XCTAssertEqual(LaneRotation.order(["b", "a", "c"], round: 1), ["b", "c", "a"])
        XCTAssertEqual(LaneRotation.order(["b", "a", "c"], round: 5), ["c", "a", "b"])
        XCTAssertEqual(LaneRotation.order([], round: 3), [])
    }
}
