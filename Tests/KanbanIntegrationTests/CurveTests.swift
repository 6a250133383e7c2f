import Foundation
import KanbanClient
import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import XCTest
import ZeroMQ

/// CURVE: only registered keys connect, and the key (never the JSON) says who the caller is.
final class CurveTests: XCTestCase {
    var server: CurveKeyPair!
    var adminKeys: CurveKeyPair!
    var live: LiveCoordinator!

    override func setUpWithError() throws {
        server = try CurveKeyPair.generate()
        adminKeys = try CurveKeyPair.generate()
        live = try LiveCoordinator(curve: CurveServerSettings(serverKeys: server, adminKeys: [adminKeys.publicKey]))
    }

    override func tearDown() { live = nil }

    var admin: CommandClient { live.curveClient(adminKeys, serverKey: server.publicKey) }

    /// Registers a lane with a fresh keypair; returns a client that holds it.
    func lane(_ name: String) throws -> CommandClient {
        let keys = try CurveKeyPair.generate()
        _ = try admin.call(.register(Lane(name: name, curvePublicKey: keys.publicKey)))
        return live.curveClient(keys, serverKey: server.publicKey)
    }

    func test_unregisteredKey_getsNoReply_andChangesNothing() throws {
        let before = try admin.call(.ping)["last_seq"]
        let stranger = live.curveClient(try CurveKeyPair.generate(), serverKey: server.publicKey, timeoutMs: 500)
        XCTAssertThrowsError(try stranger.call(.taskCreate(TaskSpec(title: "intruder", assignee: "factory")))) { error in
            guard case ClientError.timeout = error else { return XCTFail("expected no reply at all, got \(error)") }
        }
        // Even the admin token in `auth` does not help: without a registered key there is no connection.
        stranger.auth = live.adminToken
        XCTAssertThrowsError(try stranger.call(.ping))
        XCTAssertEqual(try admin.call(.ping)["last_seq"], before, "the board is unchanged")
        XCTAssertEqual(try admin.call(.taskList())["tasks"]?.arrayValue?.count, 0)
    }

    func test_plainClientWithoutCurve_cannotConnect() throws {
        let plain = live.client(live.adminToken, timeoutMs: 500)
        XCTAssertThrowsError(try plain.call(.ping))
    }

    func test_laneKey_cannotCompleteAnotherLanesTask_evenWithItsStolenClaimToken() throws {
        let factory = try lane("factory"), rogue = try lane("rogue")
        let task = try admin.call(.taskCreate(TaskSpec(title: "Build widget", assignee: "factory")))["task"]!["id"]!.stringValue!
        let claim = try factory.call(.claim(lane: "factory"))
        XCTAssertEqual(claim["task"]?["id"]?.stringValue, task)
        let stolen = claim["claim"]!["token"]!.stringValue!
        let code = errorCode { try rogue.call(.complete(task: task, token: stolen, result: "mine now")) }
        XCTAssertEqual(code, .forbidden, "the task is held by another lane")
        XCTAssertEqual(try admin.call(.taskGet(taskID: task))["task"]?["status"], "running")
        // The rightful holder still finishes it.
        _ = try factory.call(.complete(task: task, token: stolen))
        XCTAssertEqual(try admin.call(.taskGet(taskID: task))["task"]?["status"], "done")
    }

    func test_adminOps_areForbiddenForLaneKeys_whateverTheJSONClaims() throws {
        let factory = try lane("factory")
        factory.auth = live.adminToken  // ignored under CURVE: the key decides
        XCTAssertEqual(errorCode { try factory.call(.taskCreate(TaskSpec(title: "x", assignee: "factory"))) }, .forbidden)
        XCTAssertEqual(errorCode { try factory.call(.register(Lane(name: "other"))) }, .forbidden)
        XCTAssertEqual(errorCode { try factory.call(.claim(lane: "other")) }, .forbidden)
        XCTAssertNotNil(try factory.call(.taskList())["tasks"], "a lane may read the board")
    }

    func test_removingALanesKey_cutsOffItsOpenConnection() throws {
        let factory = try lane("factory")
        XCTAssertEqual(try factory.call(.ping)["protocol"], 1)
        _ = try admin.call(.laneUpdate(name: "factory", curvePublicKey: ""))
        XCTAssertEqual(errorCode { try factory.call(.taskList()) }, .unauthorized)
    }

    func test_eventSubscribers_needARegisteredKey() throws {
        let stranger = try EventSubscriber(endpoint: live.eventEndpoint, curve: CurveCredentials(serverKey: server.publicKey, keys: try CurveKeyPair.generate()),
                                           context: live.context)
        let member = try EventSubscriber(endpoint: live.eventEndpoint, curve: CurveCredentials(serverKey: server.publicKey, keys: adminKeys),
                                         context: live.context)
        // Wait for the member's handshake and subscription, not a fixed pause: announce until it hears.
        var heard: JSONValue?
        try waitFor("the member receives events") {
            _ = try admin.call(.taskCreate(TaskSpec(title: "announce me")))
            heard = try member.next(timeoutMs: 200)?.event["type"]
            return heard != nil
        }
        XCTAssertEqual(heard, "created")
        // The stranger connected before the member, and a marker published now reaches the member:
        // anything the stranger could read would have reached it by then too.
        _ = try admin.call(.taskCreate(TaskSpec(title: "marker")))
        var sawMarker = false
        while let e = try member.next(timeoutMs: 5000) { if e.event["type"] == "created", e.event["seq"] == (try admin.call(.ping)["last_seq"]) { sawMarker = true; break } }
        XCTAssertTrue(sawMarker, "the marker reached the member")
        XCTAssertNil(try stranger.next(timeoutMs: 300), "an unregistered key reads nothing")
    }

    func test_keyShapes_areChecked() throws {
        // Raw on purpose: a malformed key, which the decoder must refuse.
        XCTAssertEqual(errorCode { try self.admin.call("lane.register", ["name": "bad", "curve_public_key": "not-a-key"]) }, .badRequest)
        let keys = try CurveKeyPair.generate()
        _ = try admin.call(.register(Lane(name: "one", curvePublicKey: keys.publicKey)))
        XCTAssertEqual(errorCode { try self.admin.call(.register(Lane(name: "two", curvePublicKey: keys.publicKey))) }, .conflict,
                       "one key, one lane")
    }
}
