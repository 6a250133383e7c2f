import KanbanModel
import KanbanProtocol
import XCTest

/// The one scan of a request frame: its envelope answers only when it is sure (and then agrees with
/// the typed decoder), and typing from the scan decides as the decoder always did.
final class ScannedRequestTests: XCTestCase {
    let decoder = RequestDecoder()
    func scan(_ text: String) -> ScannedRequest.Envelope? { decoder.scan(Array(text.utf8)).envelope }

    func test_readsOpAndAuth_skippingAnyOtherValue() {
        XCTAssertEqual(scan(#"{"op":"task.get","auth":"lt_abc","task_id":"t_1"}"#), .init(op: "task.get", auth: "lt_abc"))
        XCTAssertEqual(scan(#" { "x" : [1, {"auth": "no"}, "a\"b]"], "auth" : "tok" , "op":"claim", "n": -1.5e3, "b": true } "#),
                       .init(op: "claim", auth: "tok"), "nested auth keys and tricky strings are skipped")
        XCTAssertEqual(scan(#"{"op":"ping"}"#), .init(op: "ping", auth: nil))
        XCTAssertEqual(scan(#"{"auth":null,"op":"stats"}"#), .init(op: "stats", auth: nil))
        let deep = #"{"op":"ping","x":"# + String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000) + "}"
        XCTAssertEqual(scan(deep), .init(op: "ping", auth: nil), "depth costs a counter, not a stack")
    }

    func test_leavesEverythingUnsureToTheDecoder() {
        for text in [#"{"op":42}"#, "[]", "null", #"{"op":"#, "{{{{", "{}", #"{"auth":"x"}"#,
                     #"{"op":"a","op":"b"}"#, #"{"op":"a","auth":"x","auth":"y"}"#, #"{"\u0061uth":"x","op":"a"}"#,
                     #"{"op":"a","auth":"x\u0041"}"#, #"{"op":"a"} trailing"#, #"{"op":"a","x":[1,2}"#, #"{"op":"a","auth":5}"#,
                     "\u{FEFF}" + #"{"op":"a"}"#] {
            XCTAssertNil(scan(text), text)
        }
    }

    func test_agreesWithTheDecoderWhereverItAnswers() throws {
        for text in [#"{"op":"task.get","auth":"lt_abc","task_id":"t_1"}"#, #"{"op":"ping"}"#,
                     #"{"op":"task.list","auth":null,"limit":5}"#, #"{"limit":5,"op":"task.list","auth":"at_x"}"#] {
            let head = try XCTUnwrap(scan(text), text)
            let decoded = try decoder.decode(Array(text.utf8))
            XCTAssertEqual(head.op, decoded.op, text)
            XCTAssertEqual(head.auth, decoded.auth, text)
        }
    }

    func test_aFrameOverTheLimit_isNotRead() {
        let small = RequestDecoder(limits: DecodeLimits(maxRequestBytes: 16))
        let frame = Array(#"{"op":"ping","auth":"at_x"}"#.utf8)
        XCTAssertNil(small.scan(frame).envelope, "not scanned")
        XCTAssertThrowsError(try small.decode(frame)) { XCTAssertEqual(($0 as? WireError)?.code, .tooLarge) }
    }

    func test_typedFromTheScan_asTheDecoderAlwaysRead() throws {
        // Escaped keys, repeated keys (the first stands), null as absent, integers written as floats.
        let decoded = try decoder.decode(Array(#"{"op":"task.list","\u006cimit":5.0,"limit":7,"status":null,"assignee":" Factory "}"#.utf8))
        XCTAssertEqual(decoded.request, .taskList(status: nil, assignee: "factory", limit: 5))
        // A repeat must still be valid JSON, though its value is not used.
        XCTAssertThrowsError(try decoder.decode(Array(#"{"op":"ping","op":tru}"#.utf8))) {
            XCTAssertEqual(($0 as? WireError)?.message, "request is not valid JSON")
        }
    }

    func test_malformedFrames_areExplainedWhole_whateverElseIsWrong() {
        let cases: [(String, ErrorCode, String)] = [
            (#"{"op":"no.such.op","x":tru}"#, .badRequest, "request is not valid JSON"),
            (#"{"op":"no.such.op","x":true}"#, .unknownOp, "unknown op 'no.such.op'"),
            (#"{"op":"ping","x":1,}"#, .badRequest, "request is not valid JSON"),
            (#"["op","ping"]"#, .badRequest, "request must be a JSON object"),
            (#"{"op":"ping","x":"\#u{1}"}"#, .badRequest, "request is not valid JSON"),
            (#"{"op":"ping","x":\#(String(repeating: "[", count: 40))\#(String(repeating: "]", count: 40))}"#, .badRequest,
             "JSON nested deeper than 32 levels"),
        ]
        for (text, code, message) in cases {
            XCTAssertThrowsError(try decoder.decode(Array(text.utf8)), text) { error in
                XCTAssertEqual((error as? WireError)?.code, code, text)
                XCTAssertEqual((error as? WireError)?.message, message, text)
            }
        }
        XCTAssertThrowsError(try decoder.decode([0x7B, 0x22, 0x6F, 0x70, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D])) {
            XCTAssertEqual(($0 as? WireError)?.message, "request is not valid UTF-8")
        }
        // A byte order mark is skipped before the object only, never before a field's value.
        XCTAssertThrowsError(try decoder.decode(Array(#"{"op":"task.list","limit":"#.utf8) + [0xEF, 0xBB, 0xBF, 0x35, 0x7D])) {
            XCTAssertEqual(($0 as? WireError)?.message, "request is not valid JSON")
        }
        XCTAssertEqual(try decoder.decode([0xEF, 0xBB, 0xBF] + Array(#"{"op":"ping"}"#.utf8)).request, .ping)
    }

    func test_aFrameOfManyFields_keepsOnlyABoundedReading() throws {
        let many = "{" + (0..<1000).map { #""f\#($0)":1,"# }.joined() + #""op":"ping"}"#
        let scanned = decoder.scan(Array(many.utf8))
        XCTAssertEqual(scanned.envelope, .init(op: "ping", auth: nil), "the envelope is found past the kept fields")
        XCTAssertThrowsError(try decoder.decode(scanned)) { XCTAssertEqual(($0 as? WireError)?.code, .badRequest) }
    }
}
