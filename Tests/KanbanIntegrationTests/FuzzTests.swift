import Foundation
import KanbanClient
import KanbanModel
import KanbanProtocol
import XCTest
import ZeroMQ

/// Hostile input at volume: a stored corpus of nasty requests and 100,000 generated malformed ones,
/// sent over a real socket. Every request must get a reply (an error with a stable code, or `ok` for a
/// read), the coordinator must keep serving, and the board must not change: no generated request
/// carries a valid credential, so nothing may be written.
final class FuzzTests: XCTestCase {
    static let stableCodes = Set(ErrorCode.allCases.map(\.rawValue))

    var live: LiveCoordinator!
    var heldClaimToken = ""

    override func setUpWithError() throws {
        live = try LiveCoordinator()
        // Real state to damage: a lane, tasks, a parent link and a live claim.
        let token = try live.registerLane("factory", maxConcurrency: 2)
        let parent = try live.createTask("parent")
        _ = try live.createTask("child", parents: [parent])
        let claim = try live.client(token).call(.claim(lane: "factory"))
        heldClaimToken = claim["claim"]?["token"]?.stringValue ?? ""
    }

    override func tearDown() { live = nil }

    /// Everything a request could have changed, read over the wire.
    func boardDigest() throws -> [JSONValue] {
        [try live.admin.call(.ping)["last_seq"] ?? .null, try live.admin.call(.taskList(limit: 1000)),
         try live.admin.call(.laneList)]
    }

    /// Sends every frame through one DEALER socket, `window` in flight at a time, and checks each reply.
    /// (The coordinator keeps at most 64 unread replies per peer, and libzmq accounts for them in steps
    /// of half that: a pipelining client keeps at most 32 requests in flight, or replies are dropped.)
    func sendAll(_ frames: [[UInt8]], window: Int = 24) throws -> (errors: Int, oks: Int) {
        let dealer = try ZMQSocket(live.context, .dealer)
        try dealer.connect(live.commandEndpoint)
        defer { dealer.close() }
        var sent = 0, received = 0, errors = 0, oks = 0
        while received < frames.count {
            while sent < frames.count && sent - received < window {
                try dealer.send([[], frames[sent]])  // empty delimiter, as REQ would add
                sent += 1
            }
            guard try dealer.waitReadable(timeoutMs: 10_000) else {
                XCTFail("no reply for 10 s after \(received) of \(frames.count) requests")
                return (errors, oks)
            }
            let reply = try dealer.receive().last ?? []
            received += 1
            guard let parsed = JSONCodec.decode(reply) else {
                XCTFail("a reply that is not JSON: \(String(decoding: reply.prefix(200), as: UTF8.self))")
                continue
            }
            if parsed["ok"] == true {
                oks += 1
            } else if let code = parsed["error"]?["code"]?.stringValue, Self.stableCodes.contains(code) {
                errors += 1
                let message = parsed["error"]?["message"]?.stringValue ?? ""
                XCTAssertFalse(message.contains(heldClaimToken) || message.contains(live.adminToken), "a reply echoed a secret")
            } else {
                XCTFail("a reply without a stable error code: \(parsed)")
            }
        }
        return (errors, oks)
    }

    func test_storedCorpus_isAnsweredWithStableCodes_andChangesNothing() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fuzz-corpus")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertGreaterThanOrEqual(files.count, 20, "the corpus is in Tests/fuzz-corpus")
        let before = try boardDigest()
        let frames = files.map { Array(FileManager.default.contents(atPath: dir.appendingPathComponent($0).path) ?? Data()) }
        let (errors, _) = try sendAll(frames, window: 1)
        XCTAssertGreaterThanOrEqual(errors, files.count - 2, "only a plain ping variant may succeed")
        XCTAssertEqual(try boardDigest(), before)
    }

    func test_hundredThousandGeneratedMalformedRequests_leaveTheBoardUnchanged_andTheCoordinatorServing() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["FUZZ_SEED"] ?? "") ?? 20_261_121
        print("fuzz seed \(seed) (rerun with FUZZ_SEED=\(seed))")
        var generator = MalformedRequests(seed: seed, claimToken: heldClaimToken)
        let before = try boardDigest()
        var totalErrors = 0
        for _ in 0..<10 {  // in batches, so a failure says roughly where
            let (errors, _) = try sendAll((0..<10_000).map { _ in generator.next() })
            totalErrors += errors
            XCTAssertEqual(try live.admin.call(.ping)["protocol"], 1, "still serving")
        }
        XCTAssertGreaterThan(totalErrors, 95_000, "nearly every generated request is refused")
        XCTAssertEqual(try boardDigest(), before, "seed \(seed): the board changed")
    }
}
