import Foundation
import KanbanClient
import KanbanCoordinator
import KanbanModel
import XCTest

final class LaneWorkerTests: XCTestCase {
    func test_longHandler_keepsItsClaimAlive_byAutomaticHeartbeats() throws {
        // The lease runs on the coordinator's clock, driven here; the worker's heartbeats come on its
        // own real-time timer (a third of the lease, measured against the wall clock, hence the start).
        let clock = ManualClock(startMs: SystemClock().nowMs())
        let live = try LiveCoordinator(clock: clock)
        let token = try live.registerLane("factory")
        let task = try live.createTask("longer than the lease")
        let worker = LaneWorker(endpoint: live.commandEndpoint, lane: "factory", token: token, leaseSeconds: 1, context: live.context)
        let done = try worker.runOne(waitMs: 1000) { _ in
            // Two and a half leases and more: 0.9 s at a time, each after a heartbeat has renewed the
            // lease. Without the heartbeats the lease would run out at the second step.
            for n in 1...3 {
                try waitFor("heartbeat \(n)") {
                    try live.board.events(since: 0, limit: 100, lane: "factory").filter { $0.type == "heartbeat" }.count >= n
                }
                clock.advance(ms: 900)
            }
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
