import Foundation
import XCTest
@testable import KanbanModel

final class SecretsTests: XCTestCase {
    func test_sha256_matchesStandardVectors() {
        XCTAssertEqual(sha256Hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(sha256Hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(sha256Hex([UInt8](repeating: 0x61, count: 1000)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    func test_hmac_matchesRFC4231() {
        let mac = Secrets.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        XCTAssertEqual(mac.map { String(format: "%02x", $0) }.joined(), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let longKey = [UInt8](repeating: 0xAA, count: 131)
        let mac2 = Secrets.hmacSHA256(key: longKey, message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
        XCTAssertEqual(mac2.map { String(format: "%02x", $0) }.joined(), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    func test_derivedToken_isTheSameAsEver_soRetriesOfOldRepliesStillWork() {
        // Computed with Python's hmac and base64.urlsafe_b64encode (padding stripped). The prefix is
        // left out of the comparison, so a failure prints nothing token-shaped.
        let token = Secrets.derivedToken(prefix: "ct_", key: Array(0..<32), seed: "lane:a|r1")
        XCTAssertEqual(String(token.dropFirst(3)), "IoRl0yxLaDY60-Ti3m_sUJLrqku1viYKs3Y38JR6Cwk")
        XCTAssertEqual(Secrets.base64url([0xFB, 0xFF, 0xFE, 0x01]), "-__-AQ")
    }

    func test_base64url_matchesFoundation_atEveryLength() {
        var rng = SystemRandomNumberGenerator()
        for length in 0...64 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var expected = Data(bytes).base64EncodedString()
            while expected.hasSuffix("=") { expected.removeLast() }
            expected = String(expected.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
            XCTAssertEqual(Secrets.base64url(bytes), expected, "length \(length)")
        }
    }

    func test_derivedToken_isStablePerSeed_andDiffersPerKeyAndSeed() {
        let k1 = Array("one".utf8), k2 = Array("two".utf8)
        XCTAssertEqual(Secrets.derivedToken(prefix: "ct_", key: k1, seed: "lane:a|r1"), Secrets.derivedToken(prefix: "ct_", key: k1, seed: "lane:a|r1"))
        XCTAssertNotEqual(Secrets.derivedToken(prefix: "ct_", key: k1, seed: "lane:a|r1"), Secrets.derivedToken(prefix: "ct_", key: k2, seed: "lane:a|r1"))
        XCTAssertNotEqual(Secrets.derivedToken(prefix: "ct_", key: k1, seed: "lane:a|r1"), Secrets.derivedToken(prefix: "ct_", key: k1, seed: "lane:a|r2"))
        XCTAssertEqual(Secrets.derivedToken(prefix: "ct_", key: k1, seed: "x").count, 3 + 43)
    }

    func test_newToken_isPrefixedUniqueAndLongEnough() {
        let a = Secrets.newToken(prefix: "ct_"), b = Secrets.newToken(prefix: "ct_")
        XCTAssertTrue(a.hasPrefix("ct_"))
        XCTAssertEqual(a.count, 3 + 43)
        XCTAssertNotEqual(a, b)
    }

    func test_constantTimeEquals() {
        XCTAssertTrue(Secrets.constantTimeEquals("abc", "abc"))
        XCTAssertFalse(Secrets.constantTimeEquals("abc", "abd"))
        XCTAssertFalse(Secrets.constantTimeEquals("abc", "abcd"))
    }
}

/// Hex of `Secrets.sha256`, for the standard test vectors.
private func sha256Hex(_ bytes: [UInt8]) -> String { Secrets.hex(Secrets.sha256(bytes)) }
