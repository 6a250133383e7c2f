import Foundation
import KanbanClient
import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import XCTest

/// Safe retries: a mutating request repeated with the same `request_id` gets the first reply again
/// and changes nothing a second time.
final class DuplicateDeliveryTests: XCTestCase {
    /// Sends `request` once as the frame `RequestEncoder` writes, and returns the reply's bytes.
    func rawCall(_ client: CommandClient, _ request: Request, auth: String, requestID: String) throws -> [UInt8] {
        try client.roundTrip(RequestEncoder.encode(request, auth: auth, requestID: requestID))
    }

    func test_sameCompleteThreeTimesWithOneRequestID_completesOnce_andRepliesTheSame() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")
        let lane = live.client(token)
        let task = try live.createTask("once")
        let claim = try lane.call(.claim(lane: "factory"))
        let complete = Request.complete(task: task, token: claim["claim"]!["token"]!.stringValue!, result: "ok")
        let replies = try (0..<3).map { _ in try rawCall(lane, complete, auth: token, requestID: "req-1") }
        XCTAssertEqual(replies[0], replies[1])
        XCTAssertEqual(replies[1], replies[2])
        XCTAssertEqual(try Reply.parse(replies[0]).get()["task"]?["status"], "done")
        let completions = try live.board.events(since: 0, limit: 100, lane: nil).filter { $0.taskID == task && $0.type == "completed" }
        XCTAssertEqual(completions.count, 1)

        // A different request id is a new request: the claim has ended.
        guard case .failure(let e) = Reply.parse(try rawCall(lane, complete, auth: token, requestID: "req-2")) else { return XCTFail() }
        XCTAssertEqual(e.code, .staleClaim)
    }

    func test_requestIDReusedAfterItsWindow_isANewRequest_withAFreshToken() throws {
        let clock = ManualClock()  // the window passes on the coordinator's clock, not in real time
        let live = try LiveCoordinator(clock: clock, retryWindowMs: 300)
        let token = try live.registerLane("factory")
        let lane = live.client(token)
        _ = try live.createTask("first")
        let first = try lane.call(.claim(lane: "factory"), requestID: "reused")
        XCTAssertEqual(try lane.call(.claim(lane: "factory"), requestID: "reused"), first, "a retry within the window")
        _ = try lane.call(.complete(task: first["task"]!["id"]!.stringValue!, token: first["claim"]!["token"]!.stringValue!))
        clock.advance(ms: 500)  // the window is over; the old reply may still be stored

        let secondTask = try live.createTask("second")
        let second = try lane.call(.claim(lane: "factory"), requestID: "reused")
        XCTAssertEqual(second["task"]?["id"]?.stringValue, secondTask, "a new claim, not the old reply")
        XCTAssertNotEqual(second["claim"]?["token"], first["claim"]?["token"], "and a new token")
        XCTAssertEqual(try lane.call(.claim(lane: "factory"), requestID: "reused"), second, "whose retry gets it again")
        _ = try lane.call(.complete(task: secondTask, token: second["claim"]!["token"]!.stringValue!))
        XCTAssertEqual(try live.status(secondTask), "done")
    }

    func test_aRequestIDReusedForAnotherOpOrTask_isRefused_andNothingRuns() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory", maxConcurrency: 2)
        let lane = live.client(token)
        let (a, b) = (try live.createTask("a"), try live.createTask("b"))
        let claimA = try lane.call(.claim(lane: "factory", taskID: a), requestID: "r-claim")
        let tokenA = claimA["claim"]!["token"]!.stringValue!
        // The same id for `complete`: once answered with the old claim reply (ok, and nothing done).
        let reused = Reply.parse(try rawCall(lane, .complete(task: a, token: tokenA), auth: token, requestID: "r-claim"))
        guard case .failure(let e) = reused else { return XCTFail("expected a refusal, got \(reused)") }
        XCTAssertEqual(e.code, .requestIDReused)
        XCTAssertTrue(e.message.contains("claim factory \(a)") && e.message.contains("complete \(a)"), e.message)
        XCTAssertEqual(try live.status(a), "running", "the complete did not run")
        // The claim's own retry still gets its reply; the refusal was not recorded in its place.
        XCTAssertEqual(try lane.call(.claim(lane: "factory", taskID: a), requestID: "r-claim"), claimA)

        // Same op, another task: refused too.
        let claimB = try lane.call(.claim(lane: "factory", taskID: b))
        let tokenB = claimB["claim"]!["token"]!.stringValue!
        _ = try lane.call(.heartbeat(task: a, token: tokenA), requestID: "r-beat")
        XCTAssertEqual(errorCode { try lane.call(.heartbeat(task: b, token: tokenB), requestID: "r-beat") }, .requestIDReused)
        _ = try lane.call(.complete(task: a, token: tokenA), requestID: "r-done-a")
        XCTAssertEqual(try live.status(a), "done")
        XCTAssertEqual(try live.status(b), "running")
    }

    func test_requestIDs_areScopedToTheCaller() throws {
        let live = try LiveCoordinator()
        _ = try live.registerLane("factory")
        let a = try live.admin.call(.taskCreate(TaskSpec(title: "a")), requestID: "same")
        let b = try live.client(try live.registerLane("other")).call(.taskGet(taskID: a["task"]!["id"]!.stringValue!), requestID: "same")
        XCTAssertEqual(b["task"]?["id"], a["task"]?["id"], "reads are never replayed; another principal's id is its own")
        let c = try live.admin.call(.taskCreate(TaskSpec(title: "a")), requestID: "same")
        XCTAssertEqual(c["task"]?["id"], a["task"]?["id"])
        XCTAssertEqual(try live.board.tasks(status: nil, assignee: nil, limit: 10).count, 1)
    }

    func test_refusalsAreRemembered_too() throws {
        let live = try LiveCoordinator()
        let first = errorCode { try live.admin.call(.taskCreate(TaskSpec(title: "x", parents: ["t_missing0"])), requestID: "r") }
        XCTAssertEqual(first, .notFound)
        XCTAssertEqual(errorCode { try live.admin.call(.taskCreate(TaskSpec(title: "x")), requestID: "r") }, .notFound,
                       "the first reply, even though this body would succeed")
    }

    func test_rememberedReply_survivesACoordinatorRestart() throws {
        var live = try LiveCoordinator()
        let token = try live.registerLane("factory")
        let task = try live.createTask("x")
        let claim = try live.client(token).call(.claim(lane: "factory"), requestID: "claim-1")
        live = try live.restarted()
        let again = try live.client(token).call(.claim(lane: "factory"), requestID: "claim-1")
        XCTAssertEqual(again, claim, "the retry gets the same claim, token included")
        _ = try live.client(token).call(.complete(task: task, token: claim["claim"]!["token"]!.stringValue!))
        XCTAssertEqual(try live.status(task), "done")
    }

    func test_boardFile_holdsNoToken_evenInRememberedReplies() throws {
        let live = try LiveCoordinator()
        let laneToken = try live.admin.call(.register(Lane(name: "factory")), requestID: "reg-1")["token"]!.stringValue!
        try live.createTask("x")
        let claimToken = try live.client(laneToken).call(.claim(lane: "factory"), requestID: "claim-1")["claim"]!["token"]!.stringValue!
        // Retries still get the very same tokens back...
        XCTAssertEqual(try live.admin.call(.register(Lane(name: "factory")), requestID: "reg-1")["token"]?.stringValue, laneToken)
        XCTAssertEqual(try live.client(laneToken).call(.claim(lane: "factory"), requestID: "claim-1")["claim"]?["token"]?.stringValue, claimToken)
        // ...yet neither token is anywhere in the board's files.
        for suffix in ["", "-wal"] {
            let file = live.dir.appendingPathComponent("kanban.db" + suffix)
            guard let bytes = try? Data(contentsOf: file) else { continue }
            XCTAssertNil(bytes.range(of: Data(laneToken.utf8)), "lane token in kanban.db\(suffix)")
            XCTAssertNil(bytes.range(of: Data(claimToken.utf8)), "claim token in kanban.db\(suffix)")
        }
    }
}
