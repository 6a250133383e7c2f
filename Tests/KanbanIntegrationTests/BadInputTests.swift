import Foundation
import KanbanClient
import KanbanModel
import KanbanProtocol
import XCTest
import ZeroMQ

/// Hostile and broken requests: each gets its error reply (or is dropped, past the frame ceiling),
/// and the coordinator keeps serving with the board unchanged.
final class BadInputTests: XCTestCase {
    var live: LiveCoordinator!

    override func setUpWithError() throws { live = try LiveCoordinator() }
    override func tearDown() { live = nil }

    func rawReply(_ bytes: [UInt8], auth: Bool = true) throws -> (code: String?, ok: Bool) {
        let reply = try live.client(nil).roundTrip(bytes)
        let parsed = try XCTUnwrap(JSONCodec.decode(reply))
        return (parsed["error"]?["code"]?.stringValue, parsed["ok"]?.boolValue ?? false)
    }

    func assertStillServing(file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try live.admin.call(.ping)["protocol"], 1, file: file, line: line)
    }

    func test_malformedJSON_getsBadRequest() throws {
        for junk in [#"{"op":"#, "{{{{", "\u{0}\u{1}", "[]", "null", #"{"op": 42}"#] {
            XCTAssertEqual(try rawReply(Array(junk.utf8)).code, "bad_request", junk)
        }
        try assertStillServing()
    }

    func test_invalidUTF8_getsBadRequest() throws {
        XCTAssertEqual(try rawReply([0x7B, 0x22, 0x6F, 0x70, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D]).code, "bad_request")
        try assertStillServing()
    }

    func test_unknownOp_getsUnknownOp() throws {
        // Raw on purpose: an op no typed `Request` can name.
        XCTAssertEqual(errorCode { try self.live.admin.call("tasks.drop") }, .unknownOp)
        try assertStillServing()
    }

    func test_wrongTypes_getBadRequest_andChangeNothing() throws {
        let before = try live.board.lastEventSeq()
        // Raw on purpose: wrong types and an out-of-range value, which the decoder must refuse.
        XCTAssertEqual(errorCode { try self.live.admin.call("task.create", ["title": 5]) }, .badRequest)
        XCTAssertEqual(errorCode { try self.live.admin.call("task.create", ["title": "x", "priority": "high"]) }, .badRequest)
        XCTAssertEqual(errorCode { try self.live.admin.call("lane.register", ["name": "x", "max_concurrency": 0]) }, .badRequest)
        XCTAssertEqual(errorCode { try self.live.admin.call("claim", ["lane": ["factory"]]) }, .badRequest)
        XCTAssertEqual(try live.board.lastEventSeq(), before)
        try assertStillServing()
    }

    func test_extraFrames_getBadRequest() throws {
        let dealer = try ZMQSocket(live.context, .dealer)
        try dealer.connect(live.commandEndpoint)
        try dealer.send([[], Array(#"{"op":"ping"}"#.utf8), Array("extra".utf8)])
        XCTAssertTrue(try dealer.waitReadable(timeoutMs: 5000))
        let frames = try dealer.receive()
        XCTAssertEqual(frames.first, [], "reply keeps the delimiter")
        let reply = try XCTUnwrap(JSONCodec.decode(frames.last!))
        XCTAssertEqual(reply["error"]?["code"], "bad_request")
        try assertStillServing()
    }

    func test_dealerWithoutDelimiter_isDropped_andServingContinues() throws {
        let dealer = try ZMQSocket(live.context, .dealer)
        try dealer.connect(live.commandEndpoint)
        try dealer.send([Array(#"{"op":"ping"}"#.utf8)])
        XCTAssertFalse(try dealer.waitReadable(timeoutMs: 300), "no envelope, nowhere to answer")
        // Positive control: a proper request sent after it on the same socket is handled after it, so
        // its reply being the first to arrive shows the first got none (not merely a slow one).
        try dealer.send([[], Array(#"{"op":"ping"}"#.utf8)])
        XCTAssertTrue(try dealer.waitReadable(timeoutMs: 15_000))
        let first = try dealer.receive()
        XCTAssertEqual(try JSONDecoder().decode(JSONValue.self, from: Data(first.last!))["result"]?["protocol"], 1, "no envelope, nowhere to answer")
        XCTAssertFalse(try dealer.waitReadable(timeoutMs: 0))
        try assertStillServing()
    }

    func test_tenMegabyteFrame_getsTooLarge() throws {
        let big = Array(#"{"op":"task.create","title":""#.utf8) + [UInt8](repeating: 0x61, count: 10 << 20) + Array(#""}"#.utf8)
        XCTAssertEqual(try rawReply(big).code, "too_large")
        XCTAssertEqual(try live.board.tasks(status: nil, assignee: nil, limit: 10).count, 0)
        try assertStillServing()
    }

    func test_frameOverTheCeiling_isDroppedByLibzmq_andOthersAreServed() throws {
        let small = try LiveCoordinator(maxRequestBytes: 1024, maxFrameBytes: 64 * 1024)
        let client = small.client(small.adminToken, timeoutMs: 500)
        XCTAssertThrowsError(try client.roundTrip([UInt8](repeating: 0x7B, count: 1 << 20))) { error in
            guard case ClientError.timeout = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try small.admin.call(.ping)["protocol"], 1)
        // Between the two limits: an answer, not a disconnect.
        XCTAssertEqual(errorCode { try small.admin.call(.taskCreate(TaskSpec(title: String(repeating: "x", count: 4096)))) }, .tooLarge)
    }

    func test_deepNesting_getsBadRequest() throws {
        // With a credential, so it is parsed (a stranger's 100 KB is refused before: the next test).
        let deep = Array(#"{"op":"ping","auth":"\#(live.adminToken)","x":"#.utf8) + [UInt8](repeating: 0x5B, count: 50_000)
            + [UInt8](repeating: 0x5D, count: 50_000) + [0x7D]
        XCTAssertEqual(try rawReply(deep).code, "bad_request")
        try assertStillServing()
    }

    func test_aStrangersLargeFrame_isRefusedBeforeItIsParsed() throws {
        let spaces = String(repeating: " ", count: DecodeLimits.maxUnauthenticatedBytes)  // valid JSON, any size
        XCTAssertEqual(try rawReply(Array(#"{"op":"ping"\#(spaces)}"#.utf8)).code, "too_large", "a ping needs a few bytes")
        XCTAssertEqual(try rawReply(Array(#"{"op":"ping"}"#.utf8)).ok, true, "a small ping without a credential is answered")
        XCTAssertEqual(try rawReply(Array(#"{"op":"ping","auth":"\#(live.adminToken)"\#(spaces)}"#.utf8)).ok, true,
                       "with a credential, the same ping is parsed and answered")
        // Its credential cannot be found without parsing (`op` twice): refused, and told why.
        XCTAssertEqual(try rawReply(Array(#"{"op":"ping","op":"ping"\#(spaces)}"#.utf8)).code, "bad_request")
        XCTAssertEqual(try rawReply(Array(#"{"op":"task.list"\#(spaces)}"#.utf8)).code, "unauthorized")
        try assertStillServing()
    }

    func test_burstOfGarbage_leavesBoardUnchangedAndServing() throws {
        let lane = try live.registerLane("factory")
        let task = try live.createTask("keep me")
        let seq = try live.board.lastEventSeq()
        var rng = SystemRandomNumberGenerator()
        let client = live.client(lane)
        for i in 0..<500 {
            var bytes = [UInt8](repeating: 0, count: Int.random(in: 0..<200, using: &rng))
            for j in bytes.indices { bytes[j] = UInt8.random(in: 0...255, using: &rng) }
            if i % 2 == 0 { bytes = Array(#"{"op":"complete","task_id":"\#(task)","claim_token":"#.utf8) + bytes }
            let reply = try client.roundTrip(bytes)
            let parsed = try XCTUnwrap(JSONCodec.decode(reply))
            XCTAssertEqual(parsed["ok"], false)
            XCTAssertNotNil(parsed["error"]?["code"]?.stringValue.flatMap(ErrorCode.init(rawValue:)), "stable code")
        }
        XCTAssertEqual(try live.board.lastEventSeq(), seq)
        XCTAssertEqual(try live.status(task), "ready")
        try assertStillServing()
    }
}
