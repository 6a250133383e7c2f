/// Byte-pattern search for the hot paths (stored replies, HTTP headers). A plain scan: Foundation's
/// generic `firstRange(of:)` cost more than the rest of a reply's handling.
enum Bytes {
    /// The index just past the first occurrence of `pattern` in `haystack`, or nil.
    static func end(of pattern: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard let first = pattern.first, haystack.count >= pattern.count else { return nil }
        var i = haystack.startIndex
        let last = haystack.endIndex - pattern.count
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < pattern.count && haystack[i + j] == pattern[j] { j += 1 }
                if j == pattern.count { return i + pattern.count }
            }
            i += 1
        }
        return nil
    }
}
