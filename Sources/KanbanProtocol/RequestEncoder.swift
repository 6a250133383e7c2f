import KanbanModel

/// Writes a typed `Request` as the frame the command socket takes: the inverse of `RequestDecoder`,
/// so clients never spell an op name or a field name themselves. For every request the decoder
/// accepts, `RequestDecoder().decode(RequestEncoder.encode(d)) == d`.
///
/// Optional values are written when present and left out when nil (the decoder reads a missing field
/// and `null` alike); every other value is written, defaults included, so the frame says exactly
/// what the request is. Validation is the coordinator's: a bad name is sent as given and refused there
/// with the reason, as a hand-written request would be.
public enum RequestEncoder {
    /// The frame for `request` with its envelope: `auth` (a token; nil under CURVE), `requestID`
    /// (mutations: makes a retry safe) and `timeoutMs` (how long the client waits for the reply).
    public static func encode(_ request: Request, auth: String? = nil, requestID: String? = nil, timeoutMs: Int? = nil) -> [UInt8] {
        var object = fields(request)
        object["op"] = .string(request.op.rawValue)
        if let auth { object["auth"] = .string(auth) }
        if let requestID { object["request_id"] = .string(requestID) }
        if let timeoutMs { object["timeout_ms"] = .int(Int64(timeoutMs)) }
        return JSONCodec.encode(.object(object))
    }

    /// The frame for a decoded request with its envelope (its `op` string is the request's own).
    public static func encode(_ decoded: DecodedRequest) -> [UInt8] {
        encode(decoded.request, auth: decoded.auth, requestID: decoded.requestID, timeoutMs: decoded.timeoutMs)
    }

    /// The op's own fields, as the decoder reads them (no `op`, no envelope).
    // swiftlint:disable:next cyclomatic_complexity function_body_length
    public static func fields(_ request: Request) -> [String: JSONValue] {
        var f = Writer()
        // No default: a new request case does not compile until it is written here.
        switch request {
        case .ping, .laneList:
            break
        case .laneRegister(let spec):
            let l = spec.lane
            f["name"] = .string(l.name)
            f["kind"] = .string(l.kind.rawValue)
            f["claim_mode"] = .string(l.claimMode.rawValue)
            f["max_concurrency"] = .int(Int64(l.maxConcurrency))
            f.int("lease_seconds", l.leaseSeconds)
            f["allowed_status_mutations"] = .string(l.allowedStatusMutations.rawValue)
            f.strings("command", l.command)
            f.string("profile", l.profile)
            f["workspace_policy"] = .string(l.workspacePolicy.rawValue)
            f.string("repo", l.repo)
            f.int("max_runtime_seconds", l.maxRuntimeSeconds)
            f["keep_workspaces"] = .bool(l.keepWorkspaces)
            f.string("curve_public_key", l.curvePublicKey)
            f.string("memory", l.memory?.rawValue)
            f.string("memory_owner", l.memoryOwner)
        case .laneUpdate(let name, let p):
            f["name"] = .string(name)
            f.string("kind", p.kind?.rawValue)
            f.string("claim_mode", p.claimMode?.rawValue)
            f.int("max_concurrency", p.maxConcurrency)
            f.int("lease_seconds", p.leaseSeconds)
            f.string("allowed_status_mutations", p.allowedStatusMutations?.rawValue)
            f.strings("command", p.command)
            f.string("profile", p.profile)
            f.string("workspace_policy", p.workspacePolicy?.rawValue)
            f.string("repo", p.repo)
            f.int("max_runtime_seconds", p.maxRuntimeSeconds)
            if let keep = p.keepWorkspaces { f["keep_workspaces"] = .bool(keep) }
            f.string("curve_public_key", p.curvePublicKey)
            f.string("memory", p.memory?.rawValue)
            f.string("memory_owner", p.memoryOwner.map { $0.isEmpty ? "_" : $0 })
        case .laneGet(let name), .laneRemove(let name), .laneRotateToken(let name):
            f["name"] = .string(name)
        case .taskCreate(let t):
            f["title"] = .string(t.title)
            f.string("body", t.body)
            f.string("assignee", t.assignee)
            f["priority"] = .int(Int64(t.priority))
            f.strings("parents", t.parents)
            f.string("idempotency_key", t.idempotencyKey)
            f.string("tenant", t.tenant)
        case .taskGet(let id), .taskUnblock(let id):
            f["task_id"] = .string(id)
        case .taskLog(let id, let maxBytes):
            f["task_id"] = .string(id)
            f["max_bytes"] = .int(Int64(maxBytes))
        case .taskList(let status, let assignee, let limit):
            f.string("status", status?.rawValue)
            f.string("assignee", assignee)
            f["limit"] = .int(Int64(limit))
        case .taskAssign(let id, let assignee):
            f["task_id"] = .string(id)
            f.string("assignee", assignee)
        case .taskLink(let parent, let child):
            f["parent_id"] = .string(parent)
            f["child_id"] = .string(child)
        case .taskReclaim(let id, let reason):
            f["task_id"] = .string(id)
            f.string("reason", reason)
        case .workspacePrune(let lane):
            f.string("lane", lane)
        case .claim(let c):
            f["lane"] = .string(c.lane)
            f.string("task_id", c.taskID)
            f.int("lease_seconds", c.leaseSeconds)
            f["wait_ms"] = .int(Int64(c.waitMs))
        case .heartbeat(let ref, let note, let metadata):
            f.ref(ref)
            f.string("note", note)
            f.value("metadata", metadata)
        case .complete(let ref, let result, let summary, let metadata, let claimNext):
            f.ref(ref)
            f.string("result", result)
            f.string("summary", summary)
            f.value("metadata", metadata)
            f["claim_next"] = .bool(claimNext)
        case .block(let ref, let reason, let kind):
            f.ref(ref)
            f.string("reason", reason)
            f.string("kind", kind)
        case .release(let ref, let reason, let retryAfter):
            f.ref(ref)
            f.string("reason", reason)
            f.int("retry_after_seconds", retryAfter)
        case .fail(let ref, let reason, let exitCode, let signal):
            f.ref(ref)
            f.string("reason", reason)
            f.int("exit_code", exitCode)
            f.int("signal", signal)
        case .logAppend(let ref, let chunk):
            f.ref(ref)
            f["chunk"] = .string(chunk)
        case .runnerReport(let r):
            f["lane"] = .string(r.lane)
            f["runner_id"] = .string(r.runnerID)
            f["host"] = .string(r.host)
            f["pid"] = .int(Int64(r.pid))
            f["slots"] = .int(Int64(r.slots))
            f["running"] = .array(r.running.map { .string($0) })
            f.string("version", r.version)
        case .events(let since, let limit, let lane):
            f["since"] = .int(since)
            f["limit"] = .int(Int64(limit))
            f.string("lane", lane)
        case .stats(let windowSeconds):
            f["window_seconds"] = .int(Int64(windowSeconds))
        }
        return f.object
    }

    /// Field writes that leave nil values out.
    private struct Writer {
        var object: [String: JSONValue] = [:]

        subscript(key: String) -> JSONValue? {
            get { object[key] }
            set { object[key] = newValue }
        }

        mutating func string(_ key: String, _ s: String?) { if let s { object[key] = .string(s) } }
        mutating func int(_ key: String, _ i: Int?) { if let i { object[key] = .int(Int64(i)) } }
        mutating func strings(_ key: String, _ a: [String]?) { if let a { object[key] = .array(a.map { .string($0) }) } }
        mutating func value(_ key: String, _ v: JSONValue?) { if let v, !v.isNull { object[key] = v } }
        mutating func ref(_ r: ClaimRef) {
            object["task_id"] = .string(r.taskID)
            object["claim_token"] = .string(r.claimToken)
        }
    }
}
