import KanbanModel
import XCTest
@testable import KanbanProtocol

final class RequestDecoderTests: XCTestCase {
    let decoder = RequestDecoder()

    func decode(_ json: String) throws(WireError) -> DecodedRequest { try decoder.decode(Array(json.utf8)) }

    func test_errorMessages_neverEchoWhatMightBeASecret() {
        let secret = "lt_uB7M0AqrKFMYxFRW8PQ3Wy_B1xwUWBChVjknPJ_jmfw"
        for json in ["{\"op\": \"\(secret)\"}", "{\"op\": \"ping\", \"\(secret)\": 1}"] {
            do { _ = try decode(json); XCTFail("accepted \(json)") } catch {
                XCTAssertFalse(error.message.contains(secret), error.message)
                XCTAssertFalse(error.message.contains("uB7M0Aqr"), error.message)
            }
        }
        // Each must be refused: an accepted one fails the test instead of passing silently.
        do { _ = try decode("{\"op\": \"lane.regster\"}"); XCTFail("accepted an unknown op") } catch {
            XCTAssertTrue(error.message.contains("'lane.regster'"), "names are still shown")
        }
        do { _ = try decode("{\"op\": \"ping\", \"sinse\": 1}"); XCTFail("accepted an unknown field") } catch {
            XCTAssertTrue(error.message.contains("'sinse'"), error.message)
        }
    }

    func assertRefused(_ json: String, _ code: ErrorCode, file: StaticString = #filePath, line: UInt = #line) {
        assertRefused(Array(json.utf8), code, file: file, line: line)
    }

    func assertRefused(_ bytes: [UInt8], _ code: ErrorCode, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let r = try decoder.decode(bytes)
            XCTFail("expected \(code.rawValue), decoded \(r.op)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.code, code, error.message, file: file, line: line)
        }
    }

    func test_claim_decodesAllFields() throws {
        let r = try decode(#"{"op":"claim","auth":"lt_x","request_id":"r1","lane":"factory","task_id":"t_1","lease_seconds":60,"wait_ms":500}"#)
        XCTAssertEqual(r.auth, "lt_x")
        XCTAssertEqual(r.requestID, "r1")
        XCTAssertEqual(r.request, .claim(ClaimRequest(lane: "factory", taskID: "t_1", leaseSeconds: 60, waitMs: 500)))
    }

    func test_taskCreate_canonicalisesAssigneeLikeHermes() throws {
        let r = try decode(#"{"op":"task.create","title":"Build","assignee":" Factory ","parents":["t_a"]}"#)
        guard case .taskCreate(let spec) = r.request else { return XCTFail() }
        XCTAssertEqual(spec.assignee, "factory")
        XCTAssertEqual(spec.parents, ["t_a"])
        XCTAssertEqual(spec.priority, 0)
    }

    func test_laneRegister_defaults() throws {
        guard case .laneRegister(let spec) = try decode(#"{"op":"lane.register","name":"factory"}"#).request else { return XCTFail() }
        XCTAssertEqual(spec.lane.kind, .persistent)
        XCTAssertEqual(spec.lane.claimMode, .pullOrWatch)
        XCTAssertEqual(spec.lane.maxConcurrency, 1)
        XCTAssertEqual(spec.lane.allowedStatusMutations, .ownClaimedOnly)
    }

    func test_laneMemory_isForSpawnedLanesOfAProfile() throws {
        guard case .laneRegister(let spec) = try decode(#"{"op":"lane.register","name":"f","kind":"pool","profile":"p","memory":"read-only"}"#).request
        else { return XCTFail() }
        XCTAssertEqual(spec.lane.memory, .readOnly)
        assertRefused(#"{"op":"lane.register","name":"f","kind":"pool","memory":"propose"}"#, .badRequest)
        assertRefused(#"{"op":"lane.register","name":"f","profile":"p","memory":"propose"}"#, .badRequest)
        assertRefused(#"{"op":"lane.register","name":"f","kind":"pool","profile":"p","memory":"never"}"#, .badRequest)
        guard case .laneUpdate(_, let patch) = try decode(#"{"op":"lane.update","name":"f","memory":"shared"}"#).request else { return XCTFail() }
        XCTAssertEqual(patch.memory, .shared)
        guard case .laneUpdate(_, let removal) = try decode(#"{"op":"lane.update","name":"f","memory_owner":"_"}"#).request else { return XCTFail() }
        XCTAssertEqual(removal.memoryOwner, "", "'_' removes the owner")
        assertRefused(#"{"op":"lane.register","name":"f","kind":"pool","profile":"p","memory_owner":"Bad.Name"}"#, .badRequest)
    }

    func test_malformedJSON_isBadRequest() {
        assertRefused(#"{"op":"ping""#, .badRequest)
        assertRefused("", .badRequest)
        assertRefused("nul", .badRequest)
    }

    func test_nonObject_isBadRequest() {
        assertRefused("[1,2]", .badRequest)
        assertRefused(#""ping""#, .badRequest)
        assertRefused("42", .badRequest)
    }

    func test_invalidUTF8_isBadRequest() {
        assertRefused([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D], .badRequest)
    }

    func test_unknownOp_isUnknownOp() {
        assertRefused(#"{"op":"drop_tables"}"#, .unknownOp)
    }

    func test_missingOp_isBadRequest() {
        assertRefused(#"{"auth":"x"}"#, .badRequest)
    }

    func test_wrongTypes_areBadRequest() {
        assertRefused(#"{"op":"task.create","title":"x","priority":"5"}"#, .badRequest)
        assertRefused(#"{"op":"task.create","title":"x","priority":true}"#, .badRequest)
        assertRefused(#"{"op":"task.create","title":"x","priority":1.5}"#, .badRequest)
        assertRefused(#"{"op":"task.create","title":42}"#, .badRequest)
        assertRefused(#"{"op":"claim","lane":"factory","wait_ms":-1}"#, .badRequest)
        assertRefused(#"{"op":"task.create","title":"x","parents":"t_1"}"#, .badRequest)
        assertRefused(#"{"op":"complete","task_id":"t_1","claim_token":"c","metadata":[1]}"#, .badRequest)
        assertRefused(#"{"op":"ping","auth":7}"#, .badRequest)
    }

    func test_badEnumValues_areBadRequest() {
        assertRefused(#"{"op":"lane.register","name":"f","kind":"daemon"}"#, .badRequest)
        assertRefused(#"{"op":"lane.register","name":"f","allowed_status_mutations":"anything"}"#, .badRequest)
        assertRefused(#"{"op":"task.list","status":"RUNNING"}"#, .badRequest)
    }

    func test_badNames_areBadRequest() {
        assertRefused(#"{"op":"lane.register","name":"Bad.Name"}"#, .badRequest)
        assertRefused(#"{"op":"lane.register","name":"default"}"#, .badRequest)
        assertRefused(#"{"op":"task.get","task_id":"t_1' OR 1=1 --"}"#, .badRequest)
    }

    func test_unknownField_isBadRequest_soTyposDoNotPassSilently() {
        assertRefused(#"{"op":"claim","lane":"factory","lease_second":5}"#, .badRequest)
    }

    func test_missingRequiredField_isBadRequest() {
        assertRefused(#"{"op":"heartbeat","task_id":"t_1"}"#, .badRequest)
        assertRefused(#"{"op":"task.create"}"#, .badRequest)
        assertRefused(#"{"op":"task.create","title":"   "}"#, .badRequest)
    }

    func test_deepNesting_isRefusedBeforeDecoding() {
        let deep = #"{"op":"heartbeat","task_id":"t_1","claim_token":"c","metadata":"# + String(repeating: "[", count: 100_000)
        assertRefused(deep, .badRequest)
    }

    func test_timeoutMs_isAnEnvelopeField_inRange() throws {
        XCTAssertEqual(try decode(#"{"op":"ping","timeout_ms":2500}"#).timeoutMs, 2500)
        XCTAssertNil(try decode(#"{"op":"ping"}"#).timeoutMs)
        assertRefused(#"{"op":"ping","timeout_ms":-1}"#, .badRequest)
        assertRefused(#"{"op":"ping","timeout_ms":3600001}"#, .badRequest)
        assertRefused(#"{"op":"ping","timeout_ms":"soon"}"#, .badRequest)
    }

    func test_metadataOverItsCap_isTooLarge() {
        let blob = String(repeating: "m", count: 5000)
        assertRefused(#"{"op":"heartbeat","task_id":"t_1","claim_token":"ct_x","metadata":{"blob":"\#(blob)"}}"#, .tooLarge)
    }

    func test_oversizedRequest_isTooLarge() {
        let small = RequestDecoder(limits: DecodeLimits(maxRequestBytes: 64, maxDepth: 32))
        do {
            _ = try small.decode(Array((#"{"op":"ping","pad":""# + String(repeating: "x", count: 100) + "\"}").utf8))
            XCTFail("expected too_large")
        } catch {
            XCTAssertEqual(error.code, .tooLarge)
        }
    }

    func test_mutationFlag() throws {
        XCTAssertFalse(try decode(#"{"op":"ping"}"#).request.isMutation)
        XCTAssertTrue(try decode(#"{"op":"release","task_id":"t_1","claim_token":"c"}"#).request.isMutation)
    }

    func test_laneProfilesAndRepos_thatCouldEscapeAPath_areRefused() {
        let decoder = RequestDecoder()
        for (field, value) in [("profile", "../other"), ("profile", ".."), ("profile", "-x"), ("repo", "relative/repo"), ("repo", "/srv/../etc")] {
            let frame = Array(#"{"op":"lane.register","name":"pool","kind":"pool","command":["x"],"\#(field)":"\#(value)"}"#.utf8)
            XCTAssertThrowsError(try decoder.decode(frame), "\(field)=\(value)") { error in
                XCTAssertEqual((error as? WireError)?.code, .badRequest)
            }
        }
        let ok = Array(#"{"op":"lane.register","name":"pool","kind":"pool","profile":"backend-hermes","repo":"/srv/app"}"#.utf8)
        XCTAssertNoThrow(try decoder.decode(ok))
    }
}
