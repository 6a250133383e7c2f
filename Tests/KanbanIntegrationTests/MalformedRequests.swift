import Foundation
import KanbanClient
import KanbanModel
import KanbanProtocol
import XCTest
import ZeroMQ

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
