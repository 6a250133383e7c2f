import KanbanModel
import KanbanStore

/// The `stats` reply: per-lane counts now, and throughput and claim latency over the window.
enum StatsReply {
    /// The events of runs that ended in failure (`RunOutcome.isFailure`: timed out, crashed, failed to
    /// spawn). Each failed run has exactly one of them; `gave_up` is not one: it follows the failure that
    /// reached the retry limit, so counting it too would count that run twice.
    static let failedRunKeys = RunOutcome.allCases.filter(\.isFailure).map(\.event.rawValue)
    /// Event types always reported in a lane's `window`, even at 0, so a client need not guess keys.
    static let windowKeys = ["claimed", "completed", "blocked", "released"] + failedRunKeys + [EventKind.gaveUp.rawValue]

    /// Runs of the lane that ended in failure in the window: `stats`' FAILED.
    static func failedRuns(_ window: [String: Int]) -> Int { failedRunKeys.reduce(0) { $0 + (window[$1] ?? 0) } }

    static func wire(_ stats: BoardStats, windowSeconds: Int, health: BoardHealth = BoardHealth()) -> JSONValue {
        var allLatencies: [Int64] = []
        var claimed = 0, completed = 0
        let lanes: [JSONValue] = stats.lanes.map { lane in
            var window = lane.window
            for key in windowKeys where window[key] == nil { window[key] = 0 }
            allLatencies += lane.claimLatenciesMs
            claimed += window["claimed"] ?? 0
            completed += window["completed"] ?? 0
            return [
                "lane": .string(lane.lane),
                "registered": .bool(lane.registered),
                "max_concurrency": lane.maxConcurrency.map { .int(Int64($0)) } ?? .null,
                "running": .int(Int64(lane.running)),
                "tasks": .object(lane.tasks.mapValues { .int(Int64($0)) }),
                "window": .object(window.mapValues { .int(Int64($0)) }),
                "failed_runs": .int(Int64(failedRuns(window))),
                "throughput_per_min": perMinute(window["completed"] ?? 0, windowSeconds),
                "claim_latency_ms": latency(lane.claimLatenciesMs),
            ]
        }
        allLatencies.sort()
        return [
            "window_seconds": .int(Int64(windowSeconds)),
            "since_ms": .int(stats.sinceMs),
            "now_ms": .int(stats.nowMs),
            "events_scanned": .int(Int64(stats.eventsScanned)),
            "lanes": .array(lanes),
            "board": board(health),
            "totals": [
                "claimed": .int(Int64(claimed)),
                "completed": .int(Int64(completed)),
                "throughput_per_min": perMinute(completed, windowSeconds),
                "claim_latency_ms": latency(allLatencies),
            ],
        ]
    }

    /// The board's consistency: `integrity` is `ok`, `problems`, `pending` (the background check runs),
    /// `not_checked` or `failed`; `inconsistencies` counts writes the board contradicted since start;
    /// `quarantined` lists the tasks claims step over until the board is repaired (issue #19, finding 3).
    static func board(_ h: BoardHealth) -> JSONValue {
        var out: [String: JSONValue] = [
            "inconsistencies": .int(Int64(h.inconsistencies)),
            "quarantined": .array(h.quarantined.map { .string($0) }),
        ]
        switch h.integrity {
        case .notChecked: out["integrity"] = "not_checked"
        case .pending: out["integrity"] = "pending"
        case .ok: out["integrity"] = "ok"
        case .problems(let count, let first):
            out["integrity"] = "problems"
            out["integrity_problems"] = .int(Int64(count))
            out["integrity_findings"] = .array(first.map { .string($0) })
        case .failed(let why):
            out["integrity"] = "failed"
            out["integrity_error"] = .string(why)
        }
        return .object(out)
    }

    static func perMinute(_ count: Int, _ windowSeconds: Int) -> JSONValue {
        .double((Double(count) * 60 / Double(max(1, windowSeconds)) * 1000).rounded() / 1000)
    }

    /// The `q` quantile (0...1) of non-empty sorted samples, by nearest rank: a value that occurred.
    static func nearestRank(_ sorted: [Int64], _ q: Double) -> Int64 {
        sorted[Swift.min(sorted.count - 1, Swift.max(0, Int((Double(sorted.count) * q).rounded(.up)) - 1))]
    }

    /// count, mean, p50, p90, p99 and max of sorted samples; null when there are none.
    static func latency(_ sorted: [Int64]) -> JSONValue {
        guard let max = sorted.last else { return .null }
        func pct(_ p: Double) -> JSONValue { .int(nearestRank(sorted, p)) }
        return ["count": .int(Int64(sorted.count)), "mean": .int(sorted.reduce(0, +) / Int64(sorted.count)),
                "p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": .int(max)]
    }
}
