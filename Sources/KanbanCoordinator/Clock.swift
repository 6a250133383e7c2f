import Foundation
import Synchronization

/// Where the coordinator reads the time. Injected so tests can drive lease expiry and waits.
public protocol Clock: Sendable {
    /// Milliseconds since the Unix epoch.
    func nowMs() -> Int64
}

/// Wall-clock time. Leases are wall-clock based so they survive a coordinator restart.
public struct SystemClock: Clock {
    public init() {}
    public func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

/// A clock that moves only when told to; for tests.
public final class ManualClock: Clock {
    private let now: Mutex<Int64>
    public init(startMs: Int64 = 1_800_000_000_000) { now = Mutex(startMs) }
    public func nowMs() -> Int64 { now.withLock { $0 } }
    /// Moves time forward by `ms`.
    public func advance(ms: Int64) { now.withLock { $0 += ms } }
}
