/// The one JSON codec of the bridge: requests, replies, events, metadata and the board's JSON columns
/// (KanbanStore's `JSONText`) all go through it.
///
/// Hand-written rather than Foundation's `JSONEncoder`/`JSONDecoder`: those go through `Codable`
/// containers and box every value, and on a two-core machine they were a fifth of the coordinator's
/// CPU. Both directions are total over what they are given, so no caller needs a fallback:
///
/// Writing (compact, keys sorted, so equal values give equal bytes; a stored reply replayed to a
/// retry is byte for byte the first one):
/// - Output is what `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]` writes, byte for
///   byte, for every value it can write (the tests hold the two side by side): doubles as Swift's
///   shortest round-trip spelling without a trailing `.0`, control characters as `\n`-style or
///   `\u001f`-style escapes, keys in Unicode scalar order.
/// - A non-finite double (JSON has no spelling for it) is written as `null`, where `JSONEncoder`
///   threw and every caller had to invent an answer. Nothing decoded from the wire is non-finite; only
///   arithmetic can make one (a rate over an empty window), and `null` is what a reader should see.
///
/// Reading (RFC 8259, plus what the bridge has always accepted because `JSONDecoder` did):
/// - Any value at the top (callers that need an object check for one).
/// - `\u` escapes with surrogate pairs; a lone surrogate is refused.
/// - A number with no fraction or exponent that fits in Int64 is `.int`. One with a fraction or
///   exponent is `.int` when its value is integral and fits (`1.0`, `1e2`; clients in other
///   languages write integers as floats), else `.double`; an integer literal beyond Int64 is
///   `.double`; a number beyond Double's range is refused.
/// - A repeated key keeps its first value (as `JSONDecoder` did: `{"op":"ping","op":"x"}` is a ping).
/// - A UTF-8 byte order mark before the value is skipped.
/// - Refused: raw control characters in strings, invalid UTF-8, trailing bytes, trailing commas
///   (`JSONDecoder` allowed those; no JSON writer makes them), NaN/Infinity, nesting past
///   `maxDepth`. Refusing returns nil; callers say "not valid JSON".
public enum JSONCodec {
    /// Deepest nesting `decode` follows (its recursion is bounded by this). The request decoder
    /// refuses far less (32) with a cheaper scan first; this bounds everything else.
    public static let maxDepth = 512

    /// Compact JSON with sorted keys.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter()
        writer.write(value)
        return writer.out
    }

    /// `encode` as a String (for text columns and printing).
    public static func encodeString(_ value: JSONValue) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }

    /// The value in `bytes`, or nil when they are not one whole JSON value (see the rules above).
    public static func decode(_ bytes: [UInt8]) -> JSONValue? {
        // Frames are arrays: this overload skips the generic one's dispatch on the request hot path.
        bytes.withUnsafeBufferPointer { JSONReader.parse($0) }
    }

    /// `decode` for part of a frame (a request's field, read where the scan found it), without the
    /// generic overload's dispatch.
    public static func decode(_ bytes: ArraySlice<UInt8>) -> JSONValue? {
        bytes.withUnsafeBufferPointer { JSONReader.parse($0) }
    }

    /// `decode` for any bytes (`Data`, other slices, views).
    public static func decode(_ bytes: some Collection<UInt8>) -> JSONValue? {
        if let parsed = bytes.withContiguousStorageIfAvailable({ JSONReader.parse($0) }) { return parsed }
        return Array(bytes).withUnsafeBufferPointer { JSONReader.parse($0) }
    }
}
