import GRDB
import KanbanModel

/// One lane's numbers for `stats`: the board now, and what happened in the window.
public struct LaneStats: Sendable, Equatable {
    /// The assignee; `_` for tasks with no assignee.
    public var lane: String
    public var registered: Bool
    public var maxConcurrency: Int?
    /// Live claims now.
    public var running: Int = 0
    /// Tasks by Hermes status now.
    public var tasks: [String: Int] = [:]
    /// Events in the window, by type (claimed, completed, blocked, released, timed_out, gave_up, …).
    public var window: [String: Int] = [:]
    /// Claim latencies in the window, in ms: from the moment a task last became claimable (created
    /// ready, promoted, released, expired, unblocked, backoff over) to its claim. Sorted.
    public var claimLatenciesMs: [Int64] = []

    public init(lane: String, registered: Bool, maxConcurrency: Int?) {
        self.lane = lane; self.registered = registered; self.maxConcurrency = maxConcurrency
    }
}

/// The whole board's numbers for `stats`.
public struct BoardStats: Sendable, Equatable {
    public var sinceMs: Int64
    public var nowMs: Int64
    /// Events read for the window (capped at `eventCap`; the window then starts later).
    public var eventsScanned: Int
    public var lanes: [LaneStats]

    public init(sinceMs: Int64, nowMs: Int64, eventsScanned: Int, lanes: [LaneStats]) {
        self.sinceMs = sinceMs; self.nowMs = nowMs; self.eventsScanned = eventsScanned; self.lanes = lanes
    }
}

extension SQLiteBoard {
    /// Most events one `stats` call reads, so a huge window cannot stall the coordinator's thread.
    public static let statsEventCap = 200_000

    /// Event types after which a task is claimable again: where claim latency starts.
    static let becameClaimable: Set<String> = [
        "created", "promoted", "released", "timed_out", "crashed", "spawn_failed", "reclaimed", "unblocked", "available", "assigned",
    ]

    public func stats(sinceMs: Int64, nowMs: Int64) throws -> BoardStats {
        try read { db in
            var lanes: [String: LaneStats] = [:]
            func entry(_ name: String?) -> LaneStats {
                lanes[name ?? "_"] ?? LaneStats(lane: name ?? "_", registered: false, maxConcurrency: nil)
            }
            for row in try Row.fetchAll(db, sql: "SELECT name, max_concurrency FROM bridge_lanes") {
                let name: String = row["name"]
                lanes[name] = LaneStats(lane: name, registered: true, maxConcurrency: row["max_concurrency"])
            }
            for row in try Row.fetchAll(db, sql: "SELECT assignee, status, COUNT(*) AS n FROM tasks GROUP BY assignee, status") {
                let name: String? = row["assignee"]
                var s = entry(name)
                s.tasks[row["status"], default: 0] += row["n"] as Int
                lanes[s.lane] = s
            }
            for row in try Row.fetchAll(db, sql: "SELECT lane, COUNT(*) AS n FROM bridge_claims WHERE ended_at_ms IS NULL GROUP BY lane") {
                var s = entry(row["lane"])
                s.running = row["n"]
                lanes[s.lane] = s
            }
            let first = try Self.firstSeq(db, atOrAfterMs: sinceMs)
            let rows = try Row.fetchAll(db, sql: """
                SELECT type, task_id, lane, at_ms FROM bridge_events WHERE seq >= ? ORDER BY seq DESC LIMIT ?
                """, arguments: [first, Self.statsEventCap]).reversed()
            var claimableSince: [String: Int64] = [:]
            for row in rows {
                let type: String = row["type"], at: Int64 = row["at_ms"]
                let task: String? = row["task_id"]
                var s = entry(row["lane"])
                s.window[type, default: 0] += 1
                if let task {
                    if Self.becameClaimable.contains(type) {
                        claimableSince[task] = at
                    } else if type == "claimed", let since = claimableSince.removeValue(forKey: task) {
                        s.claimLatenciesMs.append(max(0, at - since))
                    }
                }
                lanes[s.lane] = s
            }
            let sorted = lanes.values.sorted { $0.lane < $1.lane }.map { lane -> LaneStats in
                var l = lane
                l.claimLatenciesMs.sort()
                return l
            }
            return BoardStats(sinceMs: sinceMs, nowMs: nowMs, eventsScanned: rows.count, lanes: sorted)
        }
    }

    /// The first event `seq` at or after `ms`, by binary search over the primary key: events are
    /// appended in time order, so this is O(log n) point reads instead of a scan of the whole log.
    static func firstSeq(_ db: Database, atOrAfterMs ms: Int64) throws -> Int64 {
        guard var high = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM bridge_events") else { return 1 }
        var low = try Int64.fetchOne(db, sql: "SELECT MIN(seq) FROM bridge_events") ?? 1
        high += 1  // one past the end: "nothing in the window"
        while low < high {
            let mid = low + (high - low) / 2
            // seq may have holes (AUTOINCREMENT after a rollback): read the nearest row at or after mid.
            let at = try Int64.fetchOne(db, sql: "SELECT at_ms FROM bridge_events WHERE seq >= ? ORDER BY seq LIMIT 1", arguments: [mid])
            if let at, at < ms { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
