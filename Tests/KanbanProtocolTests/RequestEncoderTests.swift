import KanbanModel
import KanbanProtocol
import XCTest

/// `RequestEncoder` is the decoder's inverse: every request it writes decodes to itself.
final class RequestEncoderTests: XCTestCase {
    static let ref = ClaimRef(taskID: "t_0a1b2c3d", claimToken: "ct_xS6gPIPT6xvTThrgB9Da6Ce_gwJZivQRnn01lKk3-40")
    static let curveKey = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

    /// Requests of `op`: each optional field set, and each left out. The switch has no default, so a
    /// new op does not compile until it has samples here (and then round-trips below).
    // swiftlint:disable:next function_body_length
    static func samples(_ op: Op) -> [Request] {
        switch op {
        case .ping: return [.ping]
        case .laneRegister:
            var full = Lane(name: "backend-pool", kind: .pool, claimMode: .watch, maxConcurrency: 3, leaseSeconds: 120,
                            command: ["hermes", "-p", "{profile}", "chat", "-q", "work kanban task {task_id}"], profile: "backend",
                            workspacePolicy: .scratch, repo: "/srv/repo", maxRuntimeSeconds: 3600, keepWorkspaces: true)
            full.curvePublicKey = curveKey
            return [.laneRegister(LaneSpec(lane: Lane(name: "factory"))), .laneRegister(LaneSpec(lane: full))]
        case .laneUpdate:
            var p = LanePatch()
            p.kind = .spawn; p.claimMode = .pull; p.maxConcurrency = 2; p.leaseSeconds = 60; p.allowedStatusMutations = .ownClaimedOnly
            p.command = ["run", "{task_id}"]; p.profile = "p"; p.workspacePolicy = .worktreePerTask; p.repo = "/r"
            p.maxRuntimeSeconds = 10; p.keepWorkspaces = false; p.curvePublicKey = ""
            return [.laneUpdate(name: "factory", LanePatch()), .laneUpdate(name: "factory", p)]
        case .laneList: return [.laneList]
        case .laneGet: return [.laneGet(name: "factory")]
        case .laneRemove: return [.laneRemove(name: "factory")]
        case .laneRotateToken: return [.laneRotateToken(name: "factory")]
        case .taskCreate:
            return [.taskCreate(TaskSpec(title: "Build widget")),
                    .taskCreate(TaskSpec(title: "quote \" nl \n é 🚀", body: "b", assignee: "factory", priority: -5,
                                         parents: ["t_1", "t_2"], idempotencyKey: "k", tenant: "acme"))]
        case .taskGet: return [.taskGet(taskID: "t_0a1b2c3d")]
        case .taskLog: return [.taskLog(taskID: "t_0a1b2c3d", maxBytes: 65536), .taskLog(taskID: "t_1", maxBytes: 1)]
        case .taskList:
            return [.taskList(status: nil, assignee: nil, limit: 500), .taskList(status: .blocked, assignee: "factory", limit: 7)]
        case .taskAssign: return [.taskAssign(taskID: "t_1", assignee: nil), .taskAssign(taskID: "t_1", assignee: "factory")]
        case .taskLink: return [.taskLink(parent: "t_1", child: "t_2")]
        case .taskReclaim: return [.taskReclaim(taskID: "t_1", reason: nil), .taskReclaim(taskID: "t_1", reason: "stuck")]
        case .taskUnblock: return [.taskUnblock(taskID: "t_1")]
        case .workspacePrune: return [.workspacePrune(lane: nil), .workspacePrune(lane: "factory"), .workspacePrune(lane: "_")]
        case .claim:
            return [.claim(ClaimRequest(lane: "factory")),
                    .claim(ClaimRequest(lane: "factory", taskID: "t_1", leaseSeconds: 30, waitMs: 25_000))]
        case .heartbeat:
            return [.heartbeat(ref, note: nil, metadata: nil),
                    .heartbeat(ref, note: "50%", metadata: ["progress": .double(0.5), "step": 3, "tags": ["a", .null]])]
        case .complete:
            return [.complete(ref, result: nil, summary: nil, metadata: nil, claimNext: false),
                    .complete(ref, result: "done", summary: "ok", metadata: ["files": 2], claimNext: true)]
        case .block:
            return [.block(ref, reason: nil, kind: nil), .block(ref, reason: "needs a key", kind: "needs_input")]
        case .release:
            return [.release(ref, reason: nil), .release(ref, reason: "shutting down"),
                    .release(ref, reason: "rate-limited", retryAfterSeconds: 60)]
        case .fail:
            return [.fail(ref, reason: nil, exitCode: nil, signal: nil), .fail(ref, reason: "broke", exitCode: 3, signal: nil),
                    .fail(ref, reason: nil, exitCode: nil, signal: 9)]
        case .logAppend: return [.logAppend(ref, chunk: ""), .logAppend(ref, chunk: "line 1\nünïcode 🚀\n")]
        case .runnerReport:
            return [.runnerReport(RunnerReport(lane: "codex", runnerID: "gpu-1:42:1", host: "gpu-1", pid: 42, slots: 3, running: [])),
                    .runnerReport(RunnerReport(lane: "codex", runnerID: "h:1:2", host: "h", pid: 1, slots: 1, running: ["t_1"], version: "0.1.0"))]
        case .events:
            return [.events(since: 0, limit: 1000, lane: nil), .events(since: 1_234_567, limit: 10, lane: "_")]
        case .stats: return [.stats(windowSeconds: 3600), .stats(windowSeconds: 60)]
        }
    }

    func test_everyOp_roundTripsThroughTheDecoder_withAndWithoutItsEnvelope() throws {
        for op in Op.allCases {
            let samples = Self.samples(op)
            XCTAssertFalse(samples.isEmpty, op.rawValue)
            for request in samples {
                XCTAssertEqual(request.op, op, "a sample of \(op.rawValue) is another op's")
                for (auth, requestID, timeoutMs) in [(nil, nil, nil), ("lt_token", "r-1", 4000)] as [(String?, String?, Int?)] {
                    let frame = RequestEncoder.encode(request, auth: auth, requestID: requestID, timeoutMs: timeoutMs)
                    let expected = DecodedRequest(op: op.rawValue, auth: auth, requestID: requestID, request: request, timeoutMs: timeoutMs)
                    XCTAssertEqual(try RequestDecoder().decode(frame), expected, String(decoding: frame, as: UTF8.self))
                    XCTAssertEqual(RequestEncoder.encode(expected), frame, "a decoded request encodes as its envelope says")
                }
            }
        }
    }

    func test_frames_areCompactSortedJSON_withOptionalsLeftOut() {
        let claim = RequestEncoder.encode(.claim(ClaimRequest(lane: "factory")), auth: "lt_x", requestID: "r1", timeoutMs: 4000)
        XCTAssertEqual(String(decoding: claim, as: UTF8.self),
                       #"{"auth":"lt_x","lane":"factory","op":"claim","request_id":"r1","timeout_ms":4000,"wait_ms":0}"#)
        XCTAssertEqual(String(decoding: RequestEncoder.encode(.ping), as: UTF8.self), #"{"op":"ping"}"#)
        XCTAssertEqual(String(decoding: RequestEncoder.encode(.taskAssign(taskID: "t_1", assignee: nil)), as: UTF8.self),
                       #"{"op":"task.assign","task_id":"t_1"}"#, "nil is left out, which the coordinator reads as unassign")
    }

    func test_onlyReadOps_areNotMutations() {
        // Pinned: a read classified as a mutation would be stored for replay, a mutation classified as a
        // read would be done twice on a retry. `runner.report` changes only the in-memory roster, and a
        // repeat of it is the same report.
        XCTAssertEqual(Set(Op.allCases.filter { !$0.isMutation }),
                       [.ping, .laneList, .laneGet, .taskGet, .taskList, .taskLog, .events, .stats, .runnerReport])
        for op in Op.allCases { for request in Self.samples(op) { XCTAssertEqual(request.isMutation, op.isMutation) } }
    }
}
