import Foundation
import KanbanClient
import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import Synchronization
import XCTest

final class ShutdownTests: XCTestCase {
    func test_gracefulStop_answersParkedClaimsWithNull_andKeepsClaims() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory", maxConcurrency: 2)
        let task = try live.createTask("held across the stop")
        let held = try live.client(token).call(.claim(lane: "factory"))
        let answer = Mutex<JSONValue?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            answer.withLock { $0 = try? live.client(token, timeoutMs: 10_000).call(.claim(lane: "factory", waitMs: 60_000)) }
            done.signal()
        }
        live.waitForParkedClaims(1)
        let next = try live.restarted()
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(answer.withLock { $0 }?["task"], .null, "parked claims are answered, not dropped")
        // The claim survives the restart: its holder finishes the task.
        _ = try next.client(token).call(.complete(task: task, token: held["claim"]!["token"]!.stringValue!))
        XCTAssertEqual(try next.status(task), "done")
    }
}
