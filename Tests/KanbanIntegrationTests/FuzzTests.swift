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
        let claim = try live.client(token).call("claim", ["lane": "factory"])
        heldClaimToken = claim["claim"]?["token"]?.stringValue ?? ""
    }

    override func tearDown() { live = nil }

    /// Everything a request could have changed, read over the wire.
    func boardDigest() throws -> [JSONValue] {
        [try live.admin.call("ping")["last_seq"] ?? .null, try live.admin.call("task.list", ["limit": 1000]),
         try live.admin.call("lane.list")]
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
            XCTAssertEqual(try live.admin.call("ping")["protocol"], 1, "still serving")
        }
        XCTAssertGreaterThan(totalErrors, 95_000, "nearly every generated request is refused")
        XCTAssertEqual(try boardDigest(), before, "seed \(seed): the board changed")
    }
}

/// A seeded generator of broken requests: random bytes, mutated valid requests, wrong types, bad
/// values, forged credentials, deep nesting and invalid UTF-8. None carries a valid credential.
struct MalformedRequests {
    private var rng: SplitMix64
    private let claimToken: String

    init(seed: UInt64, claimToken: String) {
        rng = SplitMix64(seed: seed)
        self.claimToken = claimToken
    }

    static let ops = ["ping", "lane.register", "lane.update", "lane.list", "lane.get", "lane.remove", "lane.rotate-token",
                      "task.create", "task.get", "task.list", "task.assign", "task.link", "task.reclaim", "task.unblock",
                      "workspace.prune", "claim", "heartbeat", "complete", "block", "release", "events", "drop.tables"]
    static let fields = ["name", "kind", "claim_mode", "max_concurrency", "lease_seconds", "title", "body", "assignee",
                         "priority", "parents", "task_id", "lane", "wait_ms", "claim_token", "result", "since", "limit",
                         "request_id", "command", "curve_public_key", "metadata", "reason"]

    mutating func next() -> [UInt8] {
        switch rng.below(6) {
        case 0: return (0..<rng.below(200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 1: return mutate(Array(wellFormed().utf8))
        case 2: return Array(wellFormed().utf8)
        case 3: return Array((String(repeating: "[", count: 20 + rng.below(200)) + "1").utf8)
        case 4: return Array(wellFormed().utf8) + [0xC3, 0x28, 0xFF]
        default: return Array("{\"op\":\"\(pick(Self.ops))\",\"auth\":\(value())}".utf8)
        }
    }

    /// A syntactically valid request with a forged or missing credential and random field values.
    private mutating func wellFormed() -> String {
        var parts = ["\"op\":\"\(pick(Self.ops))\""]
        switch rng.below(4) {
        case 0: break  // no auth
        case 1: parts.append("\"auth\":\"lt_\(randomText(43))\"")
        case 2: parts.append("\"auth\":\"wt_factory.\(randomText(43))\"")
        default: parts.append("\"auth\":\(value())")
        }
        for _ in 0..<rng.below(6) { parts.append("\"\(pick(Self.fields))\":\(value())") }
        if rng.below(3) == 0 { parts.append("\"claim_token\":\"\(claimToken)\"") }  // stolen, with no credential
        return "{" + parts.joined(separator: ",") + "}"
    }

    private mutating func value() -> String {
        switch rng.below(10) {
        case 0: return "null"
        case 1: return rng.below(2) == 0 ? "true" : "false"
        case 2: return String(Int64(bitPattern: rng.next()))
        case 3: return "1e\(rng.below(400))"
        case 4: return "\"\(randomText(rng.below(80)))\""
        case 5: return "[\(value()),\(value())]"
        case 6: return "{\"\(pick(Self.fields))\":\(value())}"
        case 7: return "\"factory\""
        case 8: return "\"t_\(randomText(8))\""
        default: return "\"\(String(repeating: "x", count: rng.below(5000)))\""
        }
    }

    private mutating func mutate(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        for _ in 0..<(1 + rng.below(4)) where !b.isEmpty {
            let i = rng.below(b.count)
            switch rng.below(3) {
            case 0: b[i] = UInt8(truncatingIfNeeded: rng.next())
            case 1: b.remove(at: i)
            default:
                let structural = Array("{}[]\":,\\\u{0}".utf8)
                b.insert(structural[rng.below(structural.count)], at: i)
            }
        }
        return b
    }

    private mutating func randomText(_ n: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
        return String((0..<n).map { _ in alphabet[rng.below(alphabet.count)] })
    }

    private mutating func pick(_ list: [String]) -> String { list[rng.below(list.count)] }
}

/// A small, fast, seedable generator (SplitMix64), so a failing run can be replayed exactly.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
}
