/// A request's `op` and `auth`, read from its frame in one pass over the bytes without building
/// anything: enough to refuse a request that carries no valid credential before its body is parsed.
/// A megabyte of JSON from a stranger then costs a scan, not a parse into a tree of values.
///
/// Conservative by design: it answers only for a plain JSON object whose `op` is a string and whose
/// `auth` (if present) is a string or null, both without escapes, neither given twice, and no key
/// escaped. For anything else it returns nil and the full decoder decides (and explains) as before.
public enum EnvelopeScan {
    public struct Envelope: Equatable, Sendable {
        public var op: String
        public var auth: String?
        public init(op: String, auth: String?) { self.op = op; self.auth = auth }
    }

    public static func scan(_ frame: [UInt8]) -> Envelope? {
        var s = Scanner(bytes: frame)
        return s.envelope()
    }

    private struct Scanner {
        let bytes: [UInt8]
        var i = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        static let quote: UInt8 = 0x22, backslash: UInt8 = 0x5C, colon: UInt8 = 0x3A, comma: UInt8 = 0x2C
        static let openBrace: UInt8 = 0x7B, closeBrace: UInt8 = 0x7D, openBracket: UInt8 = 0x5B, closeBracket: UInt8 = 0x5D

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        mutating func expect(_ b: UInt8) -> Bool {
            skipSpace()
            guard i < bytes.count, bytes[i] == b else { return false }
            i += 1
            return true
        }

        /// A string starting at the opening quote: its bytes, and whether it held an escape. Nil if unterminated.
        mutating func string() -> (ArraySlice<UInt8>, escaped: Bool)? {
            guard i < bytes.count, bytes[i] == Self.quote else { return nil }
            i += 1
            let start = i
            var escaped = false
            while i < bytes.count {
                switch bytes[i] {
                case Self.backslash: escaped = true; i += 2
                case Self.quote:
                    defer { i += 1 }
                    return (bytes[start..<i], escaped)
                default: i += 1
                }
            }
            return nil
        }

        /// Skips any value: strings with their escapes, nested objects and arrays by depth (no recursion).
        mutating func skipValue() -> Bool {
            skipSpace()
            guard i < bytes.count else { return false }
            switch bytes[i] {
            case Self.quote:
                return string() != nil
            case Self.openBrace, Self.openBracket:
                var depth = 0
                while i < bytes.count {
                    switch bytes[i] {
                    case Self.quote:
                        guard string() != nil else { return false }
                        continue
                    case Self.openBrace, Self.openBracket: depth += 1
                    case Self.closeBrace, Self.closeBracket:
                        depth -= 1
                        if depth == 0 { i += 1; return true }
                    default: break
                    }
                    i += 1
                }
                return false
            default:
                // A number or a literal: up to the next delimiter. (Its validity is the decoder's business.)
                let start = i
                while i < bytes.count, ![Self.comma, Self.closeBrace, Self.closeBracket, 0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
                return i > start
            }
        }

        mutating func envelope() -> Envelope? {
            guard expect(Self.openBrace) else { return nil }
            var op: String?, auth: String?, sawAuth = false
            skipSpace()
            if i < bytes.count, bytes[i] == Self.closeBrace { return nil }  // `{}`: no op
            while true {
                skipSpace()
                guard let (key, keyEscaped) = string(), !keyEscaped, expect(Self.colon) else { return nil }
                skipSpace()
                if key.elementsEqual("op".utf8) || key.elementsEqual("auth".utf8) {
                    let isOp = key.count == 2
                    if isOp ? op != nil : sawAuth { return nil }  // given twice: let the decoder decide
                    if !isOp && bytes[i...].starts(with: "null".utf8) {
                        i += 4
                        sawAuth = true
                    } else {
                        guard let (value, escaped) = string(), !escaped, let text = String(validating: value, as: UTF8.self) else { return nil }
                        if isOp { op = text } else { auth = text; sawAuth = true }
                    }
                } else if !skipValue() {
                    return nil
                }
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == Self.comma { i += 1; continue }
                guard bytes[i] == Self.closeBrace else { return nil }
                i += 1
                skipSpace()
                guard i == bytes.count, let op else { return nil }
                return Envelope(op: op, auth: auth)
            }
        }
    }
}
