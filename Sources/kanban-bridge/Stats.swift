import ArgumentParser
import Foundation
import KanbanConfig
import KanbanModel
import KanbanProtocol

/// `kanban-bridge stats`: per-lane counts, throughput and claim latency, from the `stats` op.
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-lane counts, throughput and claim latency over a recent window.",
        discussion: """
            One row per lane (and per assignee that is no lane; `_` is tasks with no assignee):

              LANE      RUNNING  READY  BLOCKED  DONE  CLAIMED  COMPLETED  FAILED  GAVE UP  PER MIN  LATENCY p50/p90/max
              factory   1/2      3      0        41    12       11         1       0.183    40ms/1.2s/3.4s

            RUNNING is live claims out of max_concurrency. READY, BLOCKED and DONE count tasks now. CLAIMED and COMPLETED count claims and completions in the window; FAILED counts runs that ended in failure (timed_out, crashed or spawn_failed: each failed run once); GAVE UP counts tasks that reached the retry limit and were blocked (each after one of those failures), and PER MIN is completions per minute over it. Claim latency runs from the moment a task last became claimable to its claim: queue wait plus hand-out.

            A last line shows Hermes' global cap on running tasks as this host's Hermes applies it ($HERMES_HOME/config.yaml's kanban.max_in_progress; when unset, Hermes 0.21+ derives clamp(MemTotal / 512 MiB, 2, 8), 0.19 applies none), how many of its slots lanes hold, and a warning when the lanes' max_concurrency adds up to the cap or more (busy lanes then starve Hermes' own dispatcher).

            Read-only; lanes may call it too. --json prints the `stats` op's reply (docs/PROTOCOL.md).
            """)
    @Option(help: "The window in seconds (1...604800).") var window: Int = 3600
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard (1...7 * 86_400).contains(window) else { throw ValidationError("--window must be 1...604800 seconds") }
    }

    func run() throws {
        try connection.run(.stats(windowSeconds: window), asLane: true) { result in
            print(StatsTable.render(result))
            print(StatsTable.hermesCapLine(result, hermesHome: HermesCaps.defaultHome(), memTotalKiB: HermesGlobalCap.hostMemTotalKiB()))
        }
    }
}

enum StatsTable {
    static func render(_ r: JSONValue) -> String {
        let header = ["LANE", "RUNNING", "READY", "BLOCKED", "DONE", "CLAIMED", "COMPLETED", "FAILED", "GAVE UP", "PER MIN",
                      "LATENCY p50/p90/max"]
        var rows = [header]
        for lane in r["lanes"]?.arrayValue ?? [] {
            let tasks = lane["tasks"] ?? [:], window = lane["window"] ?? [:]
            func n(_ v: JSONValue?, _ key: String) -> Int64 { v?[key]?.intValue ?? 0 }
            let max = lane["max_concurrency"]?.intValue.map { "/\($0)" } ?? ""
            rows.append([
                lane["lane"]?.stringValue ?? "?", "\(n(lane, "running"))\(max)", "\(n(tasks, "ready"))", "\(n(tasks, "blocked"))",
                "\(n(tasks, "done"))", "\(n(window, "claimed"))", "\(n(window, "completed"))", "\(n(lane, "failed_runs"))",
                "\(n(window, "gave_up"))",
                rate(lane["throughput_per_min"]), latency(lane["claim_latency_ms"]),
            ])
        }
        let totals = r["totals"] ?? [:]
        rows.append(["all", "", "", "", "", "\(totals["claimed"]?.intValue ?? 0)", "\(totals["completed"]?.intValue ?? 0)", "", "",
                     rate(totals["throughput_per_min"]), latency(totals["claim_latency_ms"])])
        let widths = header.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
        var lines = rows.map { row in row.enumerated().map { $1.padding(widths[$0]) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces) }
        lines.insert("last \(r["window_seconds"]?.intValue ?? 0) s", at: 0)
        lines += runnerLines(r)
        return lines.joined(separator: "\n")
    }

    /// The runners (`kanban-bridge runner`) serving lanes from any host, below the table.
    static func runnerLines(_ r: JSONValue) -> [String] {
        var lines: [String] = []
        for lane in r["lanes"]?.arrayValue ?? [] {
            for runner in lane["runners"]?.arrayValue ?? [] {
                lines.append("runner  \(lane["lane"]?.stringValue ?? "?")  \(runner["host"]?.stringValue ?? "?") pid \(runner["pid"]?.intValue ?? 0)  "
                             + "\(runner["running"]?.arrayValue?.count ?? 0)/\(runner["slots"]?.intValue ?? 0) slots busy  "
                             + "seen \(duration(runner["seen_ms_ago"]?.intValue ?? 0)) ago")
            }
        }
        return lines.isEmpty ? [] : [""] + lines
    }

    /// Hermes' global cap beside what the lanes of the reply hold (read on this host: `stats` may ask a
    /// coordinator elsewhere, but the cap that matters is the Hermes sharing the board's host).
    static func hermesCapLine(_ r: JSONValue, hermesHome home: String, memTotalKiB: Int?) -> String {
        let caps: HermesCaps
        do { caps = try HermesCaps.load(hermesHome: home) ?? HermesCaps() } catch {
            return "hermes cap: \(home)/config.yaml is not valid YAML"
        }
        let rows = r["lanes"]?.arrayValue ?? []
        let lanes = rows.filter { $0["registered"]?.boolValue == true }
        let laneClaims = lanes.reduce(0) { $0 + Int($1["running"]?.intValue ?? 0) }
        let running = rows.reduce(0) { $0 + Int(max($1["running"]?.intValue ?? 0, $1["tasks"]?["running"]?.intValue ?? 0)) }
        let reach = lanes.reduce(0) { $0 + Int($1["max_concurrency"]?.intValue ?? 0) }
        let cap = HermesGlobalCap.effective(configured: caps.maxInProgress, memTotalKiB: memTotalKiB)
        guard let share = cap.share(laneClaims: laneClaims, running: running, lanesMaxConcurrency: reach) else {
            return "hermes cap: \(cap.summary); lanes hold \(laneClaims) running task(s)"
        }
        var line = "hermes cap: \(cap.summary); \(share.held)"
        if share.lanesCanStarveHermes {
            line += "\nwarning: the lanes' max_concurrency adds up to \(reach), at or above the cap: busy lanes starve Hermes' own "
                + "dispatcher; " + share.advice(hermesHome: home)
        }
        return line
    }

    static func rate(_ v: JSONValue?) -> String {
        switch v {
        case .double(let d)?: return String(format: "%.3f", d)
        case .int(let i)?: return "\(i)"
        default: return "-"
        }
    }

    static func latency(_ v: JSONValue?) -> String {
        guard let v, !v.isNull else { return "-" }
        return ["p50", "p90", "max"].map { duration(v[$0]?.intValue ?? 0) }.joined(separator: "/")
    }

    static func duration(_ ms: Int64) -> String {
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 { return String(format: "%.1fs", Double(ms) / 1000) }
        return String(format: "%.1fm", Double(ms) / 60_000)
    }
}
