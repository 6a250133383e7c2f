import KanbanModel

/// Protocol version spoken on the wire.
public let protocolVersion = 1

/// Encodes replies and events as the single JSON frames the wire carries.
public enum Reply {
    /// `{"ok": true, "result": …}`
    public static func ok(_ result: JSONValue) -> [UInt8] {
        encode(["ok": true, "result": result])
    }

    /// `{"ok": false, "error": {"code": …, "message": …}}`
    public static func error(_ error: WireError) -> [UInt8] {
        encode(["ok": false, "error": ["code": .string(error.code.rawValue), "message": .string(error.message)]])
    }

    /// Compact JSON with sorted keys, so equal values encode to equal bytes (`JSONCodec.encode`).
    public static func encode(_ value: JSONValue) -> [UInt8] { JSONCodec.encode(value) }

    /// Parses a reply frame (used by clients): the result on success, the wire error otherwise.
    public static func parse(_ frame: [UInt8]) -> Result<JSONValue, WireError> {
        guard let value = JSONCodec.decode(frame), case .object = value else {
            return .failure(WireError(.internal, "reply is not a JSON object"))
        }
        if value["ok"]?.boolValue == true { return .success(value["result"] ?? .null) }
        let code = value["error"]?["code"]?.stringValue.flatMap(ErrorCode.init(rawValue:)) ?? .internal
        let message = value["error"]?["message"]?.stringValue ?? "unknown error"
        return .failure(WireError(code, message))
    }
}

/// How domain records look on the wire. One place, so the CLI, docs and clients agree.
public enum WireFormat {
    public static func task(_ t: TaskRecord) -> JSONValue {
        var task: [String: JSONValue] = [
            "id": .string(t.id), "title": .string(t.title), "body": .of(t.body), "assignee": .of(t.assignee),
            "status": .string(t.status.rawValue), "priority": .int(Int64(t.priority)), "tenant": .of(t.tenant),
            "idempotency_key": .of(t.idempotencyKey), "created_at": .int(t.createdAt), "started_at": .of(t.startedAt),
            "completed_at": .of(t.completedAt), "result": .of(t.result), "claim_lock": .of(t.claimLock),
            "claim_expires": .of(t.claimExpires), "current_run_id": .of(t.currentRunID),
            "last_heartbeat_at": .of(t.lastHeartbeatAt), "max_runtime_seconds": .of(t.maxRuntimeSeconds.map(Int64.init)),
            "parents": .array(t.parents.map { .string($0) }), "children": .array(t.children.map { .string($0) }),
        ]
        // Only when it is so: every other reply stays as it was.
        if t.linksTruncated { task["links_truncated"] = .bool(true) }
        return .object(task)
    }

    public static func run(_ r: RunRecord) -> JSONValue {
        [
            "id": .int(r.id), "task_id": .string(r.taskID), "profile": .of(r.profile), "status": .string(r.status),
            "outcome": .of(r.outcome), "summary": .of(r.summary), "error": .of(r.error),
            "claim_lock": .of(r.claimLock), "started_at": .int(r.startedAt), "ended_at": .of(r.endedAt),
        ]
    }

    public static func taskDetail(_ d: TaskDetail) -> JSONValue {
        guard case .object(var o) = task(d.task) else { return task(d.task) }
        o["runs"] = .array(d.runs.map(run))
        return .object(o)
    }

    public static func lane(_ s: LaneSummary) -> JSONValue {
        let l = s.lane
        return [
            "name": .string(l.name), "kind": .string(l.kind.rawValue), "claim_mode": .string(l.claimMode.rawValue),
            "max_concurrency": .int(Int64(l.maxConcurrency)), "lease_seconds": .of(l.leaseSeconds.map(Int64.init)),
            "allowed_status_mutations": .string(l.allowedStatusMutations.rawValue),
            "command": l.command.map { .array($0.map { .string($0) }) } ?? .null,
            "profile": .of(l.profile), "workspace_policy": .string(l.workspacePolicy.rawValue), "repo": .of(l.repo),
            "max_runtime_seconds": .of(l.maxRuntimeSeconds.map(Int64.init)), "keep_workspaces": .bool(l.keepWorkspaces),
            "curve_public_key": .of(l.curvePublicKey),
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

    public static func claim(_ g: ClaimGrant) -> JSONValue {
        [
            "task": task(g.task),
            "claim": [
                "token": .string(g.token), "run_id": .int(g.runID),
                "lease_expires_at": .int(Lease.hermesSeconds(fromMs: g.leaseExpiresAtMs)),
                "lease_expires_at_ms": .int(g.leaseExpiresAtMs),
            ],
        ]
    }

    public static func event(_ e: BoardEvent) -> JSONValue {
        [
            "seq": .int(e.seq), "type": .string(e.type), "task_id": .of(e.taskID), "lane": .of(e.lane),
            "run_id": .of(e.runID), "at": .int(e.atMs), "data": e.data,
        ]
    }
}
