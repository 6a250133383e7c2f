import KanbanModel
import KanbanProtocol

/// Replies are kept for retries without the tokens in them. Tokens minted under a `request_id` are
/// derived (`Secrets.derivedToken`) from the request and a random nonce, so the stored copy holds a
/// placeholder naming the token's prefix and nonce (`derived:ct_<nonce>`), and a replay derives the
/// same token again. A copy of the board file reveals no token: deriving needs the admin token.
enum StoredReply {
    static let placeholder = "derived:"
    private static let tokenKey = Array(#""token":""#.utf8)

    /// The reply as stored: `result.token`, `result.claim.token` and `result.next.claim.token`
    /// (`complete` with `claim_next`) replaced by placeholders.
    static func redacted(_ reply: [UInt8], nonces: [String: String] = [:]) -> [UInt8] {
        // Most replies hold no token; do not parse those. (Quotes inside JSON strings are escaped,
        // so this byte pattern can only be a key.)
        guard Bytes.end(of: tokenKey, in: reply[...]) != nil else { return reply }
        if let fast = redactedInPlace(reply, nonces: nonces) { return fast }
        guard case .success(var result) = Reply.parse(reply) else { return reply }
        result = mapTokens(result) { token in .string(placeholder + String(token.prefix(3)) + (nonces[token] ?? "")) }
        return Reply.ok(result)
    }

    /// The same redaction on the bytes, without a parse: each `"token":"<prefix>…"` value becomes
    /// `"derived:<prefix>"`. Tokens are `lt_`/`ct_` plus base64url, so they hold no quote or escape;
    /// replies are compact with sorted keys, so this equals re-encoding the redacted value. Nil (parse
    /// instead) for anything that is not such a token.
    static func redactedInPlace(_ reply: [UInt8], nonces: [String: String] = [:]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(reply.count)
        var rest = reply[...]
        while let found = Bytes.end(of: tokenKey, in: rest) {
            out += rest[..<found]
            let value = rest[found...]
            guard let end = value.firstIndex(of: 0x22), value.distance(from: value.startIndex, to: end) > 3 else { return nil }
            let prefix = Array(value.prefix(3))
            guard prefix == Array("ct_".utf8) || prefix == Array("lt_".utf8),
                  value[..<end].allSatisfy({ $0 != 0x5C }) else { return nil }
            let nonce = nonces[String(decoding: value[..<end], as: UTF8.self)] ?? ""
            out += Array(placeholder.utf8) + prefix + Array(nonce.utf8)
            rest = value[end...]
        }
        out += rest
        return out
    }

    /// The stored reply with its tokens minted again for `seed`.
    static func restored(_ stored: [UInt8], mint: (_ prefix: String, _ nonce: String) -> String) -> [UInt8] {
        guard case .success(var result) = Reply.parse(stored) else { return stored }
        result = mapTokens(result) { value in
            guard value.hasPrefix(placeholder) else { return .string(value) }
            let rest = value.dropFirst(placeholder.count)
            return .string(mint(String(rest.prefix(3)), String(rest.dropFirst(3))))
        }
        return Reply.ok(result)
    }

    private static func mapTokens(_ result: JSONValue, _ f: (String) -> JSONValue) -> JSONValue {
        guard case .object(var top) = result else { return result }
        if let token = top["token"]?.stringValue { top["token"] = f(token) }
        if case .object(var claim)? = top["claim"], let token = claim["token"]?.stringValue {
            claim["token"] = f(token)
            top["claim"] = .object(claim)
        }
        if case .object? = top["next"], let next = top["next"] { top["next"] = mapTokens(next, f) }
        return .object(top)
    }
}
