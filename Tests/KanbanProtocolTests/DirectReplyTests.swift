import KanbanModel
import KanbanProtocol
import XCTest

/// The hot path's replies, written field by field, are byte for byte the generic encoder's.
final class DirectReplyTests: XCTestCase {
    func randomTask(_ rng: inout SystemRandomNumberGenerator) -> TaskRecord {
        func maybe<T>(_ v: T) -> T? { Bool.random(using: &rng) ? v : nil }
        let text = ["plain", "quote \" and \\ back", "line\nbreak\ttab", "é 🚀", ""]
        return TaskRecord(
            id: "t_\(UInt32.random(in: 0...UInt32.max, using: &rng))", title: text.randomElement(using: &rng)!,
            body: maybe(text.randomElement(using: &rng)!), assignee: maybe("factory"),
            status: TaskStatus.allCases.randomElement(using: &rng)!, priority: Int.random(in: -5...5, using: &rng),
            tenant: maybe("acme"), idempotencyKey: maybe("k1"), createdAt: Int64.random(in: 0...2_000_000_000, using: &rng),
            startedAt: maybe(7), completedAt: maybe(8), result: maybe(text.randomElement(using: &rng)!),
            claimLock: maybe("lane:factory:3"), claimExpires: maybe(9), currentRunID: maybe(3), lastHeartbeatAt: maybe(10),
            maxRuntimeSeconds: maybe(60), parents: Bool.random(using: &rng) ? ["t_1", "t_2"] : [], children: maybe(["t_9"]) ?? [])
    }

    func test_directReplies_equalTheGenericEncoding() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let task = randomTask(&rng)
            let grant = ClaimGrant(task: randomTask(&rng), token: "ct_x", runID: 12, leaseExpiresAtMs: 1_700_000_000_123)
            XCTAssertEqual(Reply.okTask(task), Reply.ok(["task": WireFormat.task(task)]))
            XCTAssertEqual(Reply.okClaim(grant), Reply.ok(WireFormat.claim(grant)))
            XCTAssertEqual(Reply.okCompleted(task, next: grant), Reply.ok(["task": WireFormat.task(task), "next": WireFormat.claim(grant)]))
            let event = BoardEvent(seq: 5, type: "claimed", taskID: Bool.random(using: &rng) ? task.id : nil, lane: task.assignee,
                                   runID: task.currentRunID, atMs: 1_700_000_000_999, data: ["lock": .of(task.claimLock), "n": 3])
            XCTAssertEqual(WireFormat.eventBytes(event), Reply.encode(WireFormat.event(event)))
            XCTAssertEqual(Reply.okCompleted(task, next: nil), Reply.ok(["task": WireFormat.task(task), "next": ["task": .null, "claim": .null]]))
        }
    }
}
