/// Picks the task id and claim token out of a reply without a JSON parser, so the benchmark's
/// clients spend as little of the shared CPUs as beanstalkd's text-protocol clients do.
///
/// Safe on the coordinator's replies: keys are sorted and strings escape their quotes, so the byte
/// pattern `"id":"` can only be a key. In a `claim` reply, and in a `complete` reply with
/// `claim_next` (whose `next` sorts before `task`), the first `"id":"` and `"token":"` are those of
/// the claim just granted.
public enum ReplyScan {
    /// True for `{"ok":true,…}` (sorted keys put `ok` first when there is no `error`).
    public static func isOK(_ reply: [UInt8]) -> Bool { reply.starts(with: okPrefix) }

    /// The granted claim (task id, token), or nil when the reply grants none.
    public static func grant(_ reply: [UInt8]) -> (taskID: String, token: String)? {
        guard isOK(reply), !contains(reply, noClaim),
              let id = stringValue(reply, after: idKey), let token = stringValue(reply, after: tokenKey) else { return nil }
        return (id, token)
    }

    static let okPrefix = Array(#"{"ok":true"#.utf8)
    static let noClaim = Array(#""claim":null"#.utf8)
    static let idKey = Array(#""id":""#.utf8)
    static let tokenKey = Array(#""token":""#.utf8)

    static func index(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count, let first = needle.first else { return nil }
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool { index(haystack, needle) != nil }

    /// The string after `key` (which ends with the opening quote), up to the closing quote.
    static func stringValue(_ bytes: [UInt8], after key: [UInt8]) -> String? {
        guard let at = index(bytes, key) else { return nil }
        let start = at + key.count
        guard let end = bytes[start...].firstIndex(of: 0x22) else { return nil }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
