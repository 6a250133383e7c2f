import Foundation
import KanbanClient
import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import XCTest

/// A spawned worker's token (`wt_<lane>.<run>.…`) acts on its own run only, and dies with the run.
final class WorkerTokenTests: XCTestCase {
    /// A worker that hands its credentials to the test through its workspace, waits for `go`, completes.
    static let patient = ["/bin/sh", "-c", """
        printf %s "$KANBAN_LANE_TOKEN" > token.tmp && mv token.tmp token
        i=0; while [ ! -e go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
        exec "$KANBAN_BRIDGE_BIN" complete
        """]

    func test_aWorkersToken_actsOnItsOwnRunOnly_andDiesWithIt() throws {
        let live = try LiveCoordinator(dispatch: true)
        var lane = Lane(name: "pool", kind: .pool, maxConcurrency: 1, command: Self.patient)
        lane.workspacePolicy = .scratch
        lane.keepWorkspaces = true
        _ = try live.admin.call(.register(lane))
        // A finished parent, whose result the worker may read, and a task it has nothing to do with.
        let owner = live.client(try live.registerLane("owner"))
        let parent = try live.createTask("parent", assignee: "owner")
        let grant = try owner.call(.claim(lane: "owner"))
        _ = try owner.call(.complete(task: parent, token: grant["claim"]!["token"]!.stringValue!, result: "the parent's result"))
        let unrelated = try live.createTask("unrelated", assignee: nil)
        let task = try live.createTask("work", assignee: "pool", parents: [parent])
        let waiting = try live.createTask("waits for the slot", assignee: "pool")
        let workspace = live.dir.appendingPathComponent("workspaces/pool/\(task)").path
        try waitFor("the worker wrote its token") { FileManager.default.fileExists(atPath: workspace + "/token") }
        let token = try String(contentsOfFile: workspace + "/token", encoding: .utf8)
        XCTAssertTrue(token.hasPrefix("wt_pool."), "a worker token")
        let worker = live.client(token)

        // While the run is live: its own task, and nothing else of the board.
        XCTAssertEqual(try worker.call(.taskGet(taskID: task))["task"]?["id"]?.stringValue, task)
        XCTAssertEqual(try worker.call(.taskGet(taskID: parent))["task"]?["result"]?.stringValue, "the parent's result")
        XCTAssertEqual(errorCode { try worker.call(.taskGet(taskID: unrelated)) }, .forbidden)
        XCTAssertEqual(errorCode { try worker.call(.taskList()) }, .forbidden)
        XCTAssertEqual(errorCode { try worker.call(.laneList) }, .forbidden)
        XCTAssertEqual(errorCode { try worker.call(.stats(windowSeconds: 60)) }, .forbidden)
        XCTAssertEqual(errorCode { try worker.call(.events(since: 0, limit: 10, lane: nil)) }, .forbidden)
        XCTAssertEqual(errorCode { try worker.call(.claim(lane: "pool")) }, .forbidden, "it cannot take the pool's slot")
        XCTAssertEqual(try live.status(waiting), "ready")

        // Events: a worker token cannot subscribe; the lane's own can (positive control).
        let refused = try EventSubscriber(endpoint: live.eventEndpoint, topicPrefix: "", token: token, context: live.context)
        let admitted = try live.subscriber()
        _ = try live.createTask("an event", assignee: nil)
        var seenByAdmitted = false
        for _ in 0..<100 where !seenByAdmitted {
            if let e = try admitted.next(timeoutMs: 50), e.topic.hasSuffix("created") { seenByAdmitted = true }
        }
        XCTAssertTrue(seenByAdmitted, "positive control: the event was published")
        XCTAssertNil(try refused.next(timeoutMs: 200), "the worker's token was refused in the handshake")

        // The run ends: the token is dead, and the next task gets a token of its own.
        _ = FileManager.default.createFile(atPath: workspace + "/go", contents: nil)
        try waitFor("the run completed") { try live.status(task) == "done" }
        XCTAssertEqual(errorCode { try worker.call(.taskGet(taskID: task)) }, .unauthorized)
        XCTAssertEqual(errorCode { try worker.call(.claim(lane: "pool")) }, .unauthorized)
        XCTAssertNotNil(try worker.call(.ping)["version"], "ping needs no credential")
        let next = live.dir.appendingPathComponent("workspaces/pool/\(waiting)").path
        try waitFor("the next worker wrote its token") { FileManager.default.fileExists(atPath: next + "/token") }
        XCTAssertNotEqual(try String(contentsOfFile: next + "/token", encoding: .utf8), token)
        _ = FileManager.default.createFile(atPath: next + "/go", contents: nil)
        try waitFor("the next run completed") { try live.status(waiting) == "done" }
    }
}
