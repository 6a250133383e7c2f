import Foundation
import KanbanClient
import KanbanCoordinator
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
            let r = try? live.client(token, timeoutMs: 15_000).call(.claim(lane: "factory", waitMs: 10_000))
            answer.withLock { $0 = r }
            done.signal()
        }
        // The claim parks; it must not stall other requests meanwhile.
        for _ in 0..<5 { XCTAssertEqual(try live.admin.call(.ping)["protocol"], 1) }
        live.waitForParkedClaims(1)  // so the task below arrives after the claim, as the test says
        let task = try live.createTask("arrives later")
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(answer.withLock { $0 }?["task"]?["id"]?.stringValue, task)
    }

    func test_blockingClaimOnAFullLane_waitsForASlot() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")  // one slot
        let first = try live.createTask("first"), second = try live.createTask("second")
        let held = try live.client(token).call(.claim(lane: "factory"))
        XCTAssertEqual(held["task"]?["id"]?.stringValue, first)
        let answer = Mutex<JSONValue?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            answer.withLock { $0 = try? live.client(token, timeoutMs: 15_000).call(.claim(lane: "factory", waitMs: 10_000)) }
            done.signal()
        }
        live.waitForParkedClaims(1)  // a claim refused with lane_full would never park
        XCTAssertEqual(done.wait(timeout: .now()), .timedOut, "parked, not refused with lane_full")
        _ = try live.client(token).call(.complete(task: first, token: held["claim"]!["token"]!.stringValue!))
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(answer.withLock { $0 }?["task"]?["id"]?.stringValue, second)
    }

    func test_parkedClaim_getsNullWhenTheWaitEnds() throws {
        // The wait is time passing on the coordinator's clock: driven, not slept.
        let clock = ManualClock()
        let live = try LiveCoordinator(clock: clock)
        let token = try live.registerLane("factory")
        let answer = Mutex<JSONValue?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            answer.withLock { $0 = try? live.client(token, timeoutMs: 60_000).call(.claim(lane: "factory", waitMs: 200)) }
            done.signal()
        }
        live.waitForParkedClaims(1)
        clock.advance(ms: 200)
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        let r = try XCTUnwrap(answer.withLock { $0 })
        XCTAssertEqual(r["task"], .null)
    }

    func test_tenParkedClaimersAndFiveTasks_fiveGetOneEach_fiveGetNull() throws {
        let clock = ManualClock()
        let live = try LiveCoordinator(clock: clock)
        let token = try live.registerLane("factory", maxConcurrency: 10)
        let results = Mutex<[String?]>([])
        let group = DispatchGroup()
        for _ in 0..<10 {
            group.enter()
            Thread.detachNewThread {
                let r = try? live.client(token, timeoutMs: 60_000).call(.claim(lane: "factory", waitMs: 2_000))
                results.withLock { $0.append(r?["task"]?["id"]?.stringValue) }
                group.leave()
            }
        }
        live.waitForParkedClaims(10)
        var created: Set<String> = []
        for i in 0..<5 { created.insert(try live.createTask("t\(i)")) }
        // Five answered with a task; the other five wait out their 2 s on the coordinator's clock.
        waitFor("five claims answered") { results.withLock { $0.count } == 5 }
        clock.advance(ms: 2_000)
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        let got = results.withLock { $0 }
        XCTAssertEqual(got.count, 10)
        XCTAssertEqual(Set(got.compactMap { $0 }), created)
        XCTAssertEqual(got.compactMap { $0 }.count, 5)
    }

    func test_claimForAClientThatLeft_isReleased_notHeld() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")
        try parkClaimAndLeave(live, token: token)
        // Sent on a new connection (each `admin` is a new client): the coordinator reads it only after
        // its ROUTER has dropped the client that left (see `parkClaimAndLeave`).
        let task = try live.createTask("for a ghost")
        var types: [String] = []
        try waitFor("the claim released") {
            types = try live.board.events(since: 0, limit: 100, lane: "factory").filter { $0.taskID == task }.map(\.type)
            return types.contains("released")
        }
        XCTAssertEqual(types, ["created", "available", "claimed", "released", "available"])
        XCTAssertEqual(try live.status(task), "ready")
    }

    /// Parks a claim for a client that then goes away for good (no request_id: it cannot retry), and
    /// returns once that client's TCP connection is closed. Not a pause but a handshake: a send to a
    /// peer the ROUTER still thinks connected is not refused, and nothing outside the ROUTER can tell
    /// when it notices. So the client gets a ZeroMQ context of its own, which ends (zmq_ctx_term, in
    /// its deinit, when the last reference goes at the end of this function) only after its I/O thread
    /// closed the connection. The coordinator's one I/O thread then handles that close before any
    /// connection made afterwards can hand its ROUTER a request.
    private func parkClaimAndLeave(_ live: LiveCoordinator, token: String) throws {
        let req = try ZMQSocket(ZMQContext(), .req)
        try req.connect(live.commandEndpoint)
        try req.send([RequestEncoder.encode(.claim(lane: "factory", waitMs: 10_000), auth: token)])
        live.waitForParkedClaims(1)
        req.close()
    }
}
