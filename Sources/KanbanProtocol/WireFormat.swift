import KanbanModel

/// How domain records look on the wire: each shape written once, here, in byte order of its keys,
/// for either writer (`WireWriter`). One place, so the CLI, docs, clients and the hot path agree.
public enum WireFormat {
    // MARK: Shapes

    /// A task; with `runs` (`task.get`), its runs too.
    public static func writeTask<W: WireWriter>(_ t: TaskRecord, runs: [RunRecord]? = nil, _ w: inout W) {
        w.beginObject()
        w.key("assignee"); w.string(t.assignee)
        w.key("body"); w.string(t.body)
        w.key("children"); w.strings(t.children)
        w.key("claim_expires"); w.int(t.claimExpires)
        w.key("claim_lock"); w.string(t.claimLock)
        w.key("completed_at"); w.int(t.completedAt)
        w.key("created_at"); w.int(t.createdAt)
        w.key("current_run_id"); w.int(t.currentRunID)
        w.key("id"); w.string(t.id)
        w.key("idempotency_key"); w.string(t.idempotencyKey)
        w.key("last_heartbeat_at"); w.int(t.lastHeartbeatAt)
        // Only when it is so: every other reply stays as it was.
        if t.linksTruncated { w.key("links_truncated"); w.bool(true) }
        w.key("max_runtime_seconds"); w.int(t.maxRuntimeSeconds.map(Int64.init))
        w.key("parents"); w.strings(t.parents)
        w.key("priority"); w.int(Int64(t.priority))
        w.key("result"); w.string(t.result)
        if let runs { w.key("runs"); w.array(runs) { w, r in writeRun(r, &w) } }
        w.key("started_at"); w.int(t.startedAt)
        w.key("status"); w.string(t.status.rawValue)
        w.key("tenant"); w.string(t.tenant)
        w.key("title"); w.string(t.title)
        w.endObject()
    }

    public static func writeRun<W: WireWriter>(_ r: RunRecord, _ w: inout W) {
        w.beginObject()
        w.key("claim_lock"); w.string(r.claimLock)
        w.key("ended_at"); w.int(r.endedAt)
        w.key("error"); w.string(r.error)
        w.key("id"); w.int(r.id)
        w.key("lane"); w.string(r.lane)
        w.key("outcome"); w.string(r.outcome)
        w.key("profile"); w.string(r.profile)
        w.key("started_at"); w.int(r.startedAt)
        w.key("status"); w.string(r.status)
        w.key("summary"); w.string(r.summary)
        w.key("task_id"); w.string(r.taskID)
        w.endObject()
    }

    public static func writeLane<W: WireWriter>(_ s: LaneSummary, _ w: inout W) {
        let l = s.lane
        w.beginObject()
        w.key("allowed_status_mutations"); w.string(l.allowedStatusMutations.rawValue)
        w.key("claim_mode"); w.string(l.claimMode.rawValue)
        w.key("claims")
        w.array(s.claims) { w, c in
            w.beginObject()
            w.key("claimed_at_ms"); w.int(c.claimedAtMs)
            w.key("last_heartbeat_at"); w.int(c.lastHeartbeatAt)
            w.key("lease_expires_at_ms"); w.int(c.leaseExpiresAtMs)
            w.key("lease_ms"); w.int(c.leaseMs)
            w.key("run_id"); w.int(c.runID)
            w.key("task_id"); w.string(c.taskID)
            w.endObject()
        }
        w.key("command"); if let command = l.command { w.strings(command) } else { w.null() }
        w.key("created_at"); w.int(l.createdAt)
        w.key("curve_public_key"); w.string(l.curvePublicKey)
        w.key("keep_workspaces"); w.bool(l.keepWorkspaces)
        w.key("kind"); w.string(l.kind.rawValue)
        w.key("lease_seconds"); w.int(l.leaseSeconds.map(Int64.init))
        w.key("max_concurrency"); w.int(Int64(l.maxConcurrency))
        w.key("max_runtime_seconds"); w.int(l.maxRuntimeSeconds.map(Int64.init))
        // What the lane's runs do to their profile's memory, and whether that is the lane's own
        // setting or follows its max_concurrency.
        w.key("memory"); w.string(l.memoryMode.rawValue)
        w.key("memory_default"); w.bool(l.memory == nil)
        w.key("memory_owner"); w.string(l.memoryOwner)
        w.key("name"); w.string(l.name)
        w.key("oldest_queued_at"); w.int(s.oldestQueuedAt)
        w.key("profile"); w.string(l.profile)
        w.key("queued"); w.int(Int64(s.queued))
        w.key("repo"); w.string(l.repo)
        w.key("running"); w.int(Int64(s.running))
        w.key("updated_at"); w.int(l.updatedAt)
        w.key("workspace_policy"); w.string(l.workspacePolicy.rawValue)
        w.endObject()
    }

    /// A granted claim: `{"claim": {…, "token": …}, "task": …}`.
    public static func writeClaim<W: WireWriter>(_ g: ClaimGrant, _ w: inout W) {
        w.beginObject()
        w.key("claim")
        w.beginObject()
        w.key("lease_expires_at"); w.int(Lease.hermesSeconds(fromMs: g.leaseExpiresAtMs))
        w.key("lease_expires_at_ms"); w.int(g.leaseExpiresAtMs)
        w.key("run_id"); w.int(g.runID)
        w.key("token"); w.token(g.token)
        w.endObject()
        w.key("task"); writeTask(g.task, &w)
        w.endObject()
    }

    /// A `complete` with `claim_next`: the task, and the lane's next claim (both null if none).
    public static func writeCompleted<W: WireWriter>(_ t: TaskRecord, next: ClaimGrant?, _ w: inout W) {
        w.beginObject()
        w.key("next")
        if let next { writeClaim(next, &w) } else { w.beginObject(); w.key("claim"); w.null(); w.key("task"); w.null(); w.endObject() }
        w.key("task"); writeTask(t, &w)
        w.endObject()
    }

    /// `lane.register`'s result: the lane and its new token.
    public static func writeRegistered<W: WireWriter>(_ s: LaneSummary, token: String, _ w: inout W) {
        w.beginObject()
        w.key("lane"); writeLane(s, &w)
        w.key("token"); w.token(token)
        w.endObject()
    }

    /// `lane.rotate-token`'s result: the lane's name and its new token.
    public static func writeRotated<W: WireWriter>(lane: String, token: String, _ w: inout W) {
        w.beginObject()
        w.key("lane"); w.string(lane)
        w.key("token"); w.token(token)
        w.endObject()
    }

    public static func writeEvent<W: WireWriter>(_ e: BoardEvent, _ w: inout W) {
        w.beginObject()
        w.key("at"); w.int(e.atMs)
        w.key("data"); w.write(e.data)
        w.key("lane"); w.string(e.lane)
        w.key("run_id"); w.int(e.runID)
        w.key("seq"); w.int(e.seq)
        w.key("task_id"); w.string(e.taskID)
        w.key("type"); w.string(e.type)
        w.endObject()
    }

    // MARK: As values (for results that are added to, or listed)

    public static func task(_ t: TaskRecord) -> JSONValue { JSONTreeWriter.value { writeTask(t, &$0) } }
    public static func run(_ r: RunRecord) -> JSONValue { JSONTreeWriter.value { writeRun(r, &$0) } }
    public static func taskDetail(_ d: TaskDetail) -> JSONValue { JSONTreeWriter.value { writeTask(d.task, runs: d.runs, &$0) } }
    public static func lane(_ s: LaneSummary) -> JSONValue { JSONTreeWriter.value { writeLane(s, &$0) } }
    public static func claim(_ g: ClaimGrant) -> JSONValue { JSONTreeWriter.value { writeClaim(g, &$0) } }
    public static func event(_ e: BoardEvent) -> JSONValue { JSONTreeWriter.value { writeEvent(e, &$0) } }
    public static func registered(_ s: LaneSummary, token: String) -> JSONValue {
        JSONTreeWriter.value { writeRegistered(s, token: token, &$0) }
    }
    public static func rotated(lane: String, token: String) -> JSONValue {
        JSONTreeWriter.value { writeRotated(lane: lane, token: token, &$0) }
    }

    /// An event as the frame the event socket publishes: every published event is written so.
    public static func eventBytes(_ e: BoardEvent) -> [UInt8] {
        var w = JSONWriter()
        writeEvent(e, &w)
        return w.out
    }

    // MARK: Where tokens are

    /// The key paths under a reply's `result` where a token may be: read off the shapes above (each
    /// writes its token with `token(_:)`), written once with sample records. A reply stored for
    /// `request_id` retries keeps placeholders at these paths (`StoredReply`), so a new shape that
    /// carries a token is redacted without anyone listing it again.
    public static let tokenPaths: [[String]] = {
        let task = TaskRecord(id: "t", title: "t", status: .ready, createdAt: 0)
        let grant = ClaimGrant(task: task, token: "ct_", runID: 0, leaseExpiresAtMs: 0)
        let lane = LaneSummary(lane: Lane(name: "l"), running: 0, queued: 0, oldestQueuedAt: nil, claims: [])
        var paths: [[String]] = []
        for shape: (inout JSONTreeWriter) -> Void in [
            { writeTask(task, runs: [], &$0) }, { writeLane(lane, &$0) }, { writeClaim(grant, &$0) },
            { writeCompleted(task, next: grant, &$0) }, { writeRegistered(lane, token: "lt_", &$0) },
            { writeRotated(lane: "l", token: "lt_", &$0) },
        ] {
            var w = JSONTreeWriter()
            shape(&w)
            for path in w.tokenPaths where !paths.contains(path) { paths.append(path) }
        }
        return paths
    }()
}
