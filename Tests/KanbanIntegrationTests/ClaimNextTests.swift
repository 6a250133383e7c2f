import KanbanClient
@testable import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import XCTest

/// `complete` with `claim_next: true`: the next task of the lane comes back in the same round trip.
final class ClaimNextTests: XCTestCase {
    func test_completeWithClaimNext_completesAndClaimsTheLanesBestTask() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")
        let first = try live.createTask("first")
        let second = try live.createTask("second")
        let worker = live.client(token)
        let claim = try worker.call(.claim(lane: "factory"))
        XCTAssertEqual(claim["task"]?["id"]?.stringValue, first)

        let reply = try worker.call(.complete(task: first, token: claim["claim"]!["token"]!.stringValue!, result: "ok", claimNext: true))
        XCTAssertEqual(reply["task"]?["status"]?.stringValue, "done")
        XCTAssertEqual(reply["next"]?["task"]?["id"]?.stringValue, second)
        XCTAssertEqual(reply["next"]?["task"]?["status"]?.stringValue, "running")
        let nextToken = try XCTUnwrap(reply["next"]?["claim"]?["token"]?.stringValue)
        XCTAssertTrue(nextToken.hasPrefix("ct_"))
        // The lane holds one slot (max_concurrency 1): the completion freed it for the next claim.
        _ = try worker.call(.heartbeat(task: second, token: nextToken))

        let last = try worker.call(.complete(task: second, token: nextToken, claimNext: true))
        XCTAssertEqual(last["task"]?["status"]?.stringValue, "done")
        XCTAssertEqual(last["next"], Operations_noTask)
        XCTAssertEqual(try live.status(second), "done")
    }

    func test_completeWithoutClaimNext_keepsItsReplyShape() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")
        let task = try live.createTask("only")
        _ = try live.createTask("another")
        let worker = live.client(token)
        let claim = try worker.call(.claim(lane: "factory"))
        let reply = try worker.call(.complete(task: task, token: claim["claim"]!["token"]!.stringValue!, claimNext: false))
        XCTAssertNil(reply["next"])
        XCTAssertEqual(reply.objectValue?.keys.sorted(), ["task"])
    }

    func test_claimNext_retriedWithTheSameRequestID_getsTheSameClaimOnce() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")
        let first = try live.createTask("first")
        let second = try live.createTask("second")
        let worker = live.client(token)
        let claim = try worker.call(.claim(lane: "factory"))
        let complete = Request.complete(task: first, token: claim["claim"]!["token"]!.stringValue!, claimNext: true)
        let a = try worker.call(complete, requestID: "retry-1")
        let b = try worker.call(complete, requestID: "retry-1")
        XCTAssertEqual(a, b)
        XCTAssertEqual(a["next"]?["task"]?["id"]?.stringValue, second)
        let runs = try live.admin.call(.taskGet(taskID: second))["task"]?["runs"]?.arrayValue
        XCTAssertEqual(runs?.count, 1, "a retry must not claim again")
        // The replayed token is the live one.
        _ = try worker.call(.heartbeat(task: second, token: a["next"]!["claim"]!["token"]!.stringValue!))
    }

    func test_claimNext_onAWatchLane_completesAndClaimsNothing() throws {
        let live = try LiveCoordinator()
        let token = try live.admin.call(.register(Lane(name: "docs", claimMode: .watch)))["token"]!.stringValue!
        let task = try live.createTask("watched", assignee: "docs")
        _ = try live.createTask("also watched", assignee: "docs")
        let worker = live.client(token)
        let claim = try worker.call(.claim(lane: "docs", taskID: task))
        let reply = try worker.call(.complete(task: task, token: claim["claim"]!["token"]!.stringValue!, claimNext: true))
        XCTAssertEqual(reply["task"]?["status"]?.stringValue, "done")
        XCTAssertEqual(reply["next"], Operations_noTask)
    }

    func test_claimNext_mustBeABoolean() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")
        // Raw on purpose: `claim_next` of the wrong type, which the decoder must refuse.
        XCTAssertEqual(errorCode { try live.client(token).call("complete", ["task_id": "t_00000001", "claim_token": "ct_x", "claim_next": "yes"]) },
                       .badRequest)
    }
}

/// `{"task":null,"claim":null}`, the `next` of a `claim_next` that found nothing.
let Operations_noTask: JSONValue = ["task": .null, "claim": .null]
