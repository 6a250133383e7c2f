// The codec's former names, kept only because KanbanStore's `JSONText` still calls them; remove them
// once it calls `JSONCodec`. Both are now total, so the store's Foundation fallbacks never run.

@available(*, deprecated, renamed: "JSONCodec", message: "use JSONCodec.encode")
public enum CompactJSON {
    /// Never nil: `JSONCodec.encode` writes every value.
    public static func encode(_ value: JSONValue) -> [UInt8]? { JSONCodec.encode(value) }
}

@available(*, deprecated, renamed: "JSONCodec", message: "use JSONCodec.decode")
public enum CompactJSONParser {
    /// Nil only for bytes that are not JSON (or not an object or array, as before).
    public static func parse(_ bytes: [UInt8]) -> JSONValue? {
        guard let value = JSONCodec.decode(bytes) else { return nil }
        switch value {
        case .object, .array: return value
        default: return nil
        }
    }
}
