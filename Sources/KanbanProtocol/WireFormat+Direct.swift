import KanbanModel

/// The replies every task sends (claim, complete with and without `claim_next`, block, release),
/// written field by field in sorted key order instead of building a `JSONValue` tree and sorting
/// its keys: the tree, its dictionaries and the sorts were about 150,000 instructions per task
/// (`kanban-bench --instructions`, 2026-12-02). The bytes are exactly `Reply.ok(WireFormat…)`'s;
/// `DirectReplyTests` compares them on random records.
extension Reply {
    /// `{"ok":true,"result":{"task":…}}`
    public static func okTask(_ t: TaskRecord) -> [UInt8] {
        ok { w in w.beginObject(); w.key("task"); WireFormat.writeTask(t, &w); w.endObject() }
    }

    /// `{"ok":true,"result":{"claim":…,"task":…}}`
    public static func okClaim(_ g: ClaimGrant) -> [UInt8] {
        ok { w in WireFormat.writeClaim(g, &w) }
    }

    /// `{"ok":true,"result":{"next":…,"task":…}}`: a completion with `claim_next`.
    public static func okCompleted(_ t: TaskRecord, next: ClaimGrant?) -> [UInt8] {
        ok { w in
            w.beginObject()
            w.key("next")
            if let next { WireFormat.writeClaim(next, &w) } else { w.beginObject(); w.key("claim"); w.null(); w.key("task"); w.null(); w.endObject() }
            w.key("task"); WireFormat.writeTask(t, &w)
            w.endObject()
        }
    }

    /// `{"ok":true,"result":…}` with the result written by `result`.
    private static func ok(_ result: (inout JSONWriter) -> Void) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject(); w.key("ok"); w.bool(true); w.key("result")
        result(&w)
        w.endObject()
        return w.out
    }
}

extension WireFormat {
    /// `task(t)`, in its sorted key order.
    static func writeTask(_ t: TaskRecord, _ w: inout JSONWriter) {
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
        if t.linksTruncated { w.key("links_truncated"); w.bool(true) }
        w.key("max_runtime_seconds"); w.int(t.maxRuntimeSeconds.map(Int64.init))
        w.key("parents"); w.strings(t.parents)
        w.key("priority"); w.int(Int64(t.priority))
        w.key("result"); w.string(t.result)
        w.key("started_at"); w.int(t.startedAt)
        w.key("status"); w.string(t.status.rawValue)
        w.key("tenant"); w.string(t.tenant)
        w.key("title"); w.string(t.title)
        w.endObject()
    }

    /// `claim(g)`, in its sorted key order.
    static func writeClaim(_ g: ClaimGrant, _ w: inout JSONWriter) {
        w.beginObject()
        w.key("claim")
        w.beginObject()
        w.key("lease_expires_at"); w.int(Lease.hermesSeconds(fromMs: g.leaseExpiresAtMs))
        w.key("lease_expires_at_ms"); w.int(g.leaseExpiresAtMs)
        w.key("run_id"); w.int(g.runID)
        w.key("token"); w.string(g.token)
        w.endObject()
        w.key("task"); writeTask(g.task, &w)
        w.endObject()
    }
}

extension WireFormat {
    /// `Reply.encode(event(e))`, field by field: every published event is written so.
    public static func eventBytes(_ e: BoardEvent) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("at"); w.int(e.atMs)
        w.key("data"); w.write(e.data)
        w.key("lane"); w.string(e.lane)
        w.key("run_id"); w.int(e.runID)
        w.key("seq"); w.int(e.seq)
        w.key("task_id"); w.string(e.taskID)
        w.key("type"); w.string(e.type)
        w.endObject()
        return w.out
    }
}
