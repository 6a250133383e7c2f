import Foundation
import KanbanModel
import XCTest

/// `JSONCodec.decode` reads what `JSONDecoder` read, the same way (Foundation is the oracle here),
/// except where the codec's rules deliberately differ: those are pinned below.
final class JSONReaderTests: XCTestCase {
    private func foundation(_ text: String) -> JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }
    private func decode(_ text: String) -> JSONValue? { JSONCodec.decode(Array(text.utf8)) }

    func test_agreesWithFoundation_onWhatFoundationWrites() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var rng = SeededRandom(state: 99)
        for _ in 0..<2000 {
            let value = rng.value(depth: 0)
            let bytes = Array(try encoder.encode(value))
            let text = String(decoding: bytes, as: UTF8.self)
            XCTAssertEqual(JSONCodec.decode(bytes), foundation(text), text)
            XCTAssertEqual(JSONCodec.decode(bytes), value, text)
        }
    }

    /// Including everything the old fast reader left to Foundation: `\u` escapes, fractions and
    /// exponents, big numbers, repeated keys, scalars at the top, a byte order mark.
    func test_agreesWithFoundation_onHandWrittenInput() {
        let accepted = [
            #"{ "a" : 1 , "b":[ 0 ,-0, 1 ] }"#, #"{"t":true,"f":false,"n":null}"#, "[]", "{}", #"{"e":"\/\b\f\r\n\t\"\\"}"#,
            #"{"a":"\u0041\u00e9\u0000\u001F"}"#, #"{"a":"\ud83d\ude80"}"#, #"{"\u0061uth":"x","op":"task.list"}"#,
            #"{"a":2.0}"#, #"{"a":1e3}"#, #"{"a":1E+2}"#, #"{"a":1.5e3}"#, #"{"a":100e-2}"#, #"{"a":-0.0}"#, #"{"a":1e-400}"#,
            #"{"a":0.5}"#, #"{"a":-1.25e-7}"#, #"{"a":1e308}"#, #"{"a":-9223372036854775808}"#, #"{"a":9223372036854775807}"#,
            #"{"a":9223372036854775808}"#, #"{"a":99999999999999999999}"#,
            #"{"op":"ping","op":"lane.register"}"#, #"{"\u0061":1,"a":2}"#,
            #""top""#, "1", "-2.5", "true", "null", " [1] \n", "\u{FEFF}{\"op\":\"ping\"}", "{\"a\":\"\u{7F}\u{2028}\"}",
        ]
        for text in accepted {
            XCTAssertNotNil(decode(text), text)
            XCTAssertEqual(decode(text), foundation(text), text)
        }
        XCTAssertEqual(decode(#"{"op":"ping","op":"lane.register"}"#), ["op": "ping"], "the first of a repeated key stands")
        XCTAssertEqual(decode(#"[2.0, 1e2, 0.5, 9223372036854775808]"#), [2, 100, .double(0.5), .double(9223372036854775808)])
    }

    func test_refusesWhatFoundationRefused() {
        let refused = [
            #"{"a":"\ud800"}"#, #"{"a":"\udc00x"}"#, #"{"a":"\ud800\u0041"}"#, #"{"a":"\uzzzz"}"#, #"{"a":"\u12"}"#, #"{"a":"x\qy"}"#,
            #"{"a":1e400}"#, #"{"a":-1e400}"#, #"{"a":NaN}"#, #"{"a":Infinity}"#, #"{"a":01}"#, #"{"a":-}"#, #"{"a":1.}"#, #"{"a":.5}"#,
            #"{"a":1e}"#, #"{"a":+1}"#, "{\"a\":\"raw\u{01}\"}", "{\"a\":\"tab\there\"}", #"{"a":1} x"#, #"{"a":1"#, #"{"a":tru}"#,
            #"{'a':1}"#, "/*c*/{}", "{\"a\":1}\u{0}", "{\"a\":1}\u{FEFF}", "", "  ", #"{"a" 1}"#, #"{a:1}"#, #"["a"}"#, #"{"a":"x"#,
        ]
        for text in refused {
            XCTAssertNil(decode(text), text)
            XCTAssertNil(foundation(text), "Foundation accepts \(text): the codec's rules need a look")
        }
        XCTAssertNil(JSONCodec.decode([0x22, 0xFF, 0x22] as [UInt8]), "invalid UTF-8 in a string")
        XCTAssertNil(JSONCodec.decode([0x22, 0x5C, 0x22] as [UInt8]), "an escape that runs off the end")
    }

    func test_refusesTrailingCommas_whichFoundationAllowed() {
        // No JSON writer makes them; a parser that takes them disagrees with every other reader of the wire.
        for text in [#"{"a":[1,]}"#, #"{"a":1,}"#] {
            XCTAssertNotNil(foundation(text), "Foundation changed: \(text)")
            XCTAssertNil(decode(text), text)
        }
    }

    func test_nesting_isBoundedByMaxDepth() {
        let ok = String(repeating: "[", count: JSONCodec.maxDepth) + String(repeating: "]", count: JSONCodec.maxDepth)
        let deep = "[" + ok + "]"
        XCTAssertEqual(decode(ok)?.depth, JSONCodec.maxDepth)
        XCTAssertNil(decode(deep))
        XCTAssertNil(decode(String(repeating: "[", count: 100_000)), "hostile depth is refused, not a stack overflow")
    }

    func test_takesAnyCollectionOfBytes() {
        let text = #"{"op":"ping","n":[1,2]}"#
        let expected: JSONValue = ["op": "ping", "n": [1, 2]]
        XCTAssertEqual(JSONCodec.decode(Data(text.utf8)), expected)
        XCTAssertEqual(JSONCodec.decode(Array(("xx" + text).utf8).dropFirst(2)), expected)
        XCTAssertEqual(JSONCodec.decode(text.utf8.lazy.map { $0 }), expected, "a collection without contiguous storage")
    }
}
