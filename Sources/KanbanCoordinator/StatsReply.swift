import KanbanModel
import KanbanStore

/// The `stats` reply: per-lane counts now, and throughput and claim latency over the window.
enum StatsReply {
    /// Event types always reported in a lane's `window`, even at 0, so a client need not guess keys.
    static let windowKeys = ["claimed", "completed", "blocked", "released", "timed_out", "gave_up"]

    static func wire(_ stats: BoardStats, windowSeconds: Int) -> JSONValue {
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
            "totals": [
                "claimed": .int(Int64(claimed)),
                "completed": .int(Int64(completed)),
                "throughput_per_min": perMinute(completed, windowSeconds),
                "claim_latency_ms": latency(allLatencies),
            ],
        ]
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
