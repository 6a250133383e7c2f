import KanbanModel
import KanbanProtocol

/// Replies are kept for retries without the tokens in them. Tokens minted under a `request_id` are
/// derived (`Secrets.derivedToken`) from the request and a random nonce, so the stored copy holds a
/// placeholder naming the token's prefix and nonce (`derived:ct_<nonce>`), and a replay derives the
/// same token again. A copy of the board file reveals no token: deriving needs the admin token.
enum StoredReply {
    static let placeholder = "derived:"
    /// `"token":"`: the last key of every path where the reply shapes put a token
    /// (`WireFormat.tokenPaths`). Nil if they ever end in different keys: then every reply is parsed.
    private static let tokenKey: [UInt8]? = {
        let keys = Set(WireFormat.tokenPaths.compactMap(\.last))
        return keys.count == 1 ? Array("\"\(keys.first!)\":\"".utf8) : nil
    }()

    /// The reply as stored: its tokens, wherever the reply shapes put them (`WireFormat.tokenPaths`:
    /// `result.token`, `result.claim.token`, `result.next.claim.token`), replaced by placeholders.
    static func redacted(_ reply: [UInt8], nonces: [String: String] = [:]) -> [UInt8] {
        // Most replies hold no token; do not parse those. (Quotes inside JSON strings are escaped,
        // so this byte pattern can only be a key.)
        if let tokenKey {
            guard Bytes.end(of: tokenKey, in: reply[...]) != nil else { return reply }
            if let fast = redactedInPlace(reply, key: tokenKey, nonces: nonces) { return fast }
        }
        guard case .success(var result) = Reply.parse(reply) else { return reply }
        result = mapTokens(result) { token in .string(placeholder + String(token.prefix(3)) + (nonces[token] ?? "")) }
        return Reply.ok(result)
    }

    /// The same redaction on the bytes, without a parse: each `"token":"<prefix>…"` value becomes
    /// `"derived:<prefix>"`. Tokens are `lt_`/`ct_` plus base64url, so they hold no quote or escape;
    /// replies are compact with sorted keys, so this equals re-encoding the redacted value. Nil (parse
    /// instead) for anything that is not such a token.
    static func redactedInPlace(_ reply: [UInt8], nonces: [String: String] = [:]) -> [UInt8]? {
        tokenKey.flatMap { redactedInPlace(reply, key: $0, nonces: nonces) }
    }

    private static func redactedInPlace(_ reply: [UInt8], key tokenKey: [UInt8], nonces: [String: String]) -> [UInt8]? {
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

    /// `result` with `f` applied to the string at each of `WireFormat.tokenPaths`.
    private static func mapTokens(_ result: JSONValue, _ f: (String) -> JSONValue) -> JSONValue {
        WireFormat.tokenPaths.reduce(result) { value, path in mapToken(value, at: path[...], f) }
    }

    private static func mapToken(_ value: JSONValue, at path: ArraySlice<String>, _ f: (String) -> JSONValue) -> JSONValue {
        guard case .object(var object) = value, let key = path.first, let inner = object[key] else { return value }
        if path.count == 1 {
            guard let token = inner.stringValue else { return value }
            object[key] = f(token)
        } else {
            object[key] = mapToken(inner, at: path.dropFirst(), f)
        }
        return .object(object)
    }
}
