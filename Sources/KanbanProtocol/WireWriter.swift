import KanbanModel

/// Where a `WireFormat` shape is written. Each shape is written once, generically, for two writers:
/// `JSONWriter` puts it straight into reply bytes (the replies every task gets), `JSONTreeWriter`
/// builds a `JSONValue` (results that are added to before they are sent, or nested in lists).
///
/// Shapes write keys in byte order: `JSONWriter` writes them as they come, and a `JSONValue` is
/// written with sorted keys, so both give the same bytes (`DirectReplyTests` holds them side by side).
public protocol WireWriter {
    mutating func beginObject()
    mutating func endObject()
    mutating func key(_ k: StaticString)
    mutating func int(_ i: Int64?)
    mutating func string(_ s: String?)
    mutating func bool(_ b: Bool)
    mutating func null()
    mutating func strings(_ items: [String])
    mutating func array<T>(_ items: [T], _ item: (inout Self, T) -> Void)
    mutating func write(_ value: JSONValue)
    /// A token (`lt_`/`ct_`): written as a string. The one way a shape writes one, so where replies
    /// hold tokens is read off the shapes (`WireFormat.tokenPaths`) for the stored-reply redaction.
    mutating func token(_ t: String)
}

extension JSONWriter: WireWriter {
    public mutating func token(_ t: String) { string(t) }
}

/// Builds the `JSONValue` a shape describes, and notes where it wrote tokens.
public struct JSONTreeWriter: WireWriter {
    /// The objects being written, innermost last.
    private var objects: [[String: JSONValue]] = []
    /// The key each value waits to be put under, outermost first: also the path to the current value.
    private var keys: [String] = []
    public private(set) var value: JSONValue = .null
    /// The key path of each token written (through objects; an array adds no step).
    public private(set) var tokenPaths: [[String]] = []

    public init() {}

    private mutating func put(_ v: JSONValue) {
        guard !objects.isEmpty else { value = v; return }
        objects[objects.count - 1][keys.removeLast()] = v
    }

    public mutating func beginObject() { objects.append([:]) }
    public mutating func endObject() { put(.object(objects.removeLast())) }
    public mutating func key(_ k: StaticString) { keys.append(k.description) }
    public mutating func int(_ i: Int64?) { put(i.map(JSONValue.int) ?? .null) }
    public mutating func string(_ s: String?) { put(s.map(JSONValue.string) ?? .null) }
    public mutating func bool(_ b: Bool) { put(.bool(b)) }
    public mutating func null() { put(.null) }
    public mutating func strings(_ items: [String]) { put(.array(items.map(JSONValue.string))) }
    public mutating func write(_ value: JSONValue) { put(value) }

    public mutating func token(_ t: String) {
        tokenPaths.append(keys)
        put(.string(t))
    }

    public mutating func array<T>(_ items: [T], _ item: (inout JSONTreeWriter, T) -> Void) {
        var values: [JSONValue] = []
        values.reserveCapacity(items.count)
        for element in items {
            var sub = JSONTreeWriter()
            item(&sub, element)
            tokenPaths += sub.tokenPaths.map { keys + $0 }
            values.append(sub.value)
        }
        put(.array(values))
    }

    /// The value `shape` writes.
    public static func value(_ shape: (inout JSONTreeWriter) -> Void) -> JSONValue {
        var w = JSONTreeWriter()
        shape(&w)
        return w.value
    }
}
