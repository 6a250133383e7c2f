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
        let claim = try lane.call(.claim(lane: "factory"))
        let token = claim["claim"]!["token"]!.stringValue!
        _ = try lane.call(.heartbeat(task: task, token: token, note: "step 1"))
        _ = try lane.call(.complete(task: task, token: token, result: "ok"))

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

        let replay = try live.admin.call(.events(since: seqs.first! - 1, limit: 1000, lane: nil))
        let replayed = replay["events"]!.arrayValue!.map { $0["seq"]!.intValue! }
        XCTAssertEqual(Array(replayed.prefix(seqs.count)), seqs, "replay serves exactly what was published")
        XCTAssertEqual(replay["last_seq"]?.intValue, replayed.last)
        let laneOnly = try lane.call(.events(since: 0, limit: 1000, lane: "factory"))["events"]!.arrayValue!
        XCTAssertTrue(laneOnly.allSatisfy { $0["lane"] == "factory" })
    }
}
