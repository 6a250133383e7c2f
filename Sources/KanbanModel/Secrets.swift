import Crypto
import Foundation

/// Unguessable tokens and their one-way hashes. The bridge stores only hashes of lane and claim
/// tokens, so a copy of the board file does not let anyone act as a lane.
public enum Secrets {
    /// A fresh token: `prefix` + 43 base64url characters (256 bits from the system CSPRNG).
    public static func newToken(prefix: String) -> String {
        var rng = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = UInt8.random(in: .min ... .max, using: &rng) }
        return prefix + base64url(bytes)
    }

    /// A token that can be minted again from the same `seed` by whoever holds `key`, and by nobody
    /// else: `prefix` + base64url(HMAC-SHA256(key, prefix + seed)). Used for replies that a retry
    /// must repeat, so the board never has to store the token itself.
    public static func derivedToken(prefix: String, key: [UInt8], seed: String) -> String {
        prefix + base64url(hmacSHA256(key: key, message: Array((prefix + seed).utf8)))
    }

    /// HMAC-SHA256 (RFC 2104), by swift-crypto.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<Crypto.SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// SHA-256 of `message`, by swift-crypto.
    public static func sha256(_ message: [UInt8]) -> [UInt8] { Array(Crypto.SHA256.hash(data: message)) }

    /// Hex SHA-256 of the token's UTF-8 bytes. A fast hash is enough: tokens carry 256 random bits.
    public static func hash(_ token: String) -> String { hex(sha256(Array(token.utf8))) }

    /// Lowercase hex (on every request's hot path: no `String(format:)` per byte).
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: bytes.count * 2)
        for (i, b) in bytes.enumerated() {
            out[2 * i] = digits[Int(b >> 4)]
            out[2 * i + 1] = digits[Int(b & 0x0F)]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Compares two strings in time independent of where they differ.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }

    /// RFC 4648 §5 without padding: Foundation's base64 with the URL-safe alphabet.
    /// Unpadded base64url (RFC 4648 §5). Written out rather than Foundation's `base64EncodedString`
    /// plus two rewrites of the text: every claim minted under a request_id encodes one, and that path
    /// cost about 17,000 instructions per token (callgrind, `kanban-bench --instructions`, 2026-12-02);
    /// this loop costs a few hundred. `SecretsTests` checks it against Foundation's output.
    static func base64url(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18 & 63)]); out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)]); out.append(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            out.append(alphabet[Int(n >> 18 & 63)]); out.append(alphabet[Int(n >> 12 & 63)])
            if rest == 2 { out.append(alphabet[Int(n >> 6 & 63)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
}
