import KanbanModel

/// `GET /api/lanes`: the wire's `lane.list` with what a person looking for trouble needs spelled
/// out: each lane's `stuck` slots and the unregistered names' unclaimable work. Pure.
enum LaneBoard {
    /// `lanes` (with `parked` and `stuck`), `unregistered` (with `stuck`), `hermes_caps` and `now_ms`.
    /// `nowMs` is the coordinator's clock (ping's `now_ms`): leases run on it, not on ours.
    static func render(laneList: JSONValue, nowMs: Int64, hermesCaps: JSONValue) -> JSONValue {
        let lanes = (laneList["lanes"]?.arrayValue ?? []).map { lane -> JSONValue in
            guard case .object(var o) = lane else { return lane }
            if o["parked"] == nil { o["parked"] = 0 }  // a coordinator older than the `parked` count
            o["stuck"] = .array(stuck(lane: lane, nowMs: nowMs))
            return .object(o)
        }
        let unregistered = (laneList["unregistered"]?.arrayValue ?? []).map { entry -> JSONValue in
            guard case .object(var o) = entry else { return entry }
            let since = (entry["oldest_queued_at"]?.intValue).map { $0 * 1000 }
            o["stuck"] = [[
                "kind": "unclaimable", "task_id": .null, "since_ms": since.map { .int($0) } ?? .null,
                "detail": .string("\(entry["queued"]?.intValue ?? 0) ready task(s) assigned to '\(entry["assignee"]?.stringValue ?? "?")', which no lane serves"),
            ]]
            return .object(o)
        }
        return ["lanes": .array(lanes), "unregistered": .array(unregistered), "hermes_caps": hermesCaps, "now_ms": .int(nowMs)]
    }

    /// A lane's stuck slots:
    /// - `lease_expiring`: under a third of the lease left and no heartbeat in the last third of it;
    /// - `over_runtime`: a claim older than the lane's `max_runtime_seconds` (spawned runs are stopped
    ///   at that age, so one still live is stuck in being stopped or in its workspace).
    static func stuck(lane: JSONValue, nowMs: Int64) -> [JSONValue] {
        var out: [JSONValue] = []
        let maxRuntimeMs = lane["max_runtime_seconds"]?.intValue.map { $0 * 1000 }
        for claim in lane["claims"]?.arrayValue ?? [] {
            guard let task = claim["task_id"]?.stringValue, let leaseMs = claim["lease_ms"]?.intValue,
                  let expires = claim["lease_expires_at_ms"]?.intValue, let claimedAt = claim["claimed_at_ms"]?.intValue else { continue }
            let third = leaseMs / 3
            let lastBeatMs = claim["last_heartbeat_at"]?.intValue.map { $0 * 1000 } ?? claimedAt
            if expires - nowMs < third && nowMs - lastBeatMs > third {
                out.append(["kind": "lease_expiring", "task_id": .string(task), "since_ms": .int(expires - third),
                            "detail": .string("lease ends in \(max(0, expires - nowMs) / 1000) s; last heartbeat \((nowMs - lastBeatMs) / 1000) s ago")])
            }
            if let maxRuntimeMs, nowMs - claimedAt > maxRuntimeMs {
                out.append(["kind": "over_runtime", "task_id": .string(task), "since_ms": .int(claimedAt + maxRuntimeMs),
                            "detail": .string("running \((nowMs - claimedAt) / 1000) s, over max_runtime_seconds \(maxRuntimeMs / 1000)")])
            }
        }
        return out
    }
}
