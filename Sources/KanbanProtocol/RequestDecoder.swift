import KanbanModel

/// Limits on what a request may be. Everything past them is refused before any work is done.
public struct DecodeLimits: Sendable {
    /// Largest request frame answered with a reply (bigger ones get `too_large`).
    public var maxRequestBytes: Int
    /// Deepest JSON nesting accepted (the envelope is depth 1).
    public var maxDepth: Int
    /// Largest frame parsed without a valid credential: a `ping` needs a few dozen bytes, and a
    /// stranger's megabyte must not be parsed (four 1 MB ping floods once took the RSS to 165 MB).
    public static let maxUnauthenticatedBytes = 4096

    public init(maxRequestBytes: Int = 1 << 20, maxDepth: Int = 32) {
        self.maxRequestBytes = maxRequestBytes
        self.maxDepth = maxDepth
    }
}

/// Turns one request frame into a typed `DecodedRequest`, or a `WireError` that says exactly what is wrong.
public struct RequestDecoder: Sendable {
    public var limits: DecodeLimits
    public init(limits: DecodeLimits = DecodeLimits()) { self.limits = limits }

    /// Reads a frame once (`ScannedRequest`): its fields' places, and `op` and `auth` for the
    /// credential check before anything is parsed. A frame over `maxRequestBytes` is not read.
    public func scan(_ frame: [UInt8]) -> ScannedRequest {
        ScannedRequest(frame: frame, maxBytes: limits.maxRequestBytes)
    }

    /// Decodes and validates a frame. Never traps, whatever the bytes.
    public func decode(_ frame: [UInt8]) throws(WireError) -> DecodedRequest {
        try decode(scan(frame))
    }

    /// Types a scanned frame: each field is parsed from its place in the frame as it is read.
    public func decode(_ scanned: ScannedRequest) throws(WireError) -> DecodedRequest {
        guard scanned.size <= limits.maxRequestBytes else {
            throw WireError(.tooLarge, "request is \(scanned.size) bytes; the limit is \(limits.maxRequestBytes)")
        }
        do {
            return try typed(scanned)
        } catch {
            // Bytes that are not a JSON object are explained as such, whatever else is wrong: the
            // scan reads only the structure and the values a request uses, so a refused frame is
            // checked whole here, off the path of requests that are answered.
            throw Self.malformation(scanned.frame, maxDepth: limits.maxDepth) ?? error
        }
    }

    private func typed(_ scanned: ScannedRequest) throws(WireError) -> DecodedRequest {
        guard let scannedFields = scanned.fields else { throw WireError(.badRequest, "request is not valid JSON") }
        if scanned.depth > limits.maxDepth { throw WireError(.badRequest, "JSON nested deeper than \(limits.maxDepth) levels") }
        if scanned.tooManyFields {
            throw WireError(.badRequest, "a request has at most \(ScannedRequest.maxFields) fields")
        }
        var fields = Fields(scanned, scannedFields)
        let op = try fields.requiredString("op", maxLength: 64)
        let auth = try fields.optionalString("auth", maxLength: 256)
        let requestID = try fields.optionalString("request_id", maxLength: 128)
        let timeoutMs = try fields.optionalInt("timeout_ms", range: 0...3_600_000)
        let request = try Self.decodeOp(op, &fields)
        try fields.rejectUnknown(op: op)
        return DecodedRequest(op: op, auth: auth, requestID: requestID, request: request, timeoutMs: timeoutMs)
    }

    /// What makes `frame` not a JSON object, checked in the order the decoder always checked it; nil
    /// when it is one.
    static func malformation(_ frame: [UInt8], maxDepth: Int) -> WireError? {
        guard String(validating: frame, as: UTF8.self) != nil else {
            return WireError(.badRequest, "request is not valid UTF-8")
        }
        // Nesting before the recursive reader sees it, so hostile depth costs a linear scan.
        if let depth = nestingDepth(frame), depth > maxDepth {
            return WireError(.badRequest, "JSON nested deeper than \(maxDepth) levels")
        }
        guard let value = JSONCodec.decode(frame) else {
            return WireError(.badRequest, "request is not valid JSON")
        }
        guard case .object = value else {
            return WireError(.badRequest, "request must be a JSON object")
        }
        return nil
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    static func decodeOp(_ op: String, _ f: inout Fields) throws(WireError) -> Request {
        guard let name = Op(rawValue: op) else { throw WireError(.unknownOp, "unknown op \(Fields.quotedIfName(op))") }
        // No default: a new op does not compile until it is decoded here.
        switch name {
        case .ping:
            return .ping
        case .laneRegister:
            let name = try f.laneName("name")
            var lane = Lane(name: name)
            lane.kind = try f.optionalEnum("kind", LaneKind.self) ?? .persistent
            lane.claimMode = try f.optionalEnum("claim_mode", ClaimMode.self) ?? .pullOrWatch
            lane.maxConcurrency = try f.optionalInt("max_concurrency", range: 1...1024) ?? 1
            lane.leaseSeconds = try f.optionalInt("lease_seconds", range: 1...Lease.maxSeconds)
            lane.allowedStatusMutations = try f.optionalEnum("allowed_status_mutations", StatusMutationPolicy.self) ?? .ownClaimedOnly
            lane.command = try f.optionalStringArray("command")
            lane.profile = try f.optionalProfile("profile")
            lane.workspacePolicy = try f.optionalEnum("workspace_policy", WorkspacePolicy.self) ?? .none
            lane.repo = try f.optionalRepo("repo")
            lane.maxRuntimeSeconds = try f.optionalInt("max_runtime_seconds", range: 1...7 * 86_400)
            lane.keepWorkspaces = try f.optionalBool("keep_workspaces") ?? false
            lane.curvePublicKey = try f.optionalCurveKey("curve_public_key", allowEmpty: false)
            lane.memory = try f.optionalEnum("memory", MemoryMode.self)
            lane.memoryOwner = try f.optionalLaneOrNone("memory_owner").flatMap { $0 == "_" ? nil : $0 }
            if lane.memory != nil || lane.memoryOwner != nil, lane.profile == nil || !lane.kind.isSpawned {
                throw WireError(.badRequest, "memory and memory_owner apply to spawn and pool lanes of a Hermes profile: set profile (and kind spawn or pool)")
            }
            return .laneRegister(LaneSpec(lane: lane))
        case .laneUpdate:
            let name = try f.laneName("name")
            var p = LanePatch()
            p.kind = try f.optionalEnum("kind", LaneKind.self)
            p.claimMode = try f.optionalEnum("claim_mode", ClaimMode.self)
            p.maxConcurrency = try f.optionalInt("max_concurrency", range: 1...1024)
            p.leaseSeconds = try f.optionalInt("lease_seconds", range: 1...Lease.maxSeconds)
            p.allowedStatusMutations = try f.optionalEnum("allowed_status_mutations", StatusMutationPolicy.self)
            p.command = try f.optionalStringArray("command")
            p.profile = try f.optionalProfile("profile")
            p.workspacePolicy = try f.optionalEnum("workspace_policy", WorkspacePolicy.self)
            p.repo = try f.optionalRepo("repo")
            p.maxRuntimeSeconds = try f.optionalInt("max_runtime_seconds", range: 1...7 * 86_400)
            p.keepWorkspaces = try f.optionalBool("keep_workspaces")
            p.curvePublicKey = try f.optionalCurveKey("curve_public_key", allowEmpty: true)
            p.memory = try f.optionalEnum("memory", MemoryMode.self)
            // "_" removes the owner ("" is no lane name).
            p.memoryOwner = try f.optionalLaneOrNone("memory_owner").map { $0 == "_" ? "" : $0 }
            return .laneUpdate(name: name, p)
        case .laneList:
            return .laneList
        case .laneGet:
            return .laneGet(name: try f.laneName("name"))
        case .laneRemove:
            return .laneRemove(name: try f.laneName("name"))
        case .laneRotateToken:
            return .laneRotateToken(name: try f.laneName("name"))
        case .taskCreate:
            let title = try f.requiredString("title", maxLength: 1024)
            guard !title.allSatisfy(\.isWhitespace) else { throw WireError(.badRequest, "'title' must not be blank") }
            let assignee = try f.optionalAssignee("assignee")
            return .taskCreate(TaskSpec(
                title: title,
                body: try f.optionalString("body", maxLength: 256 * 1024),
                assignee: assignee,
                priority: try f.optionalInt("priority", range: -1_000_000...1_000_000) ?? 0,
                parents: try f.optionalTaskIDs("parents") ?? [],
                idempotencyKey: try f.optionalString("idempotency_key", maxLength: 256),
                tenant: try f.optionalString("tenant", maxLength: 256)))
        case .taskGet:
            return .taskGet(taskID: try f.taskID("task_id"))
        case .taskList:
            return .taskList(status: try f.optionalEnum("status", TaskStatus.self),
                             assignee: try f.optionalAssignee("assignee"),
                             limit: try f.optionalInt("limit", range: 1...10_000) ?? 500)
        case .taskLog:
            return .taskLog(taskID: try f.taskID("task_id"),
                            maxBytes: try f.optionalInt("max_bytes", range: 1...Request.maxLogTailBytes) ?? Request.maxLogTailBytes)
        case .taskAssign:
            let id = try f.taskID("task_id")
            return .taskAssign(taskID: id, assignee: try f.optionalAssignee("assignee"))
        case .taskLink:
            return .taskLink(parent: try f.taskID("parent_id"), child: try f.taskID("child_id"))
        case .taskReclaim:
            return .taskReclaim(taskID: try f.taskID("task_id"), reason: try f.optionalString("reason", maxLength: 64 * 1024))
        case .taskUnblock:
            return .taskUnblock(taskID: try f.taskID("task_id"))
        case .workspacePrune:
            return .workspacePrune(lane: try f.optionalLaneOrNone("lane"))
        case .claim:
            return .claim(ClaimRequest(
                lane: try f.laneName("lane"),
                taskID: try f.optionalTaskID("task_id"),
                leaseSeconds: try f.optionalInt("lease_seconds", range: 1...Lease.maxSeconds),
                waitMs: try f.optionalInt("wait_ms", range: 0...3_600_000) ?? 0))
        case .heartbeat:
            return .heartbeat(try f.claimRef(), note: try f.optionalString("note", maxLength: 4096),
                              metadata: try f.optionalObject("metadata", maxBytes: 4096))
        case .complete:
            return .complete(try f.claimRef(), result: try f.optionalString("result", maxLength: 256 * 1024),
                             summary: try f.optionalString("summary", maxLength: 64 * 1024),
                             metadata: try f.optionalObject("metadata", maxBytes: 16 * 1024),
                             claimNext: try f.optionalBool("claim_next") ?? false)
        case .block:
            return .block(try f.claimRef(), reason: try f.optionalString("reason", maxLength: 64 * 1024),
                          kind: try f.optionalString("kind", maxLength: 64))
        case .release:
            return .release(try f.claimRef(), reason: try f.optionalString("reason", maxLength: 64 * 1024),
                            retryAfterSeconds: try f.optionalInt("retry_after_seconds", range: 1...86_400))
        case .fail:
            return .fail(try f.claimRef(), reason: try f.optionalString("reason", maxLength: 64 * 1024),
                         exitCode: try f.optionalInt("exit_code", range: -1...255),
                         signal: try f.optionalInt("signal", range: 1...128))
        case .logAppend:
            guard let chunk = try f.optionalString("chunk", maxLength: Request.maxLogChunkBytes) else {
                throw WireError(.badRequest, "log.append needs 'chunk' (a string of at most \(Request.maxLogChunkBytes) bytes)")
            }
            return .logAppend(try f.claimRef(), chunk: chunk)
        case .runnerReport:
            let running = try f.optionalStringArray("running") ?? []
            return .runnerReport(RunnerReport(
                lane: try f.laneName("lane"), runnerID: try f.requiredString("runner_id", maxLength: 256),
                host: try f.requiredString("host", maxLength: 256), pid: try f.optionalInt("pid", range: 0...Int(Int32.max)) ?? 0,
                slots: try f.optionalInt("slots", range: 0...10_000) ?? 0, running: running,
                version: try f.optionalString("version", maxLength: 64)))
        case .events:
            return .events(since: Int64(try f.optionalInt("since", range: 0...Int.max) ?? 0),
                           limit: try f.optionalInt("limit", range: 1...10_000) ?? 1000,
                           lane: try f.optionalLaneOrNone("lane"))
        case .stats:
            return .stats(windowSeconds: try f.optionalInt("window_seconds", range: 1...7 * 86_400) ?? 3600)
        }
    }

    /// Maximum bracket nesting outside strings, or nil if the scan finds nothing odd to report.
    static func nestingDepth(_ bytes: [UInt8]) -> Int? {
        var depth = 0, maxDepth = 0, inString = false, escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                continue
            }
            switch b {
            case 0x22: inString = true
            case 0x5B, 0x7B: depth += 1; maxDepth = max(maxDepth, depth)
            case 0x5D, 0x7D: depth -= 1
            default: break
            }
        }
        return maxDepth
    }
}
