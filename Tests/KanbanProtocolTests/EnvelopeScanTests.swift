import KanbanProtocol
import XCTest

/// The pre-parse scan answers only when it is sure, and then agrees with the full decoder.
final class EnvelopeScanTests: XCTestCase {
    func scan(_ text: String) -> EnvelopeScan.Envelope? { EnvelopeScan.scan(Array(text.utf8)) }

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
                     #"{"op":"a","auth":"x\u0041"}"#, #"{"op":"a"} trailing"#, #"{"op":"a","x":[1,2}"#, #"{"op":"a","auth":5}"#] {
            XCTAssertNil(scan(text), text)
        }
    }

    func test_agreesWithTheDecoderWhereverItAnswers() throws {
        let decoder = RequestDecoder()
        for text in [#"{"op":"task.get","auth":"lt_abc","task_id":"t_1"}"#, #"{"op":"ping"}"#,
                     #"{"op":"task.list","auth":null,"limit":5}"#, #"{"limit":5,"op":"task.list","auth":"at_x"}"#] {
            let head = try XCTUnwrap(scan(text), text)
            let decoded = try decoder.decode(Array(text.utf8))
            XCTAssertEqual(head.op, decoded.op, text)
            XCTAssertEqual(head.auth, decoded.auth, text)
        }
    }
}
