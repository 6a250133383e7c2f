import Foundation
import KanbanClient
import KanbanModel
import KanbanProtocol
import Synchronization
import XCTest

final class ClaimRaceTests: XCTestCase {
    func test_twoLanesRacingForOneTask_exactlyOneWins() throws {
        let live = try LiveCoordinator()
        let tokens = [try live.registerLane("alpha"), try live.registerLane("beta")]
        for round in 0..<20 {
            let task = try live.createTask("contested \(round)", assignee: nil)
            let outcomes = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 2) { i in
                let lane = i == 0 ? "alpha" : "beta"
                let client = live.client(tokens[i])
                do {
                    let r = try client.call(.claim(lane: lane, taskID: task))
                    let token = r["claim"]!["token"]!.stringValue!
                    _ = try client.call(.complete(task: task, token: token))
                    outcomes.withLock { $0.append("won:\(lane)") }
                } catch let e as WireError {
                    outcomes.withLock { $0.append(e.code.rawValue) }
                } catch {
                    outcomes.withLock { $0.append("\(error)") }
                }
            }
            let result = outcomes.withLock { $0 }
            XCTAssertEqual(result.filter { $0.hasPrefix("won:") }.count, 1, "round \(round): \(result)")
            XCTAssertTrue(result.allSatisfy { $0.hasPrefix("won:") || $0 == "not_assigned" || $0 == "not_ready" }, "\(result)")
            XCTAssertEqual(try live.status(task), "done")
        }
    }

    func test_eightClaimersOver200Tasks_claimEachTaskExactlyOnce() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory", maxConcurrency: 8)
        var created: Set<String> = []
        for i in 0..<200 { created.insert(try live.createTask("job \(i)")) }
        let claimed = Mutex<[String]>([])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let client = live.client(token)
            while true {
                do {
                    let r = try client.call(.claim(lane: "factory"))
                    guard let task = r["task"]?["id"]?.stringValue else { return }
                    claimed.withLock { $0.append(task) }
                    _ = try client.call(.complete(task: task, token: r["claim"]!["token"]!.stringValue!))
                } catch {
                    failures.withLock { $0.append("\(error)") }
                    return
                }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        let all = claimed.withLock { $0 }
        XCTAssertEqual(all.count, 200, "every task claimed once, none twice")
        XCTAssertEqual(Set(all), created)
        let done = try live.admin.call(.taskList(status: .done, limit: 1000))["tasks"]!.arrayValue!.count
        XCTAssertEqual(done, 200)
        // The board agrees: one run per task.
        XCTAssertEqual(try live.board.tasks(status: nil, assignee: nil, limit: 1000).count, 200)
        for id in created.prefix(20) { XCTAssertEqual(try live.board.task(id: id)?.runs.count, 1) }
    }

    func test_maxConcurrency_isHonouredOverTheWire() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory", maxConcurrency: 3)
        for i in 0..<5 { try live.createTask("job \(i)") }
        let lane = live.client(token)
        var held: [(String, String)] = []
        for _ in 0..<3 {
            let r = try lane.call(.claim(lane: "factory"))
            held.append((r["task"]!["id"]!.stringValue!, r["claim"]!["token"]!.stringValue!))
        }
        XCTAssertEqual(errorCode { try lane.call(.claim(lane: "factory")) }, .laneFull)
        let summary = try live.admin.call(.laneGet(name: "factory"))["lane"]!
        XCTAssertEqual(summary["running"], 3)
        XCTAssertEqual(summary["queued"], 2)
        _ = try lane.call(.release(task: held[0].0, token: held[0].1))
        XCTAssertNotNil(try lane.call(.claim(lane: "factory"))["task"]?["id"]?.stringValue)
    }
}
