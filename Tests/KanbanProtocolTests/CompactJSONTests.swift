import Foundation
import KanbanModel
import KanbanProtocol
import XCTest

/// The fast writer must produce exactly Foundation's bytes (replies are stored and compared byte
/// for byte by retries), and must decline whatever it cannot be sure of.
final class CompactJSONTests: XCTestCase {
    private func foundation(_ value: JSONValue) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    private struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state ^ (state >> 29)
        }
    }

    private func randomString(_ rng: inout Seeded) -> String {
        let pieces = ["a", "Z", "0", " ", "\"", "\\", "/", "é", "日本", "🚀", "\u{2028}", "\u{7F}", "{", "}", ":", ",", "t_", "ct_"]
        return (0..<Int.random(in: 0...8, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
    }

    private func randomKey(_ rng: inout Seeded) -> String {
        let pieces = ["a", "b", "claim", "_", "s", "id", "task", "-", "lease_expires_at", "ms", "z"]
        return (0..<Int.random(in: 1...4, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
    }

    private func randomValue(_ rng: inout Seeded, depth: Int) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .int([0, -1, 42, .max, .min, Int64.random(in: -1_000_000...1_000_000, using: &rng)].randomElement(using: &rng)!)
        case 3: return .string(randomString(&rng))
        case 4: return .array((0..<Int.random(in: 0...4, using: &rng)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            var o: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &rng) { o[randomKey(&rng)] = randomValue(&rng, depth: depth + 1) }
            return .object(o)
        }
    }

    func test_fastWriter_matchesFoundation_byteForByte_onRandomValues() throws {
        var rng = Seeded(state: 20261121)
        var written = 0
        for _ in 0..<3000 {
            let value = randomValue(&rng, depth: 0)
            guard let fast = CompactJSON.encode(value) else { continue }
            written += 1
            XCTAssertEqual(String(decoding: fast, as: UTF8.self), String(decoding: try foundation(value), as: UTF8.self))
        }
        XCTAssertGreaterThan(written, 2500, "the fast path should cover nearly every value of this shape")
    }

    func test_fastWriter_matchesFoundation_onARealClaimReply() throws {
        let reply: JSONValue = ["ok": true, "result": ["claim": ["lease_expires_at": 1795271566, "lease_expires_at_ms": 1795271565782,
                                                                 "run_id": 1, "token": "ct_xS6gPIPT6xvTThrgB9Da6Ce_gwJZivQRnn01lKk3-40"],
                                                       "task": ["claim_lock": "lane:factory:1", "claims": [], "claim_mode": "pull", "body": .null]]]
        XCTAssertEqual(CompactJSON.encode(reply), try foundation(reply))
        XCTAssertEqual(Reply.encode(reply), try foundation(reply))
    }

    func test_fastWriter_declines_whatFoundationMaySpellDifferently() {
        XCTAssertNil(CompactJSON.encode(["x": .double(1.5)]))
        XCTAssertNil(CompactJSON.encode(.string("line\nbreak")))
        XCTAssertNil(CompactJSON.encode(["Upper": 1]))
        XCTAssertNil(CompactJSON.encode(["a10": 1, "a9": 2]))
    }

    func test_replyEncode_fallsBackToFoundation_whenTheFastWriterDeclines() throws {
        let value: JSONValue = ["note": "two\nlines", "pct": .double(0.5), "Key9": 1]
        XCTAssertEqual(Reply.encode(value), try foundation(value))
    }
}
