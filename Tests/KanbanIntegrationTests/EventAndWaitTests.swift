import Foundation
import KanbanClient
import KanbanModel
import KanbanProtocol
import Synchronization
import XCTest
import ZeroMQ

final class EventStreamTests: XCTestCase {
    func test_everyCommittedMutation_isPublished_inSeqOrder_andReplayed() throws {
        let live = try LiveCoordinator()
        let sub = try live.subscriber()
        let lane = live.client(try live.registerLane("factory"))
        let task = try live.createTask("Build widget")
        let claim = try lane.call("claim", ["lane": "factory"])
        let token = claim["claim"]!["token"]!
        _ = try lane.call("heartbeat", ["task_id": .string(task), "claim_token": token, "note": "step 1"])
        _ = try lane.call("complete", ["task_id": .string(task), "claim_token": token, "result": "ok"])

        var received: [(topic: String, event: JSONValue)] = []
        while let e = try sub.next(timeoutMs: 500) {
            received.append(e)
            if e.event["type"] == "completed" { break }
        }
        let forTask = received.filter { $0.event["task_id"]?.stringValue == task }
        XCTAssertEqual(forTask.map { $0.event["type"]!.stringValue! }, ["created", "available", "claimed", "heartbeat", "completed"])
        for e in forTask { XCTAssertEqual(e.topic, "factory.\(e.event["type"]!.stringValue!)") }
        let seqs = received.map { $0.event["seq"]!.intValue! }
        XCTAssertEqual(seqs, seqs.sorted())
        XCTAssertEqual(Set(seqs).count, seqs.count)

        let replay = try live.admin.call("events", ["since": .int(seqs.first! - 1), "limit": 1000])
        let replayed = replay["events"]!.arrayValue!.map { $0["seq"]!.intValue! }
        XCTAssertEqual(Array(replayed.prefix(seqs.count)), seqs, "replay serves exactly what was published")
        XCTAssertEqual(replay["last_seq"]?.intValue, replayed.last)
        let laneOnly = try lane.call("events", ["since": 0, "lane": "factory"])["events"]!.arrayValue!
        XCTAssertTrue(laneOnly.allSatisfy { $0["lane"] == "factory" })
    }
}

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

final class ReplayTests: XCTestCase {
    func test_lateSubscriber_recoversAllHundredEventsInOrder_byReplay() throws {
        let live = try LiveCoordinator()
        let first = try live.board.lastEventSeq()
        for i in 0..<50 { try live.createTask("t\(i)", assignee: nil) }  // created only: 50 events
        for i in 0..<25 { try live.createTask("f\(i)", assignee: "factory") }  // created + available: 50 events
        let published = try live.board.events(since: first, limit: 1000, lane: nil)
        XCTAssertEqual(published.count, 100)

        let feed = EventFeed(commands: live.admin, eventEndpoint: live.eventEndpoint, since: first, context: live.context)
        var got: [Int64] = []
        let deadline = Date().addingTimeInterval(10)
        while got.count < 100, Date() < deadline { got += feed.poll(timeoutMs: 100).compactMap { $0["seq"]?.intValue } }
        XCTAssertEqual(got, published.map(\.seq))
        XCTAssertTrue(feed.drainNotices().contains { $0.contains("caught up 100") })
    }

    func test_feed_closesAGap_whenLiveEventsWereMissed() throws {
        let live = try LiveCoordinator()
        _ = try live.registerLane("factory")
        try live.createTask("a"); try live.createTask("b")
        let head = try live.board.lastEventSeq()
        // A follower that has seen everything up to head-2 and then lost two messages (as at a
        // high-water mark): the next live event reveals the gap and the feed replays it.
        let feed = EventFeed(commands: live.admin, eventEndpoint: live.eventEndpoint, since: head - 2, context: live.context)
        feed.headCheckInterval = .infinity  // only the gap in the live stream may trigger the replay
        var got: [Int64] = []
        let deadline = Date().addingTimeInterval(10)
        while got.isEmpty, Date() < deadline {
            _ = try live.admin.call("lane.update", ["name": "factory", "max_concurrency": 1])
            got += feed.poll(timeoutMs: 100).compactMap { $0["seq"]?.intValue }
        }
        XCTAssertEqual(got.first, head - 1, "replay starts right after the last delivered event")
        XCTAssertEqual(got, Array(got.first!...got.last!), "no seq skipped, none twice")
        XCTAssertTrue(feed.drainNotices().contains { $0.contains("gap") })
    }
}
