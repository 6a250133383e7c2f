import Foundation
import KanbanModel
import KanbanProtocol
import XCTest

/// The fast reader must agree with Foundation on everything it accepts, and leave the rest to it.
final class CompactJSONParserTests: XCTestCase {
    private func foundation(_ bytes: [UInt8]) -> JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) }

    func test_parser_agreesWithFoundation_onItsOwnOutput() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let samples: [JSONValue] = [
            ["op": "claim", "auth": "lt_x", "lane": "factory", "wait_ms": 0, "n": 1, "neg": -1, "big": .int(.max), "small": .int(.min)],
            ["s": "quote \" backslash \\ slash / tab \t nl \n é 🚀 \u{2028}", "a": [true, false, .null, [], [:]]],
            [["deep": [["er": [1, 2, 3]]]], "x"],
        ]
        for value in samples {
            let bytes = Array(try encoder.encode(value))
            let fast = try XCTUnwrap(CompactJSONParser.parse(bytes), String(decoding: bytes, as: UTF8.self))
            XCTAssertEqual(fast, foundation(bytes))
            XCTAssertEqual(fast, value)
        }
    }

    func test_parser_agreesWithFoundation_onHandWrittenInput() {
        for text in [#"{ "a" : 1 , "b":[ 0 ,-0, 1 ] }"#, #"{"t":true,"f":false,"n":null}"#, "[]", "{}", #"{"e":"\/\b\f\r"}"#] {
            let bytes = Array(text.utf8)
            XCTAssertEqual(CompactJSONParser.parse(bytes), foundation(bytes), text)
            XCTAssertNotNil(CompactJSONParser.parse(bytes), text)
        }
    }

    func test_parser_leavesUnusualInputToFoundation() {
        for text in [#"{"a":2.0}"#, #"{"a":1e3}"#, #"{"a":"\u0041"}"#, #"{"a":1,"a":2}"#, #"{"a":01}"#, #"{"a":99999999999999999999}"#,
                     "\"top\"", "1", #"{"a":1} x"#, #"{"a":1"#, "{\"a\":\"raw\u{01}\"}", #"{"a":tru}"#, #"{"a":[1,]}"#, ""] {
            XCTAssertNil(CompactJSONParser.parse(Array(text.utf8)), text)
        }
    }
}
