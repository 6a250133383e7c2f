/// Parses JSON bytes into a `JSONValue` (`JSONCodec.decode`; the rules are documented there).
/// Works on a buffer pointer: requests and event data are read on the coordinator's hot path.
struct JSONReader {
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        var reader = JSONReader(bytes: bytes)
        // A byte order mark some Windows tools put before UTF-8 text (JSONDecoder skipped it too).
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { reader.i = 3 }
        reader.skipSpace()
        guard let value = reader.value(depth: 0) else { return nil }
        reader.skipSpace()
        // Not `atEnd ? value : nil`: JSONValue is nil-literal expressible, so that `nil` would be `.null`.
        guard reader.atEnd else { return Optional<JSONValue>.none }
        return value
    }

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
        guard depth < JSONCodec.maxDepth, let c = peek else { return nil }
        switch c {
        case 0x7B: return object(depth: depth)
        case 0x5B: return array(depth: depth)
        case 0x22: return string().map { .string($0) }
        case 0x74: return literal("true", .bool(true))
        case 0x66: return literal("false", .bool(false))
        case 0x6E: return literal("null", .null)
        default: return number()
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
            guard let v = value(depth: depth + 1) else { return nil }
            // The first of a repeated key stands. One hash operation in the usual case; put back on a repeat.
            if let first = fields.updateValue(v, forKey: key) { fields[key] = first }
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

    /// A string at the opening quote. Without escapes its bytes are validated and taken whole.
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
        return plain ? String(validating: raw, as: UTF8.self) : Self.unescape(raw)
    }

    private static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String? {
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
            case 0x75:
                guard let unit = hex4(raw, k + 2) else { return nil }
                k += 6
                var scalar = UInt32(unit)
                if (0xD800..<0xDC00).contains(unit) {
                    // A high surrogate must be followed by `\u` and a low one; together they are one scalar.
                    guard k + 1 < raw.count, raw[k] == 0x5C, raw[k + 1] == 0x75, let low = hex4(raw, k + 2),
                          (0xDC00..<0xE000).contains(low) else { return nil }
                    k += 6
                    scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                }
                // A lone low surrogate is no scalar: refused here.
                guard let s = Unicode.Scalar(scalar) else { return nil }
                out.append(contentsOf: UTF8.encode(s)!)
                continue
            default: return nil
            }
            k += 2
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hex4(_ raw: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt16? {
        guard at + 4 <= raw.count else { return nil }
        var v: UInt16 = 0
        for b in raw[at..<at + 4] {
            let d: UInt8
            switch b {
            case 0x30...0x39: d = b - 0x30
            case 0x41...0x46: d = b - 0x41 + 10
            case 0x61...0x66: d = b - 0x61 + 10
            default: return nil
            }
            v = v << 4 | UInt16(d)
        }
        return v
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`. Integers that fit are read without Double.
    mutating func number() -> JSONValue? {
        let start = i
        var negative = false
        if peek == 0x2D { negative = true; i += 1 }
        let intStart = i
        var magnitude: UInt64 = 0, overflow = false
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(bytes[i] - 0x30))
            overflow = overflow || o1 || o2
            magnitude = s
            i += 1
        }
        let digits = i - intStart
        guard digits > 0, !(digits > 1 && bytes[intStart] == 0x30) else { return nil }
        var fractional = false
        if peek == 0x2E {
            i += 1
            guard skipDigits() else { return nil }
            fractional = true
        }
        if peek == 0x65 || peek == 0x45 {
            i += 1
            if peek == 0x2B || peek == 0x2D { i += 1 }
            guard skipDigits() else { return nil }
            fractional = true
        }
        if !fractional && !overflow {
            if negative {
                if magnitude == UInt64(Int64.max) + 1 { return .int(.min) }
                if magnitude <= UInt64(Int64.max) { return .int(-Int64(magnitude)) }
            } else if magnitude <= UInt64(Int64.max) {
                return .int(Int64(magnitude))
            }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        guard let d = Double(text), d.isFinite else { return nil }
        // 2^63 is exactly representable, so `d < 2^63` is the precise bound for Int64(d).
        if fractional, d == d.rounded(.towardZero), d >= -0x1p63, d < 0x1p63 { return .int(Int64(d)) }
        return .double(d)
    }

    /// One or more digits.
    private mutating func skipDigits() -> Bool {
        let start = i
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
        return i > start
    }
}
