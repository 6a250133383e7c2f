import Foundation
import GRDB
import KanbanClient
import KanbanModel
import KanbanProtocol
import XCTest
import ZeroMQ

/// Requests that arrive together are committed together. Holding the board's write lock from
/// another connection keeps the writes queued (reads are still answered), so they are handled as
/// one batch once the lock goes.
final class GroupCommitTests: XCTestCase {
    func test_batch_refusedRequestUndoesOnlyItself_retryInTheSameBatchIsReplayed_repliesAfterCommit() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")
        let first = try live.createTask("first")
        let second = try live.createTask("second")
        let claim = try live.client(token).call(.claim(lane: "factory"))
        let claimToken = claim["claim"]!["token"]!.stringValue!

        // Another connection holds the write lock until `release` is signalled.
        // It waits for the lock like any writer would: the coordinator may be mid-write just now.
        var blockerConfig = Configuration()
        blockerConfig.busyMode = .timeout(10)
        let blocker = try DatabaseQueue(path: live.dir.appendingPathComponent("kanban.db").path, configuration: blockerConfig)
        let locked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), unlocked = DispatchSemaphore(value: 0)
        Thread {
            do {
                try blocker.writeWithoutTransaction { db in
                    try db.inTransaction(.immediate) {
                        locked.signal()
                        _ = release.wait(timeout: .now() + 30)
                        return .commit
                    }
                }
            } catch {
                print("blocker could not take the write lock: \(error)")
            }
            unlocked.signal()
        }.start()
        // Never wait forever: a blocker that failed must fail the test, not hang the suite.
        guard locked.wait(timeout: .now() + 15) == .success else { return XCTFail("the blocker never got the write lock") }
        let dealer = try ZMQSocket(live.context, .dealer)
        try dealer.connect(live.commandEndpoint)
        func send(_ tag: String, _ request: Request, auth: String? = nil, requestID: String? = nil) throws {
            try dealer.send([Array(tag.utf8), [], RequestEncoder.encode(request, auth: auth, requestID: requestID)])
        }
        let complete = Request.complete(task: first, token: claimToken, claimNext: true)
        try send("A", .ping)  // a read: answered at once, the lock is no business of it
        XCTAssertTrue(try dealer.waitReadable(timeoutMs: 5000), "a read is answered while another program holds the lock")
        XCTAssertEqual(String(decoding: try dealer.receive()[0], as: UTF8.self), "A")
        try send("B", complete, auth: token, requestID: "r1")
        try send("C", .complete(task: first, token: "ct_not-a-real-token"), auth: token)
        try send("D", .taskCreate(TaskSpec(title: "made in a batch")), auth: live.adminToken, requestID: "r2")
        try send("E", complete, auth: token, requestID: "r1")
        // Positive control instead of a pause: a read sent after them on the same socket is handled
        // after them (one pipe, in order) and answered at once, so any early answer to B–E would
        // arrive before its reply.
        try send("F", .ping)
        XCTAssertTrue(try dealer.waitReadable(timeoutMs: 15_000), "the marker read is answered while the lock is held")
        XCTAssertEqual(String(decoding: try dealer.receive()[0], as: UTF8.self), "F", "nothing may be answered before its commit")
        XCTAssertFalse(try dealer.waitReadable(timeoutMs: 0), "nothing may be answered before its commit")
        release.signal()
        XCTAssertEqual(unlocked.wait(timeout: .now() + 15), .success)

        var replies: [String: [UInt8]] = [:]
        while replies.count < 4 {
            XCTAssertTrue(try dealer.waitReadable(timeoutMs: 15_000))
            let frames = try dealer.receive()
            replies[String(decoding: frames[0], as: UTF8.self)] = frames.last
        }
        func result(_ tag: String) throws -> JSONValue { try Reply.parse(replies[tag]!).get() }
        XCTAssertEqual(try result("B")["next"]?["task"]?["id"]?.stringValue, second)
        guard case .failure(let refused) = Reply.parse(replies["C"]!) else { return XCTFail("a bogus claim token must be refused") }
        XCTAssertEqual(refused.code, .notClaimOwner)
        let made = try XCTUnwrap(try result("D")["task"]?["id"]?.stringValue)
        XCTAssertEqual(replies["E"], replies["B"], "a retry in the same batch gets the first reply, byte for byte")

        XCTAssertEqual(try live.status(first), "done")
        XCTAssertEqual(try live.status(second), "running")
        XCTAssertEqual(try live.status(made), "ready")
        let runs = try live.admin.call(.taskGet(taskID: second))["task"]?["runs"]?.arrayValue
        XCTAssertEqual(runs?.count, 1)
    }
}
