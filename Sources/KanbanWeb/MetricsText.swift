import Foundation
import KanbanModel

/// The Prometheus text exposition format (0.0.4) of the wire's `stats` reply. Pure.
///
/// Why not swift-metrics / swift-prometheus: those are for instruments a process updates as things
/// happen (counters, timers it owns), registered in one global factory. What we export is a reading
/// of the board taken at scrape time through the wire (gauges of claims and tasks, claim latency
/// quantiles over a window the coordinator computes), and the HTTP face owns none of it. Going
/// through swift-metrics would mean setting global gauges from each scrape and bootstrapping a
/// process-wide metrics system in the coordinator's binary for a page we can render in 60 lines.
enum MetricsText {
    /// `stats` (board now, latencies over its window), the events this HTTP face saw since it started
    /// by lane and type, and the coordinator's last `seq` (from `ping`).
    static func render(stats: JSONValue, eventsSeen: [EventCountKey: Int], lastSeq: Int64) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" }
        func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
            let l = labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
            out += labels.isEmpty ? "\(name) \(value)\n" : "\(name){\(l)} \(value)\n"
        }
        let lanes = (stats["lanes"]?.arrayValue ?? []).sorted { ($0["lane"]?.stringValue ?? "") < ($1["lane"]?.stringValue ?? "") }
        func name(_ lane: JSONValue) -> String { lane["lane"]?.stringValue ?? "_" }
        let window = stats["window_seconds"]?.intValue ?? 300

        family("kanban_lane_running", "gauge", "Live claims of the lane.")
        for lane in lanes where lane["registered"]?.boolValue == true {
            sample("kanban_lane_running", [("lane", name(lane))], "\(lane["running"]?.intValue ?? 0)")
        }
        family("kanban_lane_max_concurrency", "gauge", "Most tasks the lane may hold at once.")
        for lane in lanes { if let max = lane["max_concurrency"]?.intValue { sample("kanban_lane_max_concurrency", [("lane", name(lane))], "\(max)") } }
        family("kanban_tasks", "gauge", "Tasks on the board by assignee ('_' for none) and Hermes status.")
        for lane in lanes {
            for (status, n) in (lane["tasks"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                sample("kanban_tasks", [("lane", name(lane)), ("status", status)], "\(n.intValue ?? 0)")
            }
        }
        family("kanban_events_total", "counter", "Events this HTTP face received since it started, by lane and type.")
        for (key, n) in eventsSeen.sorted(by: { ($0.key.lane, $0.key.type) < ($1.key.lane, $1.key.type) }) {
            sample("kanban_events_total", [("lane", key.lane), ("type", key.type)], "\(n)")
        }
        family("kanban_event_seq", "gauge", "The seq of the last event on the board.")
        sample("kanban_event_seq", [], "\(lastSeq)")
        family("kanban_claim_latency_seconds", "summary", "Time from a task becoming claimable to its claim, over the last \(window) s.")
        for lane in lanes {
            guard let l = lane["claim_latency_ms"], let count = l["count"]?.intValue, count > 0 else { continue }
            for (q, key) in [("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99")] {
                sample("kanban_claim_latency_seconds", [("lane", name(lane)), ("quantile", q)], seconds(l[key]?.intValue ?? 0))
            }
            // `stats` gives the mean, not the sum: mean × count is the sum to the millisecond.
            sample("kanban_claim_latency_seconds_sum", [("lane", name(lane))], seconds((l["mean"]?.intValue ?? 0) * count))
            sample("kanban_claim_latency_seconds_count", [("lane", name(lane))], "\(count)")
        }
        // The board's consistency (issue #19, finding 3): from `stats`' `board` field.
        let board = stats["board"]
        family("kanban_board_inconsistencies_total", "counter",
               "Writes whose guard failed right after a snapshot said it held: the board contradicts itself (a damaged index).")
        sample("kanban_board_inconsistencies_total", [], "\(board?["inconsistencies"]?.intValue ?? 0)")
        family("kanban_board_quarantined_tasks", "gauge", "Tasks claims step over until the board is repaired.")
        sample("kanban_board_quarantined_tasks", [], "\(board?["quarantined"]?.arrayValue?.count ?? 0)")
        family("kanban_board_integrity_problems", "gauge",
               "Findings of the background PRAGMA integrity_check (0: ok; -1: pending, not run or failed).")
        let integrity = board?["integrity"]?.stringValue
        let problems = integrity == "ok" ? 0 : integrity == "problems" ? board?["integrity_problems"]?.intValue ?? -1 : -1
        sample("kanban_board_integrity_problems", [], "\(problems)")
        return out
    }

    static func seconds(_ ms: Int64) -> String { String(Double(ms) / 1000) }

    /// Label values escape backslash, double quote and newline (event types from Hermes are free text).
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
