/// A request frame read once, before anything in it is typed: where each top-level field's key and
/// value are in the frame, how deep it nests, and the `op` and `auth` the credential check needs.
/// Nothing is built from the values: a stranger's megabyte costs this scan and is refused before it
/// is parsed (`DecodeLimits.maxUnauthenticatedBytes`); a caller's request is typed from the scan
/// (`RequestDecoder.decode(_:)`), each value read where the scan found it.
///
/// The scan follows the structure only (strings, brackets, commas); what is inside a value is
/// checked when the value is typed, and a frame refused for any reason is checked whole, as JSON, so
/// that malformed bytes are explained as before (`RequestDecoder.malformation`).
public struct ScannedRequest: Sendable {
    /// `op` and `auth`, when the credential can be checked before the body is parsed.
    public struct Envelope: Equatable, Sendable {
        public var op: String
        public var auth: String?
        public init(op: String, auth: String?) { self.op = op; self.auth = auth }
    }

    /// One top-level field: byte ranges of its key (inside the quotes) and its whole value.
    struct Field: Sendable {
        var key: Range<Int>
        /// The key holds an escape: compared by its decoded text, not its bytes.
        var keyEscaped: Bool
        var value: Range<Int>
    }

    /// The most top-level fields a request may have: every op takes far fewer, and a stranger's
    /// frame of a million tiny fields must not become a million ranges.
    static let maxFields = 64

    let frame: [UInt8]
    /// In frame order; nil when the frame is not a JSON object the scan could follow to its end
    /// (or is over the size limit and was not read at all).
    let fields: [Field]?
    /// More fields than `maxFields` (only the first ones are kept).
    let tooManyFields: Bool
    /// Deepest bracket nesting (the object itself is 1).
    let depth: Int
    /// `op` and `auth` when the scan is sure of them: the frame is an object whose `op` is a string
    /// and whose `auth` (if present) is a string or null, both without escapes, neither given twice,
    /// and no key escaped (an escaped key could spell either). Otherwise nil, and only the typed
    /// decoder (which reads escapes, repeats and the rest) decides.
    public let envelope: Envelope?

    /// The frame's size in bytes.
    public var size: Int { frame.count }

    init(frame: [UInt8], maxBytes: Int) {
        self.frame = frame
        guard frame.count <= maxBytes else {
            fields = nil; tooManyFields = false; depth = 0; envelope = nil
            return
        }
        let s = frame.withUnsafeBufferPointer { bytes in
            var scanner = Scanner(bytes: bytes)
            scanner.scan()
            return scanner
        }
        fields = s.ok ? s.fields : nil
        tooManyFields = s.tooMany
        depth = s.maxDepth
        envelope = s.ok && s.sure && !s.bom ? s.op.map { Envelope(op: $0, auth: s.auth) } : nil
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0
        var fields: [Field] = []
        var ok = false, tooMany = false, bom = false
        var maxDepth = 0
        /// False once `op` or `auth` is given twice, escaped, of another type, or a key is escaped.
        var sure = true
        var op: String?, auth: String?, sawAuth = false

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
            fields.reserveCapacity(8)
        }

        static let quote: UInt8 = 0x22, backslash: UInt8 = 0x5C, colon: UInt8 = 0x3A, comma: UInt8 = 0x2C
        static let openBrace: UInt8 = 0x7B, closeBrace: UInt8 = 0x7D, openBracket: UInt8 = 0x5B, closeBracket: UInt8 = 0x5D

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        /// A string at its opening quote: the range inside the quotes, and whether it held an escape.
        /// Nil if unterminated.
        mutating func string() -> (Range<Int>, escaped: Bool)? {
            guard i < bytes.count, bytes[i] == Self.quote else { return nil }
            i += 1
            let start = i
            var escaped = false
            while i < bytes.count {
                switch bytes[i] {
                case Self.backslash: escaped = true; i += 2
                case Self.quote:
                    defer { i += 1 }
                    return (start..<i, escaped)
                default: i += 1
                }
            }
            return nil
        }

        /// Skips one value: a string with its escapes, an object or array by depth (no recursion,
        /// so depth costs a counter), or a number or literal up to the next delimiter (its spelling
        /// is checked when it is typed).
        mutating func skipValue() -> Bool {
            guard i < bytes.count else { return false }
            switch bytes[i] {
            case Self.quote:
                return string() != nil
            case Self.openBrace, Self.openBracket:
                var depth = 1  // the request object's own level
                while i < bytes.count {
                    switch bytes[i] {
                    case Self.quote:
                        guard string() != nil else { return false }
                        continue
                    case Self.openBrace, Self.openBracket:
                        depth += 1
                        if depth > maxDepth { maxDepth = depth }
                    case Self.closeBrace, Self.closeBracket:
                        depth -= 1
                        if depth == 1 { i += 1; return true }
                    default: break
                    }
                    i += 1
                }
                return false
            default:
                let start = i
                while i < bytes.count {
                    let b = bytes[i]
                    if b == Self.comma || b == Self.closeBrace || b == Self.closeBracket || b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { break }
                    i += 1
                }
                return i > start
            }
        }

        /// True when `range` holds exactly `word`.
        func holds(_ range: Range<Int>, _ word: StaticString) -> Bool {
            guard range.count == word.utf8CodeUnitCount else { return false }
            for k in 0..<range.count where bytes[range.lowerBound + k] != word.utf8Start[k] { return false }
            return true
        }

        func text(_ range: Range<Int>) -> String? {
            String(validating: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        }

        /// Notes `op` or `auth` if this field is one, and whether the scan can still be sure of them.
        mutating func noteEnvelope(key: Range<Int>, keyEscaped: Bool, value: Range<Int>) {
            guard sure else { return }
            if keyEscaped { sure = false; return }
            let isOp = holds(key, "op")
            guard isOp || holds(key, "auth") else { return }
            if isOp ? op != nil : sawAuth { sure = false; return }  // given twice: the typed decoder decides
            if !isOp { sawAuth = true }
            if !isOp && holds(value, "null") { return }
            // A string without escapes: the bytes between its quotes.
            guard value.count >= 2, bytes[value.lowerBound] == Self.quote else { sure = false; return }
            let content = value.lowerBound + 1..<value.upperBound - 1
            guard !bytes[content].contains(Self.backslash), let text = text(content) else { sure = false; return }
            if isOp { op = text } else { auth = text }
        }

        mutating func scan() {
            // A byte order mark some Windows tools put before UTF-8 text: typed as before, but the
            // credential check before parsing does not look past it.
            if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = 3; bom = true }
            skipSpace()
            guard i < bytes.count, bytes[i] == Self.openBrace else { return }
            i += 1
            maxDepth = 1
            skipSpace()
            if i < bytes.count, bytes[i] == Self.closeBrace {
                i += 1
                skipSpace()
                ok = i == bytes.count
                return
            }
            while true {
                skipSpace()
                guard let (key, keyEscaped) = string() else { return }
                skipSpace()
                guard i < bytes.count, bytes[i] == Self.colon else { return }
                i += 1
                skipSpace()
                let start = i
                guard skipValue() else { return }
                let value = start..<i
                noteEnvelope(key: key, keyEscaped: keyEscaped, value: value)
                if fields.count < ScannedRequest.maxFields {
                    fields.append(Field(key: key, keyEscaped: keyEscaped, value: value))
                } else {
                    tooMany = true
                }
                skipSpace()
                guard i < bytes.count else { return }
                if bytes[i] == Self.comma { i += 1; continue }
                guard bytes[i] == Self.closeBrace else { return }
                i += 1
                skipSpace()
                ok = i == bytes.count
                return
            }
        }
    }
}
