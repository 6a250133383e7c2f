import Foundation
import KanbanModel
import XCTest

/// `JSONCodec.encode` writes exactly Foundation's bytes (`.sortedKeys, .withoutEscapingSlashes`) for
/// every value Foundation can write: replies are stored and replayed byte for byte to retries, and
/// board columns written before the codec existed hold Foundation's spelling. Foundation is only the
/// oracle here; no production code uses it for JSON.
final class JSONWriterTests: XCTestCase {
    private func foundation(_ value: JSONValue) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    private func encoded(_ value: JSONValue) -> String { JSONCodec.encodeString(value) }

    func test_matchesFoundation_byteForByte_onRandomValues() throws {
        var rng = SeededRandom(state: 20261121)
        for _ in 0..<3000 {
            let value = rng.value(depth: 0)
            XCTAssertEqual(encoded(value), try foundation(value))
        }
    }

    func test_matchesFoundation_onARealClaimReply() throws {
        let reply: JSONValue = ["ok": true, "result": ["claim": ["lease_expires_at": 1795271566, "lease_expires_at_ms": 1795271565782,
                                                                 "run_id": 1, "token": "ct_xS6gPIPT6xvTThrgB9Da6Ce_gwJZivQRnn01lKk3-40"],
                                                       "task": ["claim_lock": "lane:factory:1", "claims": [], "claim_mode": "pull", "body": .null]]]
        XCTAssertEqual(encoded(reply), try foundation(reply))
    }

    /// What the old fast writer declined and left to Foundation: now written, the same way.
    func test_matchesFoundation_whereTheOldFastWriterDeclined() throws {
        let every = String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) })
        for value: JSONValue in [["x": .double(1.5)], .string("line\nbreak"), ["Upper": 1], ["a10": 1, "a9": 2], .string(every),
                                 ["é": 1, "z": 2, "Z": 3, "_": 4], [.double(100), .double(-0.0), .double(1e20), .double(1e-7),
                                                                    .double(5e-324), .double(0.1), .double(1.7976931348623157e308)]] {
            XCTAssertEqual(encoded(value), try foundation(value))
        }
        XCTAssertEqual(encoded(.string("\u{0}\u{1F}\n")), #""\u0000\u001f\n""#)
    }

    func test_nonFiniteDoubles_areWrittenAsNull() {
        // Foundation throws on these; JSON has no spelling for them.
        XCTAssertEqual(encoded(["nan": .double(.nan), "inf": .double(.infinity), "neg": .double(-.infinity)]),
                       #"{"inf":null,"nan":null,"neg":null}"#)
    }

    func test_whatItWrites_readsBackAsTheSameValue() {
        var rng = SeededRandom(state: 7)
        for _ in 0..<2000 {
            let value = rng.value(depth: 0)
            XCTAssertEqual(JSONCodec.decode(JSONCodec.encode(value)), value, encoded(value))
        }
    }
}

/// Random JSON values of the shapes the bridge handles, reproducibly.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state ^ (state >> 29)
    }

    mutating func string() -> String {
        let pieces = ["a", "Z", "0", " ", "\"", "\\", "/", "é", "日本", "🚀", "\u{2028}", "\u{7F}", "{", "}", ":", ",", "t_", "ct_",
                      "\n", "\t", "\u{0}", "\u{1B}"]
        return (0..<Int.random(in: 0...8, using: &self)).map { _ in pieces.randomElement(using: &self)! }.joined()
    }

    mutating func key() -> String {
        let pieces = ["a", "b", "claim", "_", "s", "id", "task", "-", "lease_expires_at", "ms", "z", "Z", "9", "10", "é", " "]
        return (0..<Int.random(in: 1...4, using: &self)).map { _ in pieces.randomElement(using: &self)! }.joined()
    }

    /// Doubles that are not integral, so they read back as `.double` (integral ones read back as `.int`).
    mutating func double() -> Double {
        [0.5, -1.25, 1e-7, 2.5e300, 3.141592653589793, -0.1, 1e21 + 0.5, Double.random(in: -1e6...1e6, using: &self) + 0.25]
            .randomElement(using: &self)!
    }

    mutating func value(depth: Int) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &self) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &self))
        case 2: return .int([0, -1, 42, .max, .min, Int64.random(in: -1_000_000...1_000_000, using: &self)].randomElement(using: &self)!)
        case 3: return .string(string())
        case 4: return .double(double())
        case 5: return .array((0..<Int.random(in: 0...4, using: &self)).map { _ in value(depth: depth + 1) })
        default:
            var o: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &self) { o[key()] = value(depth: depth + 1) }
            return .object(o)
        }
    }
}
