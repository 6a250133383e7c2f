/// The loop's periodic jobs and holds, and when it must wake next: a value-type state machine, like
/// beanstalkd's `prottick`. Told the time, it says which jobs are due (`due(at:)`); told a job ran, it
/// paces the next; given the other machines' deadlines, it says how long the loop may sleep
/// (`wakeInMs`). It does no I/O and reads no clock: the loop passes a `Now`.
///
/// The periodic jobs are paced, not scheduled: each runs on a turn at least its period after its last
/// run, and the loop does not wake for them (an idle loop turns every `idleWakeMs` anyway).
struct LoopTimers {
    /// The three clocks a turn reads once: the coordinator's wall clock (what is stored; what most jobs
    /// are paced on, as before), its monotonic clock (leases) and the process's real uptime (what paces
    /// work whatever a test's injected clock says).
    struct Now {
        var wallMs: Int64
        var monotonicMs: Int64
        var uptimeMs: Int64
    }

    enum Job: Int, CaseIterable {
        /// Ask SQLite whether another program committed (the change watcher), on real time: a test's
        /// injected clock must not keep Hermes' writes from being seen.
        case importChanges
        /// Look for free slots of spawn and pool lanes: not on every turn of a busy loop.
        case dispatchScan
        /// Look for spawned runs whose claim was taken back (reads only).
        case takeBackCheck
        /// Keep Hermes' liveness fields of live claims fresh.
        case livenessRefresh
        /// Hand freed heap back to the system (`MemoryHygiene`).
        case memoryTrim
        /// Forget stored replies older than the retry window.
        case replyPrune
        /// Check a quarantined board's integrity again (a clean check lifts the quarantine).
        case integrityRecheck

        var periodMs: Int64 {
            switch self {
            case .importChanges: return 10
            case .dispatchScan: return 25
            case .takeBackCheck: return 1000
            case .livenessRefresh: return 60_000
            case .memoryTrim: return MemoryHygiene.trimEveryMs
            case .replyPrune: return 60_000
            case .integrityRecheck: return 600_000
            }
        }

        fileprivate func time(_ now: Now) -> Int64 { self == .importChanges ? now.uptimeMs : now.wallMs }
    }

    /// A set of jobs (no allocation: one bit each).
    struct Jobs: OptionSet {
        let rawValue: UInt8
        init(rawValue: UInt8) { self.rawValue = rawValue }
        init(_ job: Job) { rawValue = 1 << UInt8(job.rawValue) }
        func contains(_ job: Job) -> Bool { contains(Jobs(job)) }
    }

    /// How long an idle loop sleeps at most: it looks for `stop()` and for commits by other programs.
    static let idleWakeMs: Int64 = 100
    /// After a timer's write failed (not a locked board), lease expiry and backoffs wait this long.
    static let failedWriteHoldMs: Int64 = 1000
    /// After a batch of promotions could not be written, the next waits this long rather than spin.
    static let promotionsHoldMs: Int64 = 100

    private var lastRunMs = [Int64?](repeating: nil, count: Job.allCases.count)
    /// Lease expiry and backoffs wait until this monotonic time after a failed write.
    private(set) var leaseTimersHeldUntilMs: Int64 = 0
    /// Promotions wait until this wall time after a failed batch.
    private(set) var promotionsHeldUntilMs: Int64 = 0

    /// Whether `job` is due: it never ran, its period has passed, or its clock went back (a wall clock
    /// stepped back must not hold a job off for as long as the step).
    func isDue(_ job: Job, at now: Now) -> Bool {
        guard let last = lastRunMs[job.rawValue] else { return true }
        let t = job.time(now)
        return t - last >= job.periodMs || t < last
    }

    /// Every job that is due at `now`.
    func due(at now: Now) -> Jobs {
        var jobs: Jobs = []
        for raw in lastRunMs.indices {  // not `Job.allCases`: that builds an array on every call
            if let job = Job(rawValue: raw), isDue(job, at: now) { jobs.insert(Jobs(job)) }
        }
        return jobs
    }

    /// `job` ran (or was tried, for a job that is not retried sooner) at `now`.
    mutating func ran(_ job: Job, at now: Now) { lastRunMs[job.rawValue] = job.time(now) }

    /// A timer's write failed: lease expiry and backoffs wait a while.
    mutating func holdLeaseTimers(monotonicMs now: Int64) { leaseTimersHeldUntilMs = now + Self.failedWriteHoldMs }

    func leaseTimersHeld(monotonicMs now: Int64) -> Bool { now < leaseTimersHeldUntilMs }

    /// A batch of promotions could not be written: the next waits a while.
    mutating func holdPromotions(wallMs now: Int64) { promotionsHeldUntilMs = now + Self.promotionsHoldMs }

    func promotionsHeld(wallMs now: Int64) -> Bool { now < promotionsHeldUntilMs }

    /// What the other machines wait for, each on its own clock.
    struct Deadlines {
        /// The nearest lease deadline (monotonic), spawned run's renewal (monotonic), retry backoff's
        /// end (wall) and the end of the stall grace's hold on expiry (uptime).
        var leaseMs: Int64?
        var renewalMs: Int64?
        var backoffEndMs: Int64?
        var stallHoldEndMs: Int64?
        /// The nearest parked claim's deadline, and when the write queue has something to do (wall).
        var parkedMs: Int64?
        var writesMs: Int64?
        /// Writes are not tried before this (wall): another program held the lock at the last try.
        var writeLockPauseEndMs: Int64 = 0
        var promotionsPending = false
        /// When the next dispatch pass may run (wall), if one is wanted (the board changed).
        var dispatchDueMs: Int64?
    }

    /// When `job` is next due on its clock: its last run plus its period (nil: it never ran, so it is due now).
    func nextDue(_ job: Job) -> Int64? { lastRunMs[job.rawValue].map { $0 + job.periodMs } }

    /// How long the loop may sleep: until the nearest deadline, at most `idleWakeMs`. Jobs that write
    /// (lease expiry, renewals, backoffs) are not woken for before the write lock may be tried again,
    /// nor before a failure's hold is over.
    func wakeInMs(at now: Now, _ d: Deadlines) -> Int {
        let writeHold = max(0, d.writeLockPauseEndMs - now.wallMs, leaseTimersHeldUntilMs - now.monotonicMs)
        var wait = Self.idleWakeMs
        if let t = d.leaseMs { wait = min(wait, max(t - now.monotonicMs, writeHold)) }
        if let t = d.backoffEndMs { wait = min(wait, max(t - now.wallMs, writeHold)) }
        if let t = d.renewalMs { wait = min(wait, max(t - now.monotonicMs, writeHold)) }
        if let t = d.stallHoldEndMs { wait = min(wait, t - now.uptimeMs) }
        if let t = d.dispatchDueMs { wait = min(wait, max(t - now.wallMs, writeHold)) }
        wait = max(0, wait)
        if let t = d.parkedMs { wait = min(wait, t - now.wallMs) }
        if let t = d.writesMs { wait = min(wait, t - now.wallMs) }
        if d.promotionsPending, now.wallMs >= d.writeLockPauseEndMs { wait = min(wait, max(0, promotionsHeldUntilMs - now.wallMs)) }
        return Int(max(0, wait))
    }
}
