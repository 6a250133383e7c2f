import Foundation
import KanbanClient
import KanbanModel
import KanbanProtocol

/// The live dashboard: lanes with their slots, then the latest events, redrawn in place.
struct Dashboard {
    let feed: EventFeed
    let commands: CommandClient
    let lane: String?
    let refreshMs: Int
    let color: Bool
    let stop: StopFlag

    func run() {
        var recent: [JSONValue] = []
        var notice = "", noticeAt = Date.distantPast
        // Alternate screen and hidden cursor while we draw; restored on exit.
        writeOut("\u{1B}[?1049h\u{1B}[?25l")
        defer { writeOut("\u{1B}[?25h\u{1B}[?1049l") }
        var nextDraw = Date.distantPast
        while !stop.isSet {
            for e in feed.poll(timeoutMs: 100) where matches(e, lane: lane) { recent.append(e) }
            if recent.count > 200 { recent.removeFirst(recent.count - 200) }
            if let n = feed.drainNotices().last { (notice, noticeAt) = (n, Date()) }
            guard Date() >= nextDraw else { continue }
            nextDraw = Date().addingTimeInterval(Double(refreshMs) / 1000)
            let lanes: [JSONValue]?
            do {
                lanes = try commands.call(.laneList)["lanes"]?.arrayValue
            } catch {
                lanes = nil
                (notice, noticeAt) = ("\(error)", Date())
            }
            let frame = DashboardFrame(endpoint: commands.endpoint, lastSeq: feed.lastSeq, lanes: lanes, recent: recent,
                                       laneFilter: lane, notice: Date().timeIntervalSince(noticeAt) < 10 ? notice : "", nowMs: Int64(Date().timeIntervalSince1970 * 1000),
                                       color: color, rows: TerminalSize.rows())
            writeOut("\u{1B}[H" + frame.render().map { $0 + "\u{1B}[K" }.joined(separator: "\n") + "\u{1B}[J")
        }
    }
}

/// One screenful, as lines. Pure: everything it shows is passed in.
struct DashboardFrame {
    let endpoint: String
    let lastSeq: Int64?
    let lanes: [JSONValue]?
    let recent: [JSONValue]
    let laneFilter: String?
    let notice: String
    let nowMs: Int64
    let color: Bool
    let rows: Int

    func render() -> [String] {
        var out: [String] = []
        let clock = EventLine.time(nowMs)
        out.append(bold("KanbanBridge") + "  \(endpoint)  seq \(lastSeq.map(String.init) ?? "?")  \(clock)")
        out.append(notice.isEmpty ? "" : paint(notice, 33))
        let shown = (lanes ?? []).filter { laneFilter == nil || $0["name"]?.stringValue == laneFilter }
        // As wide as the longest name shown, so a long lane name does not push its row's columns out of line.
        let nameWidth = max(22, (shown.compactMap { $0["name"]?.stringValue?.count }.max() ?? 0) + 2)
        out.append(bold(pad("LANE", nameWidth) + pad("KIND", 12) + pad("SLOTS", 16) + pad("QUEUED", 11) + pad("OLDEST", 11) + "STUCK"))
        if lanes != nil {
            if shown.isEmpty { out.append("  (no lanes registered)") }
            for l in shown { out.append(laneRow(l, nameWidth: nameWidth)) }
        } else {
            out.append(paint("  coordinator unreachable; retrying", 31))
        }
        out.append("")
        out.append(bold("LATEST EVENTS"))
        let room = max(3, rows - out.count - 1)
        for e in recent.suffix(room).reversed() { out.append(paint(EventLine.plain(e), EventLine.colour(e["type"]?.stringValue ?? ""))) }
        return out
    }

    func laneRow(_ l: JSONValue, nameWidth: Int) -> String {
        let running = l["running"]?.intValue ?? 0, max = l["max_concurrency"]?.intValue ?? 1
        let queued = l["queued"]?.intValue ?? 0
        let oldest = l["oldest_queued_at"]?.intValue.map { EventLine.age(ms: nowMs - $0 * 1000) } ?? "-"
        let stuck = (l["claims"]?.arrayValue ?? []).filter { c in
            guard let info = LiveClaimInfo(json: c) else { return false }
            return info.isStuck(nowMs: nowMs)
        }
        let stuckText = stuck.isEmpty ? "-" : "\(stuck.count) (" + stuck.prefix(3).compactMap { c -> String? in
            guard let task = c["task_id"]?.stringValue, let exp = c["lease_expires_at_ms"]?.intValue else { return nil }
            return "\(task) lease \(EventLine.age(ms: exp - nowMs))"
        }.joined(separator: ", ") + ")"
        let row = pad(l["name"]?.stringValue ?? "?", nameWidth) + pad(l["kind"]?.stringValue ?? "?", 12)
            + pad("\(running)/\(max) running", 16) + pad("\(queued) queued", 11) + pad("oldest \(oldest)", 11) + stuckText
        return stuck.isEmpty ? row : paint(row, 31)
    }

    func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
    func bold(_ s: String) -> String { color ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
    func paint(_ s: String, _ code: Int) -> String { color && code != 0 ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
}

extension LiveClaimInfo {
    init?(json c: JSONValue) {
        guard let task = c["task_id"]?.stringValue, let run = c["run_id"]?.intValue, let at = c["claimed_at_ms"]?.intValue,
              let lease = c["lease_ms"]?.intValue, let exp = c["lease_expires_at_ms"]?.intValue else { return nil }
        self.init(taskID: task, runID: run, claimedAtMs: at, leaseMs: lease, leaseExpiresAtMs: exp, lastHeartbeatAt: c["last_heartbeat_at"]?.intValue)
    }
}

/// Formatting shared by the dashboard and `--follow`.
enum EventLine {
    static func plain(_ e: JSONValue) -> String {
        let seq = e["seq"]?.intValue ?? 0
        let topic = "\(e["lane"]?.stringValue ?? "_").\(e["type"]?.stringValue ?? "?")"
        let run = e["run_id"]?.intValue.map { " run \($0)" } ?? ""
        return "\(String(seq).leftPad(7))  \(time(e["at"]?.intValue ?? 0))  \(topic.rightPad(28)) \(e["task_id"]?.stringValue ?? "")\(run)"
    }

    static func time(_ ms: Int64) -> String {
        let secs = (ms / 1000) % 86_400
        return String(format: "%02lld:%02lld:%02lld", secs / 3600, (secs / 60) % 60, secs % 60)
    }

    static func age(ms: Int64) -> String {
        let s = max(0, ms / 1000)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        return "\(s / 3600)h"
    }

    /// ANSI colour per event type: green done, red trouble, cyan work in flight, yellow new work.
    static func colour(_ type: String) -> Int {
        switch type {
        case "completed": return 32
        case "blocked", "timed_out", "crashed", "gave_up", "reclaimed", "stale", "claim_rejected": return 31
        case "claimed", "heartbeat": return 36
        case "available", "created", "promoted": return 33
        case "released": return 35
        // Hermes' dispatcher bookkeeping (skipped_nonspawnable on lanes' cards, reconciled …): grey, nobody acts.
        case _ where HermesEventKinds.informational.contains(type): return 90
        default: return 0
        }
    }
}

enum TerminalSize {
    static func rows() -> Int {
        var w = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &w) == 0, w.ws_row > 0 { return Int(w.ws_row) }
        return 40
    }
}

extension String {
    func leftPad(_ w: Int) -> String { count >= w ? self : String(repeating: " ", count: w - count) + self }
    func rightPad(_ w: Int) -> String { count >= w ? self : self + String(repeating: " ", count: w - count) }
}
