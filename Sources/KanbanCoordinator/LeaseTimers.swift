import KanbanModel

/// When leases end, on monotonic time (Coordinator+Leases.swift says why): a value-type state machine
/// over the pure pieces of KanbanModel (`LeaseDeadlines`, `WallClockWatch`, `StallGrace`). Told of
/// loop turns, committed lease events and clock readings, it says which leases to expire and when the
/// stored expiries must be restated; the loop does the writes and tells it they committed.
struct LeaseTimers {
    /// Live leases' deadlines, by run.
    private(set) var deadlines = LeaseDeadlines()
    /// Notices a stepped wall clock, after which stored expiries are restated.
    private var wallWatch = WallClockWatch()
    /// Set when a stall of the loop extended the leases: their stored expiries are restated next.
    private(set) var restatePending = false
    /// Holds lease expiry after a stall of the loop until queued requests are read.
    private var stallGrace = StallGrace()
    /// When this loop turn began (monotonic): every write whose event the turn reads was made after it.
    private(set) var turnBeganMs: Int64 = 0

    /// At start: every open claim's deadline from its stored expiry (remaining = stored − wall now).
    /// The stored expiries are right as of `now`: the wall clock's reference.
    mutating func loaded(_ claims: [ClaimState], at now: ClockReading) {
        for claim in claims { deadlines.track(runID: claim.runID, storedExpiryMs: claim.leaseExpiresAtMs, at: now) }
        _ = wallWatch.jump(at: now)
    }

    /// A turn of the loop begins at `monotonicMs` (the coordinator's clock) and `uptimeMs` (real time:
    /// an injected clock cannot show the process standing still). After a stall of the coordinator
    /// itself every live lease runs that much longer, and the stall is returned (for the log).
    mutating func turnBegins(monotonicMs: Int64, uptimeMs: Int64) -> Int64? {
        turnBeganMs = monotonicMs
        return noteStall(uptimeMs: uptimeMs)
    }

    /// Just before leases are expired, the same look as at the start of a turn: the process may have
    /// been stopped after the turn began (a SIGSTOP lands anywhere, often right after a reply went
    /// out), and that stall is not the workers' time either. Returns the stall, if there was one.
    mutating func beforeExpiry(uptimeMs: Int64) -> Int64? { noteStall(uptimeMs: uptimeMs) }

    private mutating func noteStall(uptimeMs: Int64) -> Int64? {
        guard let stood = stallGrace.turnBegins(atMs: uptimeMs), stood > 0 else { return nil }
        // Its own stall is not the workers' time; the stored expiries (what Hermes and a restart
        // read) are restated to match.
        deadlines.postpone(byMs: stood)
        restatePending = !deadlines.isEmpty
        return stood
    }

    /// Follows committed lease changes: a bridge claim opened or extended (its event carries the stored
    /// expiry) or a run ended (its outcome's event, ours or Hermes').
    mutating func committed(_ events: [BoardEvent], at now: ClockReading) {
        for event in events {
            guard let runID = event.runID else { continue }
            if RunOutcome(rawValue: event.type) != nil {
                deadlines.forget(runID: runID)
            } else if let expires = event.data["lease_expires_at_ms"]?.intValue,
                      event.type == EventKind.claimed.rawValue || event.type == EventKind.heartbeat.rawValue {
                deadlines.track(runID: runID, storedExpiryMs: expires, writtenAtMs: event.atMs, seen: now, turnBeganMs: turnBeganMs)
            }
        }
    }

    /// The stored expiries to write, and how far the wall clock jumped, when they are wrong: after a
    /// step of the wall clock, or after a stall extended the leases. Nil while they are right, or while
    /// the board cannot be written (asked again next turn).
    mutating func restateDue(at now: ClockReading, boardWritable: Bool) -> (expiries: [(runID: Int64, expiresMs: Int64)], jumpMs: Int64?)? {
        let jump = wallWatch.jump(at: now)
        guard jump != nil || restatePending, boardWritable else { return nil }
        return (deadlines.storedExpiries(at: now), jump)
    }

    /// The restated expiries committed as of `now`.
    mutating func restated(at now: ClockReading) {
        wallWatch.restated(at: now)
        restatePending = false
    }

    /// The runs whose lease ran out, once the stall grace allows (given whether this turn read the
    /// command socket dry). Asked every turn: the grace ends on a turn that may expire.
    mutating func expiryDue(at now: ClockReading, uptimeMs: Int64, socketDrained: Bool) -> [Int64] {
        let graceOver = stallGrace.mayExpire(atMs: uptimeMs, socketDrained: socketDrained)
        // The nearest deadline first: most turns have nothing due, and `due` builds arrays.
        guard graceOver, let next = deadlines.nextDeadline, next <= now.monotonicMs else { return [] }
        return deadlines.due(atMonotonicMs: now.monotonicMs)
    }

    /// These runs ended (expired now, or earlier without an event the loop read).
    mutating func ended(_ runIDs: [Int64]) {
        for runID in runIDs { deadlines.forget(runID: runID) }
    }

    var nextDeadline: Int64? { deadlines.nextDeadline }
    /// When a held expiry is next worth trying (uptime), or nil when nothing is held.
    var stallHoldEndMs: Int64? { stallGrace.holdEndsMs }
}
