import KanbanClient
@testable import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import XCTest

/// Stored replies keep no token, whether redacted on the bytes or through a parse.
final class StoredReplyTests: XCTestCase {
    func test_redactedInPlace_equalsTheParsedRedaction() throws {
        let reply = Reply.ok(["next": ["claim": ["run_id": 2, "token": "ct_T6MZGNsGIjTo1pdMCPImAk7OXFUvKp3bUvR3EfZVHkg"], "task": ["id": "t_1"]],
                              "task": ["id": "t_0", "result": "a \"token\":\"ct_fake\" in a string"]])
        let fast = try XCTUnwrap(StoredReply.redactedInPlace(reply))
        XCTAssertFalse(String(decoding: fast, as: UTF8.self).contains("ct_T6MZ"))
        XCTAssertEqual(try Reply.parse(fast).get()["next"]?["claim"]?["token"], "derived:ct_")
        XCTAssertEqual(try Reply.parse(fast).get()["task"]?["result"], "a \"token\":\"ct_fake\" in a string")
        XCTAssertEqual(StoredReply.redacted(reply), fast)
    }
}
