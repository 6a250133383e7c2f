/// A fast reader for the JSON the coordinator reads on its hot path (requests, event data), for
/// the inputs where its result is certainly what `JSONDecoder` would make of them.
///
/// It never refuses input: on anything unusual (a `\u` escape, a fraction or exponent, a number
/// outside Int64, a repeated key, a raw control character, trailing bytes, a scalar at the top)
/// it returns nil and the caller asks Foundation, which then accepts or refuses as before.
public enum CompactJSONParser {
    /// The object or array in `bytes`, or nil when Foundation must decide.
    public static func parse(_ bytes: [UInt8]) -> JSONValue? {
        bytes.withUnsafeBufferPointer { buffer in
            var reader = Reader(bytes: buffer)
            reader.skipSpace()
            guard reader.peek == 0x7B || reader.peek == 0x5B, let value = reader.value(depth: 0) else { return nil }
            reader.skipSpace()
            // Not `atEnd ? value : nil`: JSONValue is nil-literal expressible, so that `nil` would be `.null`.
            guard reader.atEnd else { return Optional<JSONValue>.none }
            return value
        }
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0

        var atEnd: Bool { i >= bytes.count }
        var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        mutating func literal(_ word: StaticString, _ value: JSONValue) -> JSONValue? {
            let n = word.utf8CodeUnitCount
            guard i + n <= bytes.count else { return nil }
            for k in 0..<n where bytes[i + k] != word.utf8Start[k] { return nil }
            i += n
            return value
        }

        mutating func value(depth: Int) -> JSONValue? {
            guard depth < 512, let c = peek else { return nil }
            switch c {
            case 0x7B: return object(depth: depth)
            case 0x5B: return array(depth: depth)
            case 0x22: return string().map { .string($0) }
            case 0x74: return literal("true", .bool(true))
            case 0x66: return literal("false", .bool(false))
            case 0x6E: return literal("null", .null)
            default: return integer()
            }
        }

        mutating func object(depth: Int) -> JSONValue? {
            i += 1
            var fields: [String: JSONValue] = [:]
            skipSpace()
            if peek == 0x7D { i += 1; return .object(fields) }
            while true {
                skipSpace()
                guard peek == 0x22, let key = string() else { return nil }
                skipSpace()
                guard peek == 0x3A else { return nil }
                i += 1
                skipSpace()
                guard let v = value(depth: depth + 1), fields.updateValue(v, forKey: key) == nil else { return nil }
                skipSpace()
                guard let c = peek else { return nil }
                i += 1
                if c == 0x7D { return .object(fields) }
                guard c == 0x2C else { return nil }
            }
        }

        mutating func array(depth: Int) -> JSONValue? {
            i += 1
            var items: [JSONValue] = []
            skipSpace()
            if peek == 0x5D { i += 1; return .array(items) }
            while true {
                skipSpace()
                guard let v = value(depth: depth + 1) else { return nil }
                items.append(v)
                skipSpace()
                guard let c = peek else { return nil }
                i += 1
                if c == 0x5D { return .array(items) }
                guard c == 0x2C else { return nil }
            }
        }

        /// A string with at most the one-character escapes; `\u` is left to Foundation.
        mutating func string() -> String? {
            i += 1
            let start = i
            var plain = true
            while i < bytes.count {
                let c = bytes[i]
                if c == 0x22 { break }
                if c < 0x20 { return nil }
                if c == 0x5C { plain = false; i += 2; continue }
                i += 1
            }
            guard i < bytes.count else { return nil }
            defer { i += 1 }
            let raw = UnsafeBufferPointer(rebasing: bytes[start..<i])
            if plain { return String(validating: raw, as: UTF8.self) }
            var out: [UInt8] = []
            out.reserveCapacity(raw.count)
            var k = 0
            while k < raw.count {
                guard raw[k] == 0x5C else { out.append(raw[k]); k += 1; continue }
                guard k + 1 < raw.count else { return nil }
                switch raw[k + 1] {
                case 0x22: out.append(0x22)
                case 0x5C: out.append(0x5C)
                case 0x2F: out.append(0x2F)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                default: return nil
                }
                k += 2
            }
            return String(validating: out, as: UTF8.self)
        }

        /// `-?(0|[1-9][0-9]*)` that fits in Int64 and is not followed by a fraction or exponent.
        mutating func integer() -> JSONValue? {
            var negative = false
            if peek == 0x2D { negative = true; i += 1 }
            let start = i
            var magnitude: UInt64 = 0
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(bytes[i] - 0x30))
                guard !o1, !o2 else { return nil }
                magnitude = s
                i += 1
            }
            let digits = i - start
            guard digits > 0, !(digits > 1 && bytes[start] == 0x30) else { return nil }
            if let c = peek, c == 0x2E || c == 0x65 || c == 0x45 { return nil }
            if negative {
                guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
                return .int(magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude))
            }
            guard magnitude <= UInt64(Int64.max) else { return nil }
            return .int(Int64(magnitude))
        }
    }
}
