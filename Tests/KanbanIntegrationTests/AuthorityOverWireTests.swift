import Foundation
import KanbanClient
import KanbanModel
import KanbanProtocol
import XCTest

final class AuthorityOverWireTests: XCTestCase {
    func test_mutationWithForeignToken_isRefused_andTaskUnchanged() throws {
        let live = try LiveCoordinator()
        let factory = live.client(try live.registerLane("factory"))
        let intruder = live.client(try live.registerLane("intruder"))
        let task = try live.createTask("guarded")
        let claim = try factory.call(.claim(lane: "factory"))
        let token = claim["claim"]!["token"]!.stringValue!
        let before = try live.admin.call(.taskGet(taskID: task))

        // Another lane with the stolen claim token: forbidden.
        XCTAssertEqual(errorCode { try intruder.call(.complete(task: task, token: token)) }, .forbidden)
        // The right lane with a wrong token: not the claim owner.
        XCTAssertEqual(errorCode { try factory.call(.complete(task: task, token: "ct_guessed")) }, .notClaimOwner)
        // A lane cannot claim for another lane, nor manage the board.
        XCTAssertEqual(errorCode { try intruder.call(.claim(lane: "factory")) }, .forbidden)
        XCTAssertEqual(errorCode { try intruder.call(.taskCreate(TaskSpec(title: "x"))) }, .forbidden)
        XCTAssertEqual(errorCode { try intruder.call(.register(Lane(name: "evil"))) }, .forbidden)
        XCTAssertEqual(errorCode { try intruder.call(.taskAssign(taskID: task, assignee: "intruder")) }, .forbidden)
        XCTAssertEqual(errorCode { try intruder.call(.taskReclaim(taskID: task, reason: nil)) }, .forbidden)
        XCTAssertEqual(errorCode { try factory.call(.taskUnblock(taskID: task)) }, .forbidden)

        XCTAssertEqual(try live.admin.call(.taskGet(taskID: task)), before, "nothing changed")
        _ = try factory.call(.complete(task: task, token: token, result: "ok"))
        XCTAssertEqual(errorCode { try factory.call(.heartbeat(task: task, token: token)) }, .staleClaim)
    }

    func test_missingOrWrongCredential_isUnauthorized_butPingAnswers() throws {
        let live = try LiveCoordinator()
        XCTAssertEqual(errorCode { try live.client(nil).call(.taskList()) }, .unauthorized)
        XCTAssertEqual(errorCode { try live.client("at_wrong").call(.taskList()) }, .unauthorized)
        XCTAssertEqual(try live.client(nil).call(.ping)["protocol"], 1)
    }

    func test_rotatedToken_stopsWorkingAtOnce() throws {
        let live = try LiveCoordinator()
        let old = try live.registerLane("factory")
        let fresh = try live.admin.call(.laneRotateToken(name: "factory"))["token"]!.stringValue!
        XCTAssertEqual(errorCode { try live.client(old).call(.claim(lane: "factory")) }, .unauthorized)
        XCTAssertNil(errorCode { try live.client(fresh).call(.claim(lane: "factory")) })
    }

    func test_parentGating_overTheWire() throws {
        let live = try LiveCoordinator()
        let lane = live.client(try live.registerLane("factory"))
        let parent = try live.createTask("parent")
        let child = try live.createTask("child", parents: [parent])
        XCTAssertEqual(try live.status(child), "todo")
        XCTAssertEqual(errorCode { try lane.call(.claim(lane: "factory", taskID: child)) }, .notReady)
        let claim = try lane.call(.claim(lane: "factory"))
        XCTAssertEqual(claim["task"]?["id"]?.stringValue, parent)
        _ = try lane.call(.complete(task: parent, token: claim["claim"]!["token"]!.stringValue!))
        XCTAssertEqual(try live.status(child), "ready")
        XCTAssertEqual(try lane.call(.claim(lane: "factory"))["task"]?["id"]?.stringValue, child)
    }

    func test_watchLane_claimsTheAnnouncedTask_butCannotPull() throws {
        let live = try LiveCoordinator()
        let token = try live.admin.call(.register(Lane(name: "watcher", claimMode: .watch)))["token"]!.stringValue!
        let task = try live.createTask("announced", assignee: "watcher")
        let lane = live.client(token)
        XCTAssertEqual(errorCode { try lane.call(.claim(lane: "watcher")) }, .badRequest)
        XCTAssertEqual(try lane.call(.claim(lane: "watcher", taskID: task))["task"]?["id"]?.stringValue, task)
    }

    func test_cycleIsRefused() throws {
        let live = try LiveCoordinator()
        let a = try live.createTask("a"), b = try live.createTask("b", parents: [a])
        XCTAssertEqual(errorCode { try live.admin.call(.taskLink(parent: b, child: a)) }, .conflict)
    }
}
