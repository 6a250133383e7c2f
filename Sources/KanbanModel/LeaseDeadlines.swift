/// Lease time, measured on a monotonic clock. Pure: the coordinator feeds it readings.
///
/// What is stored stays wall-clock: Hermes' CLI and dispatcher read `claim_expires` (seconds since
/// the epoch), and a restarted coordinator reads `bridge_claims.lease_expires_ms` back. When a lease
/// ends is decided here, on monotonic time, so the host's wall clock stepping (NTP, an admin's
/// `date -s`) neither ends a heartbeated lease early nor keeps a dead worker's lease alive.

/// The two clocks read together: wall time for what is stored and shown, monotonic time for how
/// long a lease has run. Monotonic milliseconds count from an arbitrary origin (boot).
public struct ClockReading: Equatable, Sendable {
    public var wallMs: Int64
    public var monotonicMs: Int64
    public init(wallMs: Int64, monotonicMs: Int64) { self.wallMs = wallMs; self.monotonicMs = monotonicMs }

    /// How far wall time is ahead of monotonic time. It stays put while both clocks run; it moves
    /// when the wall clock is stepped (or while the host was suspended: monotonic time stops then).
    public var offsetMs: Int64 { wallMs - monotonicMs }

    /// The monotonic deadline of a stored wall-clock expiry: as much time is left as the stored value says.
    public func deadline(ofStoredExpiryMs stored: Int64) -> Int64 { monotonicMs + (stored - wallMs) }

    /// The wall-clock expiry to store for a monotonic deadline: what Hermes should see now.
    public func storedExpiry(ofDeadline deadline: Int64) -> Int64 { wallMs + (deadline - monotonicMs) }
}

/// The live bridge claims' lease deadlines, by run, on monotonic time. The coordinator is the only
/// writer of its claims, so it learns every new expiry as it commits it (a claim or a heartbeat) and
/// forgets a claim once its run ended. An entry for a claim that ended unseen (Hermes took the task
/// back without an event we read) costs one look at the board when its deadline comes.
public struct LeaseDeadlines: Sendable {
    private var byRun: [Int64: Int64] = [:]

    public init() {}

    public var count: Int { byRun.count }
    public var isEmpty: Bool { byRun.isEmpty }

    /// A claim read back from the board: its stored expiry `storedExpiryMs`, read as of `now`.
    public mutating func track(runID: Int64, storedExpiryMs: Int64, at now: ClockReading) {
        byRun[runID] = now.deadline(ofStoredExpiryMs: storedExpiryMs)
    }

    /// A claim opened or extended by a write dated `writtenAtMs` (wall) to end at `storedExpiryMs`
    /// (wall), seen at `now` by the loop turn that made the write, which began at monotonic
    /// `turnBeganMs`. The lease runs its length from the write. How long ago the write was is read on
    /// the wall clock, but bounded by the turn: a wall-clock step between the write and now moves the
    /// deadline by no more than the turn lasted (then the stored expiries are restated from it).
    public mutating func track(runID: Int64, storedExpiryMs: Int64, writtenAtMs: Int64, seen now: ClockReading, turnBeganMs: Int64) {
        let sinceWrite = min(max(now.wallMs - writtenAtMs, 0), max(now.monotonicMs - turnBeganMs, 0))
        byRun[runID] = now.monotonicMs - sinceWrite + (storedExpiryMs - writtenAtMs)
    }

    public mutating func forget(runID: Int64) { byRun[runID] = nil }

    /// Every live lease runs `ms` longer: the coordinator stood still that long (SIGSTOP, swap), and
    /// time in which it could not read a heartbeat is not charged to the workers. Reading what was
    /// queued first (`StallGrace`) alone races libzmq's I/O thread on a loaded host; this does not.
    public mutating func postpone(byMs ms: Int64) {
        guard ms > 0 else { return }
        for run in byRun.keys { byRun[run]! += ms }
    }

    public func isTracked(runID: Int64) -> Bool { byRun[runID] != nil }

    public func deadline(runID: Int64) -> Int64? { byRun[runID] }

    /// The runs whose lease has run out by monotonic `nowMs`, earliest first.
    public func due(atMonotonicMs nowMs: Int64) -> [Int64] {
        byRun.filter { $0.value <= nowMs }.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
    }

    /// The earliest deadline, for the loop's next wake-up.
    public var nextDeadline: Int64? { byRun.values.min() }

    /// Every lease's wall-clock expiry as of `now`, by run: what to store after the wall clock jumped.
    public func storedExpiries(at now: ClockReading) -> [(runID: Int64, expiresMs: Int64)] {
        byRun.sorted { $0.key < $1.key }.map { (runID: $0.key, expiresMs: now.storedExpiry(ofDeadline: $0.value)) }
    }
}

/// Notices that the host's wall clock was stepped, by how far wall time moved against monotonic time
/// since the stored expiries were last right. Then the stored expiries are restated from the
/// monotonic deadlines, so Hermes (which compares `claim_expires` with its own wall clock) and a
/// restarted coordinator read the same remaining time the coordinator keeps.
public struct WallClockWatch: Sendable {
    /// A smaller drift is left alone: Hermes keeps whole seconds, and NTP slews far slower than this.
    public static let restateAfterMs: Int64 = 1_000

    private var statedOffsetMs: Int64?

    public init() {}

    /// How far the wall clock moved (positive: forward) since the stored expiries were last right,
    /// when that is far enough to restate them; nil otherwise. The first reading is the reference.
    public mutating func jump(at now: ClockReading) -> Int64? {
        guard let stated = statedOffsetMs else {
            statedOffsetMs = now.offsetMs
            return nil
        }
        let drift = now.offsetMs - stated
        return abs(drift) >= Self.restateAfterMs ? drift : nil
    }

    /// The stored expiries were restated as of `now`.
    public mutating func restated(at now: ClockReading) { statedOffsetMs = now.offsetMs }
}

/// A lease is not ended by the coordinator's own stall. When the loop was not turning for a while
/// (SIGSTOP, a long swap-in, a debugger; or the start, after downtime), heartbeats may be queued
/// on the command socket, sent in time; so lease expiry waits until the loop has read the socket dry
/// after a short settling time (libzmq's I/O thread, stopped too, must first move what the kernel
/// received into the socket). Bounded, so a peer that floods cannot hold expiry off for good.
///
/// Measured on the coordinator's real monotonic time: this is about the process not running,
/// which an injected test clock cannot show.
public struct StallGrace: Sendable {
    /// A gap between two loop turns longer than this is a stall (the idle loop turns every 100 ms).
    public static let stallMs: Int64 = 1_000
    /// After a stall, expiry waits at least this long, and until the socket was read dry.
    public static let settleMs: Int64 = 250
    /// … and at most this long.
    public static let maxHoldMs: Int64 = 2_000

    private var lastTurnMs: Int64?
    private var heldSinceMs: Int64?

    public init() {}

    /// A loop turn begins at `nowMs`. Returns how long the loop stood still when this turn follows a
    /// stall (0 for the first turn: the coordinator was down before it), else nil.
    public mutating func turnBegins(atMs nowMs: Int64) -> Int64? {
        defer { lastTurnMs = nowMs }
        guard let last = lastTurnMs else {
            heldSinceMs = nowMs
            return 0
        }
        guard nowMs - last > Self.stallMs else { return nil }
        heldSinceMs = nowMs
        return nowMs - last
    }

    /// Whether leases may be expired at `nowMs`, given whether this turn read the command socket dry.
    /// Once it says yes, the hold is over.
    public mutating func mayExpire(atMs nowMs: Int64, socketDrained: Bool) -> Bool {
        guard let since = heldSinceMs else { return true }
        let held = nowMs - since
        guard (socketDrained && held >= Self.settleMs) || held >= Self.maxHoldMs else { return false }
        heldSinceMs = nil
        return true
    }

    /// When a held expiry is next worth trying (the loop wakes for it), or nil when nothing is held.
    public var holdEndsMs: Int64? { heldSinceMs.map { $0 + Self.settleMs } }
}
