import Foundation
import KanbanClient
import KanbanModel
import KanbanProtocol
import Synchronization
import XCTest
import ZeroMQ

final class BlockingClaimTests: XCTestCase {
    func test_parkedClaim_isAnsweredWhenATaskArrives() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")
        let answer = Mutex<JSONValue?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let r = try? live.client(token, timeoutMs: 15_000).call("claim", ["lane": "factory", "wait_ms": 10_000])
            answer.withLock { $0 = r }
            done.signal()
        }
        // The claim parks; it must not stall other requests meanwhile.
        for _ in 0..<5 { XCTAssertEqual(try live.admin.call("ping")["protocol"], 1) }
        Thread.sleep(forTimeInterval: 0.1)
        let task = try live.createTask("arrives later")
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(answer.withLock { $0 }?["task"]?["id"]?.stringValue, task)
    }

    func test_blockingClaimOnAFullLane_waitsForASlot() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")  // one slot
        let first = try live.createTask("first"), second = try live.createTask("second")
        let held = try live.client(token).call("claim", ["lane": "factory"])
        XCTAssertEqual(held["task"]?["id"]?.stringValue, first)
        let answer = Mutex<JSONValue?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            answer.withLock { $0 = try? live.client(token, timeoutMs: 15_000).call("claim", ["lane": "factory", "wait_ms": 10_000]) }
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(done.wait(timeout: .now()), .timedOut, "parked, not refused with lane_full")
        _ = try live.client(token).call("complete", ["task_id": .string(first), "claim_token": held["claim"]!["token"]!])
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(answer.withLock { $0 }?["task"]?["id"]?.stringValue, second)
    }

    func test_parkedClaim_getsNullWhenTheWaitEnds() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")
        let r = try live.client(token).call("claim", ["lane": "factory", "wait_ms": 200])
        XCTAssertEqual(r["task"], .null)
    }

    func test_tenParkedClaimersAndFiveTasks_fiveGetOneEach_fiveGetNull() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory", maxConcurrency: 10)
        let results = Mutex<[String?]>([])
        let group = DispatchGroup()
        for _ in 0..<10 {
            group.enter()
            Thread.detachNewThread {
                let r = try? live.client(token, timeoutMs: 10_000).call("claim", ["lane": "factory", "wait_ms": 2_000])
                results.withLock { $0.append(r?["task"]?["id"]?.stringValue) }
                group.leave()
            }
        }
        Thread.sleep(forTimeInterval: 0.3)  // let the ten park
        var created: Set<String> = []
        for i in 0..<5 { created.insert(try live.createTask("t\(i)")) }
        XCTAssertEqual(group.wait(timeout: .now() + 10), .success)
        let got = results.withLock { $0 }
        XCTAssertEqual(got.count, 10)
        XCTAssertEqual(Set(got.compactMap { $0 }), created)
        XCTAssertEqual(got.compactMap { $0 }.count, 5)
    }

    func test_claimForAClientThatLeft_isReleased_notHeld() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")
        let req = try ZMQSocket(live.context, .req)
        try req.connect(live.commandEndpoint)
        try req.send([Reply.encode(["op": "claim", "auth": .string(token), "lane": "factory", "wait_ms": 10_000])])
        Thread.sleep(forTimeInterval: 0.2)  // parked
        req.close()
        Thread.sleep(forTimeInterval: 0.3)  // the ROUTER notices the disconnect
        let task = try live.createTask("for a ghost")
        let deadline = Date().addingTimeInterval(5)
        var types: [String] = []
        repeat {
            types = try live.board.events(since: 0, limit: 100, lane: "factory").filter { $0.taskID == task }.map(\.type)
            if types.contains("released") { break }
            Thread.sleep(forTimeInterval: 0.05)
        } while Date() < deadline
        XCTAssertEqual(types, ["created", "available", "claimed", "released", "available"])
        XCTAssertEqual(try live.status(task), "ready")
    }
}
