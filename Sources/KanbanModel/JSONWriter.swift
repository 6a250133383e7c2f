/// Writes a `JSONValue` as compact, key-sorted JSON bytes (`JSONCodec.encode`); or, for the replies
/// the hot path sends every time, an object field by field in the caller's (sorted) key order
/// without building a `JSONValue` tree (KanbanProtocol's `WireFormat` shapes).
public struct JSONWriter {
    public private(set) var out: [UInt8] = []
    /// Per open object: whether a field was written yet (for the commas).
    private var started: [Bool] = []

    public init() { out.reserveCapacity(512) }

    public mutating func beginObject() { out.append(0x7B); started.append(false) }
    public mutating func endObject() { out.append(0x7D); started.removeLast() }

    /// A key of the open object; the caller writes keys in byte order, as `write(.object)` sorts them.
    public mutating func key(_ k: StaticString) {
        if started[started.count - 1] { out.append(0x2C) } else { started[started.count - 1] = true }
        out.append(0x22)
        out.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
        out.append(0x22)
        out.append(0x3A)
    }

    public mutating func int(_ i: Int64?) { if let i { out.append(contentsOf: String(i).utf8) } else { null() } }
    public mutating func string(_ s: String?) { if let s { writeString(s) } else { null() } }
    public mutating func bool(_ b: Bool) { write(.bool(b)) }
    public mutating func null() { out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C]) }
    public mutating func strings(_ items: [String]) {
        out.append(0x5B)
        for (n, item) in items.enumerated() {
            if n > 0 { out.append(0x2C) }
            writeString(item)
        }
        out.append(0x5D)
    }

    /// An array whose items `item` writes (objects, say); the commas are placed here.
    public mutating func array<T>(_ items: [T], _ item: (inout JSONWriter, T) -> Void) {
        out.append(0x5B)
        for (n, element) in items.enumerated() {
            if n > 0 { out.append(0x2C) }
            item(&self, element)
        }
        out.append(0x5D)
    }

    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b): out.append(contentsOf: b ? [0x74, 0x72, 0x75, 0x65] : [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d): writeDouble(d)
        case .string(let s): writeString(s)
        case .array(let items):
            out.append(0x5B)
            for (n, item) in items.enumerated() {
                if n > 0 { out.append(0x2C) }
                write(item)
            }
            out.append(0x5D)
        case .object(let fields):
            out.append(0x7B)
            // Sorting the pairs saves looking each value up again, and String's `<` on ASCII keys is
            // byte order and memcmp-fast (profiled: sorting by UTF8View and the lookups were 5% of the
            // coordinator's instructions per task). On other keys it orders by Unicode scalars, which
            // is UTF-8 byte order for the NFC text JSON nearly always holds, and what Foundation wrote.
            for (n, field) in fields.sorted(by: { $0.key < $1.key }).enumerated() {
                if n > 0 { out.append(0x2C) }
                writeString(field.key)
                out.append(0x3A)
                write(field.value)
            }
            out.append(0x7D)
        }
    }

    /// Swift's shortest round-trip spelling (always valid JSON for finite values: `1.5`, `1e+20`,
    /// `5e-324`), without the `.0` of integral values, as `JSONEncoder` wrote them. Non-finite: `null`.
    private mutating func writeDouble(_ d: Double) {
        guard d.isFinite else { out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C]); return }
        var text = d.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        out.append(contentsOf: text.utf8)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func writeString(_ s: String) {
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
                case 0x08: out.append(contentsOf: [0x5C, 0x62])
                case 0x09: out.append(contentsOf: [0x5C, 0x74])
                case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
                case 0x0C: out.append(contentsOf: [0x5C, 0x66])
                case 0x0D: out.append(contentsOf: [0x5C, 0x72])
                case 0..<0x20: out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, Self.hex[Int(byte >> 4)], Self.hex[Int(byte & 0xF)]])
                default: out.append(byte)
                }
            }
        }
        out.append(0x22)
    }
}
