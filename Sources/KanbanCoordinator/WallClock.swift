import Foundation
import Synchronization

/// Where the coordinator reads the time of day: what it stores and shows (Hermes' `claim_expires`,
/// event dates). Injected so tests can drive time.
/// Named `WallClock`, not `Clock`: the standard library's `Clock` (of `ContinuousClock`, `Task.sleep`)
/// is a different thing, and a `Clock` of ours hid it in every file that imports this module.
public protocol WallClock: Sendable {
    /// Milliseconds since the Unix epoch.
    func nowMs() -> Int64
}

/// Where the coordinator measures how long something has run: leases, spawned workers' run times.
/// Never stepped, so a wall clock set forward or back does not end or stretch a lease.
public protocol MonotonicClock: Sendable {
    /// Milliseconds from an arbitrary origin; only differences mean anything.
    func monotonicMs() -> Int64
}

/// Both clocks: what the coordinator is given.
public typealias CoordinatorClock = WallClock & MonotonicClock

/// The host's clocks. Monotonic time is `CLOCK_MONOTONIC`: on Linux it runs on while the process is
/// stopped (SIGSTOP; the loop catches up on queued heartbeats before expiring, see `StallGrace`) and
/// stands still while the host is suspended, when workers on it are suspended too.
public struct SystemClock: CoordinatorClock {
    public init() {}
    public func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
    public func monotonicMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// Clocks that move only when told to; for tests. `advance` moves both, as time passing does;
/// `stepWall` moves the wall clock alone, as `date -s` or an NTP step does.
public final class ManualClock: CoordinatorClock {
    private let now: Mutex<(wall: Int64, monotonic: Int64)>
    public init(startMs: Int64 = 1_800_000_000_000) { now = Mutex((startMs, 5_000_000)) }
    public func nowMs() -> Int64 { now.withLock { $0.wall } }
    public func monotonicMs() -> Int64 { now.withLock { $0.monotonic } }
    /// Lets `ms` pass.
    public func advance(ms: Int64) { now.withLock { $0.wall += ms; $0.monotonic += ms } }
    /// Sets the wall clock forward (or back, negative) by `ms` without time passing.
    public func stepWall(ms: Int64) { now.withLock { $0.wall += ms } }
}
