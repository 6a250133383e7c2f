/// A fast writer for the coordinator's hot path, byte for byte what `JSONEncoder` with
/// `[.sortedKeys, .withoutEscapingSlashes]` writes — for the values where that is certain.
///
/// Foundation's encoder goes through `Encodable` containers and boxes every value; on a two-core
/// machine it was a fifth of the coordinator's CPU. This writes bytes directly. Where its output
/// could differ from Foundation's it declines (returns nil) and the caller falls back:
/// - doubles (Foundation's float formatting is its own),
/// - strings with control characters (Foundation's escape spelling),
/// - object keys other than `[a-z_-]` (Foundation sorts keys numerically and case-insensitively;
///   for these keys that equals byte order).
public enum CompactJSON {
    /// The value as compact JSON with sorted keys, or nil when only Foundation may write it.
    public static func encode(_ value: JSONValue) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        return write(value, into: &out) ? out : nil
    }

    private static func write(_ value: JSONValue, into out: inout [UInt8]) -> Bool {
        switch value {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b): out.append(contentsOf: b ? [0x74, 0x72, 0x75, 0x65] : [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double: return false
        case .string(let s): return writeString(s, into: &out)
        case .array(let items):
            out.append(0x5B)
            for (n, item) in items.enumerated() {
                if n > 0 { out.append(0x2C) }
                guard write(item, into: &out) else { return false }
            }
            out.append(0x5D)
        case .object(let fields):
            for key in fields.keys where !isPlainKey(key) { return false }
            out.append(0x7B)
            // Plain keys are ASCII, where String's `<` is byte order (and memcmp-fast); sorting the pairs
            // saves looking each value up again. (Profiled: sorting by UTF8View and the lookups were 5%
            // of the coordinator's instructions per task.)
            for (n, field) in fields.sorted(by: { $0.key < $1.key }).enumerated() {
                if n > 0 { out.append(0x2C) }
                guard writeString(field.key, into: &out) else { return false }
                out.append(0x3A)
                guard write(field.value, into: &out) else { return false }
            }
            out.append(0x7D)
        }
        return true
    }

    private static func isPlainKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F || $0 == 0x2D }
    }

    private static func writeString(_ s: String, into out: inout [UInt8]) -> Bool {
        out.append(0x22)
        // Most strings need no escape: copy them whole. (Profiled: byte by byte it was the coordinator's
        // single most expensive Swift function.)
        let copied: Bool? = s.utf8.withContiguousStorageIfAvailable { bytes in
            guard !bytes.contains(where: { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied != true {
            for byte in s.utf8 {
                switch byte {
                case 0x22: out.append(contentsOf: [0x5C, 0x22])
                case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                case 0..<0x20: return false
                default: out.append(byte)
                }
            }
        }
        out.append(0x22)
        return true
    }
}
