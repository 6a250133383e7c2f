import AsyncHTTPClient
import Foundation
import KanbanClient
import KanbanModel
import KanbanProtocol
@testable import KanbanWeb
import NIOHTTP1
import XCTest

/// The HTTP face against a real coordinator, over real HTTP (docs/CONSOLE.md).
final class WebFaceTests: XCTestCase {
    func test_withoutLogin_apiAndMetricsAnswer401_withNoBoardContent() async throws {
        let web = try LiveWeb()
        _ = try web.coordinator.registerLane("factory")
        try web.coordinator.createTask("secret-title")
        for path in ["/api/lanes", "/api/tasks", "/api/events", "/api/stats", "/api/session", "/metrics", "/api/stream"] {
            let r = try await web.send(.GET, path)
            XCTAssertEqual(r.status, 401, path)
            XCTAssertEqual(r.json["error"]?["code"], "unauthorized", path)
            XCTAssertFalse(r.body.contains("secret-title") || r.body.contains("factory"), "\(path) leaked: \(r.body)")
        }
        let forged = try await web.send(.GET, "/api/tasks", headers: [("Cookie", "kb_session=forged")])
        XCTAssertEqual(forged.status, 401)
        let health = try await web.send(.GET, "/healthz")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.body, "ok\n")
        let page = try await web.send(.GET, "/")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.headers["content-type"].first?.hasPrefix("text/html") == true)
        XCTAssertTrue(page.headers["content-security-policy"].first?.contains("script-src 'self'") == true)
        XCTAssertEqual(page.headers["x-content-type-options"].first, "nosniff")
    }

    func test_login_adminWritesAndLaneReads_cookieIsHttpOnlyStrict_logoutEndsIt() async throws {
        let web = try LiveWeb()
        let laneToken = try web.coordinator.registerLane("factory")
        let task = try web.coordinator.createTask("t")

        let admin = try await web.send(.POST, "/api/login", json: #"{"token": "\#(web.coordinator.adminToken)"}"#)
        XCTAssertEqual(admin.status, 200)
        XCTAssertEqual(admin.json["role"], "admin")
        let setCookie = admin.headers["set-cookie"].first ?? ""
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] { XCTAssertTrue(setCookie.contains(attribute), setCookie) }
        XCTAssertFalse(setCookie.contains(web.coordinator.adminToken), "the token is never the cookie")
        XCTAssertEqual(admin.headers["cache-control"].first, "no-store")

        let lane = try await web.login(laneToken)
        let session = try await web.send(.GET, "/api/session", headers: [("Cookie", "kb_session=\(lane.cookie)")])
        XCTAssertEqual(session.json["role"], "lane")
        XCTAssertEqual(session.json["lane"], "factory")
        let reads = try await web.send(.GET, "/api/tasks", headers: [("Cookie", "kb_session=\(lane.cookie)")])
        XCTAssertEqual(reads.json["total"], 1)
        let write = try await web.send(.POST, "/api/tasks/\(task)/unblock", json: "{}",
                                       headers: [("Cookie", "kb_session=\(lane.cookie)"), ("X-CSRF-Token", lane.csrf)])
        XCTAssertEqual(write.status, 403)
        XCTAssertEqual(write.json["error"]?["code"], "forbidden")
        // A lane's bearer token is refused by the wire's own policy.
        let bearer = try await web.send(.POST, "/api/tasks/\(task)/unblock", json: "{}", headers: [("Authorization", "Bearer \(laneToken)")])
        XCTAssertEqual(bearer.status, 403)

        let wrong = try await web.send(.POST, "/api/login", json: #"{"token": "lt_nope"}"#)
        XCTAssertEqual(wrong.status, 401)
        let out = try await web.send(.POST, "/api/logout", json: "{}", headers: [("Cookie", "kb_session=\(lane.cookie)"), ("X-CSRF-Token", lane.csrf)])
        XCTAssertEqual(out.status, 200)
        let after = try await web.send(.GET, "/api/session", headers: [("Cookie", "kb_session=\(lane.cookie)")])
        XCTAssertEqual(after.status, 401)
    }

    func test_stateChangeWithCookie_needsTheCSRFHeader() async throws {
        let web = try LiveWeb()
        let admin = try await web.login(web.coordinator.adminToken)
        let cookie = ("Cookie", "kb_session=\(admin.cookie)")
        let refused = try await web.send(.POST, "/api/tasks", json: #"{"title": "x"}"#, headers: [cookie])
        XCTAssertEqual(refused.status, 403)
        XCTAssertEqual(refused.json["error"]?["code"], "csrf")
        let wrongToken = try await web.send(.POST, "/api/tasks", json: #"{"title": "x"}"#, headers: [cookie, ("X-CSRF-Token", "nope")])
        XCTAssertEqual(wrongToken.status, 403)
        let total = try await web.send(.GET, "/api/tasks", headers: [cookie])
        XCTAssertEqual(total.json["total"], 0, "nothing was created")
        let created = try await web.send(.POST, "/api/tasks", json: #"{"title": "x", "assignee": "factory", "priority": 2}"#,
                                         headers: [cookie, ("X-CSRF-Token", admin.csrf)])
        XCTAssertEqual(created.status, 201)
        XCTAssertEqual(created.json["task"]?["status"], "ready")
    }

    func test_lanes_showRunning2of3_queued_andClaims_forAPoolWithPersistentClaims() async throws {
        let web = try LiveWeb()
        let token = try web.coordinator.registerLane("pool", maxConcurrency: 3)
        for i in 0..<3 { try web.coordinator.createTask("job \(i)", assignee: "pool") }
        let lane = web.coordinator.client(token)
        for _ in 0..<2 { XCTAssertNotNil(try lane.call(.claim(ClaimRequest(lane: "pool")))["claim"]?["token"]?.stringValue) }
        let r = try await web.send(.GET, "/api/lanes", headers: [("Authorization", "Bearer \(token)")])
        XCTAssertEqual(r.status, 200, r.body)
        let pool = r.json["lanes"]?.arrayValue?.first { $0["name"] == "pool" }
        XCTAssertEqual(pool?["running"], 2)
        XCTAssertEqual(pool?["max_concurrency"], 3)
        XCTAssertEqual(pool?["queued"], 1)
        XCTAssertEqual(pool?["parked"], 0)
        XCTAssertEqual(pool?["claims"]?.arrayValue?.count, 2)
        XCTAssertEqual(pool?["stuck"], .array([]), "fresh claims are not stuck")
        XCTAssertNotNil(r.json["now_ms"]?.intValue)
    }

    func test_reclaim_returnsTheTaskToReady() async throws {
        let web = try LiveWeb()
        let token = try web.coordinator.registerLane("factory")
        let task = try web.coordinator.createTask("stuck one")
        _ = try web.coordinator.client(token).call(.claim(ClaimRequest(lane: "factory")))
        XCTAssertEqual(try web.coordinator.status(task), "running")
        let admin = try await web.login(web.coordinator.adminToken)
        let r = try await web.send(.POST, "/api/tasks/\(task)/reclaim", json: #"{"reason": "operator"}"#,
                                   headers: [("Cookie", "kb_session=\(admin.cookie)"), ("X-CSRF-Token", admin.csrf)])
        XCTAssertEqual(r.status, 200, r.body)
        XCTAssertEqual(r.json["task"]?["status"], "ready")
        XCTAssertEqual(try web.coordinator.status(task), "ready")
        let again = try await web.send(.POST, "/api/tasks/\(task)/reclaim", json: "{}",
                                       headers: [("Cookie", "kb_session=\(admin.cookie)"), ("X-CSRF-Token", admin.csrf)])
        XCTAssertEqual(again.status, 409, "a ready task has no claim to take back: \(again.body)")
    }

    func test_stream_deliversAClaimLive_andResumesFromLastEventID_withoutGapsOrDuplicates() async throws {
        let web = try LiveWeb()
        let token = try web.coordinator.registerLane("factory", maxConcurrency: 10)
        let admin = try await web.login(web.coordinator.adminToken)
        let lane = web.coordinator.client(token)
        for i in 0..<4 { try web.coordinator.createTask("job \(i)") }

        // Live: a claim made after the stream opened arrives as an SSE `claimed` message.
        let firstClaimSeq: Int64 = try await within(30, "a claimed event on the stream") {
            let stream = try await SSEReader(web, cookie: admin.cookie)
            XCTAssertEqual(stream.status, 200)
            // One claim is enough even if the hub's SUB joins a moment after the stream opens: its feed
            // replays what it missed (it compares the coordinator's head seq with its own when quiet).
            let claimer = Task.detached { _ = try web.coordinator.client(token).call(.claim(ClaimRequest(lane: "factory"))) }
            defer { claimer.cancel() }
            while let m = try await stream.next() {
                if m.event == "claimed", let id = m.id {
                    XCTAssertEqual(JSONCodec.decode(Array(m.data.utf8))?["seq"]?.intValue, id, "id: is the event's seq")
                    return id
                }
            }
            throw WebTestError("stream ended")
        }
        // More happens while nobody listens.
        for _ in 0..<3 { _ = try lane.call(.claim(ClaimRequest(lane: "factory"))) }
        let head = try web.coordinator.admin.call(.ping)["last_seq"]!.intValue!
        XCTAssertGreaterThan(head, firstClaimSeq + 2)

        // Resume: everything after Last-Event-ID, in order, once each.
        let resumed: [Int64] = try await within(30, "the replay up to seq \(head)") {
            let stream = try await SSEReader(web, cookie: admin.cookie, lastEventID: firstClaimSeq)
            var ids: [Int64] = []
            while let m = try await stream.next(), let id = m.id {
                ids.append(id)
                if id >= head { break }
            }
            return ids
        }
        XCTAssertEqual(resumed, Array((firstClaimSeq + 1)...head))
    }

    func test_badInput_getsClearErrors_413_404_400() async throws {
        let web = try LiveWeb()
        let admin = try await web.login(web.coordinator.adminToken)
        let headers = [("Cookie", "kb_session=\(admin.cookie)"), ("X-CSRF-Token", admin.csrf)]
        let huge = #"{"title": ""# + String(repeating: "x", count: 200 * 1024) + #""}"#
        let big = try await web.send(.POST, "/api/tasks", json: huge, headers: headers)
        XCTAssertEqual(big.status, 413)
        XCTAssertEqual(big.json["error"]?["code"], "too_large")
        let unknown = try await web.send(.GET, "/api/nope", headers: headers)
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(unknown.json["error"]?["code"], "not_found")
        let badJSON = try await web.send(.POST, "/api/tasks", json: "{not json", headers: headers)
        XCTAssertEqual(badJSON.status, 400)
        XCTAssertEqual(badJSON.json["error"]?["code"], "bad_request")
        let badStatus = try await web.send(.GET, "/api/tasks?status=sideways", headers: headers)
        XCTAssertEqual(badStatus.status, 400)
        let noTask = try await web.send(.GET, "/api/tasks/t_00000000", headers: headers)
        XCTAssertEqual(noTask.status, 404)
    }

    func test_taskDetail_showsTheTailOfTheWorkerLog() async throws {
        let web = try LiveWeb(dispatch: true)
        let task = try web.coordinator.createTask("logged", assignee: nil)
        let logs = web.coordinator.dir.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let text = String(repeating: "old line\n", count: 10_000) + "the last line\n"
        try text.write(to: logs.appendingPathComponent(WorkspaceLayout.logFile(taskID: task)), atomically: true, encoding: .utf8)
        let r = try await web.send(.GET, "/api/tasks/\(task)", headers: [("Authorization", "Bearer \(web.coordinator.adminToken)")])
        XCTAssertEqual(r.json["task"]?["id"]?.stringValue, task)
        let tail = r.json["log_tail"]?.stringValue ?? ""
        XCTAssertTrue(tail.hasSuffix("the last line\n"))
        XCTAssertLessThanOrEqual(tail.utf8.count, 64 * 1024)
        XCTAssertTrue(tail.hasPrefix("old line\n"), "starts at a whole line")
    }

    func test_remoteBind_isRefusedWithoutInsecureRemote() throws {
        let settings = WebSettings(bind: HTTPBind(host: "0.0.0.0", port: 0), commandEndpoint: "tcp://127.0.0.1:1",
                                   eventEndpoint: "tcp://127.0.0.1:2", token: nil)
        let face = WebFace(settings: settings, console: ConsoleFiles(files: [:]))
        defer { face.stop() }
        XCTAssertThrowsError(try face.start()) { error in
            XCTAssertTrue("\(error)".contains("refusing to serve HTTP on 0.0.0.0:0"), "\(error)")
        }
    }

    func test_metrics_withBearer_isPrometheusText() async throws {
        let web = try LiveWeb()
        _ = try web.coordinator.registerLane("factory", maxConcurrency: 2)
        let r = try await web.send(.GET, "/metrics", headers: [("Authorization", "Bearer \(web.coordinator.adminToken)")])
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(r.headers["content-type"].first?.hasPrefix("text/plain; version=0.0.4") == true)
        XCTAssertTrue(r.body.contains("kanban_lane_max_concurrency{lane=\"factory\"} 2"), r.body)
    }
}
