import KanbanModel

/// Mints the tokens one request hands out. Without a seed, random. With one (caller and request id:
/// a request that may be retried), derived from the seed and a random nonce; the nonces are kept
/// here for the stored reply, so a retry derives the same token again, while a request id reused
/// after its window gets a new one.
struct TokenMinter {
    let seed: String?
    let key: [UInt8]
    /// Nonce by token, for `StoredReply.redacted`.
    private(set) var nonces: [String: String] = [:]

    init(seed: String?, key: [UInt8]) { self.seed = seed; self.key = key }

    mutating func mint(prefix: String) -> String {
        guard let seed else { return Secrets.newToken(prefix: prefix) }
        var rng = SystemRandomNumberGenerator()
        let nonce = String(rng.next() as UInt64, radix: 16)
        let token = Self.derive(prefix: prefix, key: key, seed: seed, nonce: nonce)
        nonces[token] = nonce
        return token
    }

    static func derive(prefix: String, key: [UInt8], seed: String, nonce: String) -> String {
        Secrets.derivedToken(prefix: prefix, key: key, seed: nonce.isEmpty ? seed : seed + "#" + nonce)
    }
}
