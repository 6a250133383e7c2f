@testable import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import XCTest

/// Stored replies find their tokens where the reply shapes put them (`WireFormat.tokenPaths`).
final class StoredReplyPathsTests: XCTestCase {
    let task = TaskRecord(id: "t_1", title: "x", status: .running, createdAt: 1)
    let lane = LaneSummary(lane: Lane(name: "factory"), running: 0, queued: 0)

    /// Each token-bearing reply, with the token it holds.
    func replies(_ token: (String) -> String) -> [[UInt8]] {
        [
            Reply.ok(WireFormat.registered(lane, token: token("lt_"))),
            Reply.ok(WireFormat.rotated(lane: "factory", token: token("lt_"))),
            Reply.okClaim(ClaimGrant(task: task, token: token("ct_"), runID: 2, leaseExpiresAtMs: 3)),
            Reply.okCompleted(task, next: ClaimGrant(task: task, token: token("ct_"), runID: 2, leaseExpiresAtMs: 3)),
        ]
    }

    func test_everyTokenBearingReply_isStoredWithoutItsToken_andRestoredWithANewOne() {
        let secret = { (prefix: String) in prefix + "SECRETabc" }
        let minted = { (prefix: String) in prefix + "minted-n1" }
        for (reply, expected) in zip(replies(secret), replies(minted)) {
            let stored = StoredReply.redacted(reply, nonces: ["lt_SECRETabc": "n1", "ct_SECRETabc": "n1"])
            XCTAssertFalse(String(decoding: stored, as: UTF8.self).contains("SECRET"), String(decoding: stored, as: UTF8.self))
            XCTAssertEqual(StoredReply.restored(stored) { prefix, nonce in prefix + "minted-" + nonce }, expected)
        }
    }

    func test_theParsedRedaction_followsTheSamePaths() {
        // Not an `lt_`/`ct_` token: the byte-level redaction declines, the parsed one goes by the paths.
        for reply in replies({ _ in "zz_SECRET" }) {
            XCTAssertNil(StoredReply.redactedInPlace(reply))
            let stored = StoredReply.redacted(reply)
            XCTAssertFalse(String(decoding: stored, as: UTF8.self).contains("SECRET"), String(decoding: stored, as: UTF8.self))
        }
    }
}
