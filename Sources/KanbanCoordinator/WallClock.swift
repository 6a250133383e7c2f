import Foundation
import Synchronization

/// Where the coordinator reads the time. Injected so tests can drive lease expiry and waits.
/// Named `WallClock`, not `Clock`: the standard library's `Clock` (of `ContinuousClock`, `Task.sleep`)
/// is a different thing, and a `Clock` of ours hid it in every file that imports this module.
public protocol WallClock: Sendable {
    /// Milliseconds since the Unix epoch.
    func nowMs() -> Int64
}

/// Wall-clock time. Leases are wall-clock based so they survive a coordinator restart.
public struct SystemClock: WallClock {
    public init() {}
    public func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

/// A clock that moves only when told to; for tests.
public final class ManualClock: WallClock {
    private let now: Mutex<Int64>
    public init(startMs: Int64 = 1_800_000_000_000) { now = Mutex(startMs) }
    public func nowMs() -> Int64 { now.withLock { $0 } }
    /// Moves time forward by `ms`.
    public func advance(ms: Int64) { now.withLock { $0 += ms } }
}
