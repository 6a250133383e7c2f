import Foundation
import KanbanStore

/// The board and the coordinator as Prometheus text exposition format (version 0.0.4). Pure.
enum PrometheusText {
    /// Renders `stats` (the board now, claim latencies over its window), the events published since
    /// the coordinator started by lane and type, and the last published `seq`.
    static func render(_ stats: BoardStats, windowSeconds: Int, eventsPublished: [EventKey: Int], lastSeq: Int64,
                       health: BoardHealth = BoardHealth()) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
            let l = labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
            out += labels.isEmpty ? "\(name) \(value)\n" : "\(name){\(l)} \(value)\n"
        }
        let lanes = stats.lanes.sorted { $0.lane < $1.lane }

        family("kanban_lane_running", "gauge", "Live claims of the lane.")
        for lane in lanes where lane.registered { sample("kanban_lane_running", [("lane", lane.lane)], "\(lane.running)") }
        family("kanban_lane_max_concurrency", "gauge", "Most tasks the lane may hold at once.")
        for lane in lanes { if let max = lane.maxConcurrency { sample("kanban_lane_max_concurrency", [("lane", lane.lane)], "\(max)") } }
        family("kanban_tasks", "gauge", "Tasks on the board by assignee ('_' for none) and Hermes status.")
        for lane in lanes {
            for (status, n) in lane.tasks.sorted(by: { $0.key < $1.key }) { sample("kanban_tasks", [("lane", lane.lane), ("status", status)], "\(n)") }
        }
        family("kanban_events_total", "counter", "Events published since the coordinator started, by lane and type.")
        for (key, n) in eventsPublished.sorted(by: { ($0.key.lane, $0.key.type) < ($1.key.lane, $1.key.type) }) {
            sample("kanban_events_total", [("lane", key.lane), ("type", key.type)], "\(n)")
        }
        family("kanban_event_seq", "gauge", "The seq of the last published event.")
        sample("kanban_event_seq", [], "\(lastSeq)")
        family("kanban_claim_latency_seconds", "summary",
               "Time from a task becoming claimable to its claim, over the last \(windowSeconds) s.")
        for lane in lanes where !lane.claimLatenciesMs.isEmpty {
            let sorted = lane.claimLatenciesMs
            for q in [0.5, 0.9, 0.99] {
                sample("kanban_claim_latency_seconds", [("lane", lane.lane), ("quantile", "\(q)")],
                       seconds(StatsReply.nearestRank(sorted, q)))
            }
            sample("kanban_claim_latency_seconds_sum", [("lane", lane.lane)], seconds(sorted.reduce(0, +)))
            sample("kanban_claim_latency_seconds_count", [("lane", lane.lane)], "\(sorted.count)")
        }
        family("kanban_board_inconsistencies_total", "counter",
               "Writes whose guard failed right after a snapshot said it held: the board contradicts itself (a damaged index).")
        sample("kanban_board_inconsistencies_total", [], "\(health.inconsistencies)")
        family("kanban_board_quarantined_tasks", "gauge", "Tasks claims step over until the board is repaired.")
        sample("kanban_board_quarantined_tasks", [], "\(health.quarantined.count)")
        family("kanban_board_integrity_problems", "gauge",
               "Findings of the background PRAGMA integrity_check (0: ok; -1: pending, not run or failed).")
        var problems = -1
        if case .problems(let count, _) = health.integrity { problems = count } else if health.integrity == .ok { problems = 0 }
        sample("kanban_board_integrity_problems", [], "\(problems)")
        return out
    }

    struct EventKey: Hashable {
        let lane: String
        let type: String
    }

    static func seconds(_ ms: Int64) -> String { String(Double(ms) / 1000) }

    /// Label values escape backslash, double quote and newline (event types from Hermes are free text).
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
