import Foundation
import KanbanClient
import KanbanModel
import XCTest

final class LaneWorkerTests: XCTestCase {
    func test_longHandler_keepsItsClaimAlive_byAutomaticHeartbeats() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")
        let task = try live.createTask("longer than the lease")
        let worker = LaneWorker(endpoint: live.commandEndpoint, lane: "factory", token: token, leaseSeconds: 1, context: live.context)
        let done = try worker.runOne(waitMs: 1000) { _ in
            Thread.sleep(forTimeInterval: 2.5)  // two and a half leases
            return "finished"
        }
        XCTAssertEqual(done, task)
        XCTAssertEqual(try live.status(task), "done")
        let beats = try live.board.events(since: 0, limit: 100, lane: "factory").filter { $0.type == "heartbeat" }
        XCTAssertGreaterThanOrEqual(beats.count, 2)
    }

    func test_handlerError_blocksTheTask_withTheReason() throws {
        struct NeedsCredentials: Error, CustomStringConvertible { var description: String { "needs credentials" } }
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")
        let task = try live.createTask("will fail")
        let worker = LaneWorker(endpoint: live.commandEndpoint, lane: "factory", token: token, context: live.context)
        XCTAssertEqual(try worker.runOne(waitMs: 1000) { _ in throw NeedsCredentials() }, task)
        let detail = try XCTUnwrap(try live.board.task(id: task))
        XCTAssertEqual(detail.task.status, .blocked)
        XCTAssertEqual(detail.runs.last?.error, "needs credentials")
    }

    func test_noWork_returnsNil_afterTheWait() throws {
        let live = try LiveCoordinator()
        let worker = LaneWorker(endpoint: live.commandEndpoint, lane: "factory", token: try live.registerLane("factory"), context: live.context)
        XCTAssertNil(try worker.runOne(waitMs: 100) { _ in "never" })
    }
}
