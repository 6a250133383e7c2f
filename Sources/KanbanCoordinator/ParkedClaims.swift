import KanbanProtocol

/// Blocking claims waiting for work, first come first served. The ROUTER envelope is kept so the
/// answer can be sent later without holding up anybody else.
struct ParkedClaims {
    struct Entry {
        var envelope: [[UInt8]]
        var request: ClaimRequest
        var deadlineMs: Int64
    }

    private(set) var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }

    mutating func park(_ entry: Entry) { entries.append(entry) }

    /// The earliest deadline, for the loop's next wake-up.
    var nextDeadline: Int64? { entries.map(\.deadlineMs).min() }

    /// Removes and returns the entries whose wait is over.
    mutating func takeExpired(nowMs: Int64) -> [Entry] {
        let expired = entries.filter { $0.deadlineMs <= nowMs }
        entries.removeAll { $0.deadlineMs <= nowMs }
        return expired
    }

    /// Offers work to parked claims of `lanes`, oldest first. `serve` returns true when it answered
    /// the entry (a task, or an error); a lane stops being offered once one of its claims finds nothing.
    mutating func serve(lanes: Set<String>, _ serve: (Entry) -> Bool) {
        var exhausted: Set<String> = []
        var kept: [Entry] = []
        for entry in entries {
            let lane = entry.request.lane
            if lanes.contains(lane), !exhausted.contains(lane), serve(entry) { continue }
            if lanes.contains(lane) { exhausted.insert(lane) }
            kept.append(entry)
        }
        entries = kept
    }
}
