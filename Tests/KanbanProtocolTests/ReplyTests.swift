import KanbanModel
import XCTest
@testable import KanbanProtocol

final class ReplyTests: XCTestCase {
    func test_okReply_roundTrips() {
        let bytes = Reply.ok(["task": ["id": "t_1"]])
        XCTAssertEqual(try Reply.parse(bytes).get()["task"]?["id"], "t_1")
    }

    func test_errorReply_carriesStableCode() {
        let bytes = Reply.error(WireError(.staleClaim, "gone"))
        guard case .failure(let e) = Reply.parse(bytes) else { return XCTFail() }
        XCTAssertEqual(e.code, .staleClaim)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), #"{"error":{"code":"stale_claim","message":"gone"},"ok":false}"#)
    }

    func test_eventTopic_usesLaneOrUnderscore() {
        XCTAssertEqual(BoardEvent(seq: 1, type: "claimed", taskID: "t", lane: "factory", runID: 1, atMs: 0, data: [:]).topic, "factory.claimed")
        XCTAssertEqual(BoardEvent(seq: 1, type: "created", taskID: "t", lane: nil, runID: nil, atMs: 0, data: [:]).topic, "_.created")
    }
}
