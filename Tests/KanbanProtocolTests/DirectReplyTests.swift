import KanbanModel
import KanbanProtocol
import XCTest

/// Each reply shape is written once (`WireFormat`), for bytes and for values. The two writers agree
/// (which also holds the shapes to byte order of their keys), and both write what the wire carried
/// before the shapes were written once: the dictionaries of that time are kept here as the reference.
final class DirectReplyTests: XCTestCase {
    func randomTask(_ rng: inout SystemRandomNumberGenerator) -> TaskRecord {
        func maybe<T>(_ v: T) -> T? { Bool.random(using: &rng) ? v : nil }
        let text = ["plain", "quote \" and \\ back", "line\nbreak\ttab", "é 🚀", ""]
        var task = TaskRecord(
            id: "t_\(UInt32.random(in: 0...UInt32.max, using: &rng))", title: text.randomElement(using: &rng)!,
            body: maybe(text.randomElement(using: &rng)!), assignee: maybe("factory"),
            status: TaskStatus.allCases.randomElement(using: &rng)!, priority: Int.random(in: -5...5, using: &rng),
            tenant: maybe("acme"), idempotencyKey: maybe("k1"), createdAt: Int64.random(in: 0...2_000_000_000, using: &rng),
            startedAt: maybe(7), completedAt: maybe(8), result: maybe(text.randomElement(using: &rng)!),
            claimLock: maybe("lane:factory:3"), claimExpires: maybe(9), currentRunID: maybe(3), lastHeartbeatAt: maybe(10),
            maxRuntimeSeconds: maybe(60), parents: Bool.random(using: &rng) ? ["t_1", "t_2"] : [], children: maybe(["t_9"]) ?? [])
        task.linksTruncated = Int.random(in: 0..<5, using: &rng) == 0
        return task
    }

    func randomRun(_ rng: inout SystemRandomNumberGenerator) -> RunRecord {
        func maybe<T>(_ v: T) -> T? { Bool.random(using: &rng) ? v : nil }
        return RunRecord(id: Int64.random(in: 1...1000, using: &rng), taskID: "t_1", profile: maybe("coder"), status: "done",
                         outcome: maybe("completed"), summary: maybe("s \"q\""), error: maybe("e"), claimLock: maybe("lane:x:1"),
                         startedAt: 5, endedAt: maybe(6), lane: maybe("pool"))
    }

    func randomLane(_ rng: inout SystemRandomNumberGenerator) -> LaneSummary {
        func maybe<T>(_ v: T) -> T? { Bool.random(using: &rng) ? v : nil }
        let lane = Lane(name: "factory", kind: LaneKind.allCases.randomElement(using: &rng)!,
                        claimMode: ClaimMode.allCases.randomElement(using: &rng)!, maxConcurrency: Int.random(in: 1...9, using: &rng),
                        leaseSeconds: maybe(60), command: maybe(["/bin/sh", "-c", "echo \"hi\""]), profile: maybe("p"),
                        workspacePolicy: WorkspacePolicy.allCases.randomElement(using: &rng)!, repo: maybe("/src/app"),
                        maxRuntimeSeconds: maybe(600), keepWorkspaces: Bool.random(using: &rng), curvePublicKey: maybe("k"),
                        memory: maybe(MemoryMode.allCases.randomElement(using: &rng)!), memoryOwner: maybe("owner"),
                        createdAt: 1, updatedAt: 2)
        let claims = (0..<Int.random(in: 0...2, using: &rng)).map { n in
            LiveClaimInfo(taskID: "t_\(n)", runID: Int64(n), claimedAtMs: 10, leaseMs: 20, leaseExpiresAtMs: 30, lastHeartbeatAt: maybe(40))
        }
        return LaneSummary(lane: lane, running: claims.count, queued: 3, oldestQueuedAt: maybe(7), claims: claims)
    }

    func test_directReplies_equalTheGenericEncoding() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let task = randomTask(&rng)
            let grant = ClaimGrant(task: randomTask(&rng), token: "ct_x", runID: 12, leaseExpiresAtMs: 1_700_000_000_123)
            XCTAssertEqual(Reply.okTask(task), Reply.ok(["task": WireFormat.task(task)]))
            XCTAssertEqual(Reply.okClaim(grant), Reply.ok(WireFormat.claim(grant)))
            XCTAssertEqual(Reply.okCompleted(task, next: grant), Reply.ok(["task": WireFormat.task(task), "next": WireFormat.claim(grant)]))
            let event = BoardEvent(seq: 5, type: "claimed", taskID: Bool.random(using: &rng) ? task.id : nil, lane: task.assignee,
                                   runID: task.currentRunID, atMs: 1_700_000_000_999, data: ["lock": .of(task.claimLock), "n": 3])
            XCTAssertEqual(WireFormat.eventBytes(event), Reply.encode(WireFormat.event(event)))
            XCTAssertEqual(Reply.okCompleted(task, next: nil), Reply.ok(["task": WireFormat.task(task), "next": ["task": .null, "claim": .null]]))
        }
    }

    /// Every shape, through both writers and against the reference.
    func test_everyShape_writesWhatTheWireCarriedBefore() {
        var rng = SystemRandomNumberGenerator()
        func bytes(_ shape: (inout JSONWriter) -> Void) -> [UInt8] {
            var w = JSONWriter()
            shape(&w)
            return w.out
        }
        for _ in 0..<200 {
            let task = randomTask(&rng)
            let runs = (0..<Int.random(in: 0...2, using: &rng)).map { _ in randomRun(&rng) }
            let lane = randomLane(&rng)
            let grant = ClaimGrant(task: task, token: "ct_x", runID: 12, leaseExpiresAtMs: 1_700_000_000_123)
            let event = BoardEvent(seq: 5, type: "claimed", taskID: task.id, lane: nil, runID: 3, atMs: 9, data: ["z": 1, "a": [true]])
            let cases: [(value: JSONValue, bytes: [UInt8], reference: JSONValue)] = [
                (WireFormat.task(task), bytes { WireFormat.writeTask(task, &$0) }, Reference.task(task)),
                (WireFormat.taskDetail(TaskDetail(task: task, runs: runs)), bytes { WireFormat.writeTask(task, runs: runs, &$0) },
                 Reference.taskDetail(TaskDetail(task: task, runs: runs))),
                (WireFormat.lane(lane), bytes { WireFormat.writeLane(lane, &$0) }, Reference.lane(lane)),
                (WireFormat.claim(grant), bytes { WireFormat.writeClaim(grant, &$0) }, Reference.claim(grant)),
                (WireFormat.event(event), WireFormat.eventBytes(event), Reference.event(event)),
                (WireFormat.registered(lane, token: "lt_y"), bytes { WireFormat.writeRegistered(lane, token: "lt_y", &$0) },
                 ["lane": Reference.lane(lane), "token": "lt_y"]),
                (WireFormat.rotated(lane: "factory", token: "lt_y"), bytes { WireFormat.writeRotated(lane: "factory", token: "lt_y", &$0) },
                 ["lane": "factory", "token": "lt_y"]),
            ]
            for (n, c) in cases.enumerated() {
                XCTAssertEqual(c.value, c.reference, "shape \(n) as a value")
                XCTAssertEqual(c.bytes, JSONCodec.encode(c.reference), "shape \(n) as bytes: keys in byte order")
            }
        }
        XCTAssertEqual(Reply.error(WireError(.busy, "a \"b\"")), JSONCodec.encode(["ok": false, "error": ["code": "busy", "message": "a \"b\""]]))
        XCTAssertEqual(Reply.ok(["x": [1, 2]]), JSONCodec.encode(["ok": true, "result": ["x": [1, 2]]]))
    }

    func test_tokenPaths_areReadOffTheShapes() {
        XCTAssertEqual(Set(WireFormat.tokenPaths), [["claim", "token"], ["next", "claim", "token"], ["token"]])
    }
}

/// The wire as the dictionaries wrote it before each shape was written once (2026-12-06).
private enum Reference {
    static func task(_ t: TaskRecord) -> JSONValue {
        var task: [String: JSONValue] = [
            "id": .string(t.id), "title": .string(t.title), "body": .of(t.body), "assignee": .of(t.assignee),
            "status": .string(t.status.rawValue), "priority": .int(Int64(t.priority)), "tenant": .of(t.tenant),
            "idempotency_key": .of(t.idempotencyKey), "created_at": .int(t.createdAt), "started_at": .of(t.startedAt),
            "completed_at": .of(t.completedAt), "result": .of(t.result), "claim_lock": .of(t.claimLock),
            "claim_expires": .of(t.claimExpires), "current_run_id": .of(t.currentRunID),
            "last_heartbeat_at": .of(t.lastHeartbeatAt), "max_runtime_seconds": .of(t.maxRuntimeSeconds.map(Int64.init)),
            "parents": .array(t.parents.map { .string($0) }), "children": .array(t.children.map { .string($0) }),
        ]
        if t.linksTruncated { task["links_truncated"] = .bool(true) }
        return .object(task)
    }

    static func run(_ r: RunRecord) -> JSONValue {
        [
            "id": .int(r.id), "task_id": .string(r.taskID), "profile": .of(r.profile), "status": .string(r.status),
            "outcome": .of(r.outcome), "summary": .of(r.summary), "error": .of(r.error),
            "claim_lock": .of(r.claimLock), "started_at": .int(r.startedAt), "ended_at": .of(r.endedAt), "lane": .of(r.lane),
        ]
    }

    static func taskDetail(_ d: TaskDetail) -> JSONValue {
        guard case .object(var o) = task(d.task) else { return task(d.task) }
        o["runs"] = .array(d.runs.map(run))
        return .object(o)
    }

    static func lane(_ s: LaneSummary) -> JSONValue {
        let l = s.lane
        return [
            "name": .string(l.name), "kind": .string(l.kind.rawValue), "claim_mode": .string(l.claimMode.rawValue),
            "max_concurrency": .int(Int64(l.maxConcurrency)), "lease_seconds": .of(l.leaseSeconds.map(Int64.init)),
            "allowed_status_mutations": .string(l.allowedStatusMutations.rawValue),
            "command": l.command.map { .array($0.map { .string($0) }) } ?? .null,
            "profile": .of(l.profile), "workspace_policy": .string(l.workspacePolicy.rawValue), "repo": .of(l.repo),
            "max_runtime_seconds": .of(l.maxRuntimeSeconds.map(Int64.init)), "keep_workspaces": .bool(l.keepWorkspaces),
            "curve_public_key": .of(l.curvePublicKey),
            "memory": .string(l.memoryMode.rawValue), "memory_default": .bool(l.memory == nil),
            "memory_owner": .of(l.memoryOwner),
            "created_at": .int(l.createdAt), "updated_at": .int(l.updatedAt),
            "running": .int(Int64(s.running)), "queued": .int(Int64(s.queued)),
            "oldest_queued_at": .of(s.oldestQueuedAt),
            "claims": .array(s.claims.map { c in
                [
                    "task_id": .string(c.taskID), "run_id": .int(c.runID), "claimed_at_ms": .int(c.claimedAtMs),
                    "lease_ms": .int(c.leaseMs), "lease_expires_at_ms": .int(c.leaseExpiresAtMs),
                    "last_heartbeat_at": .of(c.lastHeartbeatAt),
                ]
            }),
        ]
    }

    static func claim(_ g: ClaimGrant) -> JSONValue {
        [
            "task": task(g.task),
            "claim": [
                "token": .string(g.token), "run_id": .int(g.runID),
                "lease_expires_at": .int(Lease.hermesSeconds(fromMs: g.leaseExpiresAtMs)),
                "lease_expires_at_ms": .int(g.leaseExpiresAtMs),
            ],
        ]
    }

    static func event(_ e: BoardEvent) -> JSONValue {
        [
            "seq": .int(e.seq), "type": .string(e.type), "task_id": .of(e.taskID), "lane": .of(e.lane),
            "run_id": .of(e.runID), "at": .int(e.atMs), "data": e.data,
        ]
    }
}
