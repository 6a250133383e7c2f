import KanbanModel
import KanbanProtocol

/// The runners (`kanban-bridge runner`, on any host) that serve each lane, as they last reported
/// themselves. Kept in memory only: it is what is running now, not history, and every runner reports
/// again within `RunnerRoster.reportEveryMs`, so a restarted coordinator knows them all again at once.
/// Owned by the loop thread (through `Operations`).
public struct RunnerRoster: Sendable {
    /// How often a runner reports (it sends this with each report's reply, so runners follow it).
    public static let reportEveryMs: Int64 = 5_000
    /// A runner not heard from for this long is dropped (three missed reports and then some).
    public static let staleAfterMs: Int64 = 20_000
    /// Bounds the roster whatever clients send: runners per lane, lanes with runners.
    public static let maxPerLane = 256
    public static let maxLanes = 4096

    public struct Entry: Equatable, Sendable {
        public var report: RunnerReport
        public var lastSeenMs: Int64
    }

    private var byLane: [String: [String: Entry]] = [:]

    public init() {}

    /// Records a report; false when the roster is full (the report is refused, not stored).
    @discardableResult
    public mutating func seen(_ report: RunnerReport, nowMs: Int64) -> Bool {
        prune(nowMs: nowMs)
        var lane = byLane[report.lane] ?? [:]
        if lane[report.runnerID] == nil {
            if lane.count >= Self.maxPerLane { return false }
            if lane.isEmpty, byLane.count >= Self.maxLanes { return false }
        }
        lane[report.runnerID] = Entry(report: report, lastSeenMs: nowMs)
        byLane[report.lane] = lane
        return true
    }

    /// The lane's live runners, by host then pid.
    public func runners(lane: String, nowMs: Int64) -> [Entry] {
        (byLane[lane] ?? [:]).values.filter { nowMs - $0.lastSeenMs < Self.staleAfterMs }
            .sorted { ($0.report.host, $0.report.pid) < ($1.report.host, $1.report.pid) }
    }

    /// A runner as `lane.list`, `lane.get` and `stats` show it.
    public static func wire(_ e: Entry, nowMs: Int64) -> JSONValue {
        ["runner_id": .string(e.report.runnerID), "host": .string(e.report.host), "pid": .int(Int64(e.report.pid)),
         "slots": .int(Int64(e.report.slots)), "running": .array(e.report.running.map { .string($0) }),
         "version": .of(e.report.version), "last_seen_ms": .int(e.lastSeenMs), "seen_ms_ago": .int(max(0, nowMs - e.lastSeenMs))]
    }

    private mutating func prune(nowMs: Int64) {
        for (lane, entries) in byLane {
            let live = entries.filter { nowMs - $0.value.lastSeenMs < Self.staleAfterMs }
            byLane[lane] = live.isEmpty ? nil : live
        }
    }
}
