import Foundation
import Synchronization

/// Runs `body(i)` on `count` threads of their own (each worker owns its sockets, as ZeroMQ wants)
/// and returns when all have finished.
public func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
}

/// Lets every worker connect first, then starts them together, so connection set-up is not timed.
public final class StartGate: Sendable {
    private let arrived = DispatchSemaphore(value: 0)
    private let go = DispatchSemaphore(value: 0)
    private let parties: Int
    private let startedAtNs = Atomic<UInt64>(0)

    public init(parties: Int) { self.parties = parties }

    /// When the run started (0 until the gate opens).
    public var startedAt: UInt64 { startedAtNs.load(ordering: .sequentiallyConsistent) }

    /// Opens the gate from a thread of its own once every worker has arrived.
    public func openInBackground() {
        Thread { self.openWhenAllArrived() }.start()
    }

    /// Called by each worker when ready; returns when the run starts.
    public func arriveAndWait() {
        arrived.signal()
        go.wait()
    }

    /// Called by the conductor: waits for every worker, then starts them all and returns the start time.
    @discardableResult
    public func openWhenAllArrived() -> UInt64 {
        for _ in 0..<parties { arrived.wait() }
        let t = nowNs()
        startedAtNs.store(t, ordering: .sequentiallyConsistent)
        for _ in 0..<parties { go.signal() }
        return t
    }
}

/// Collects per-thread results under a lock (each worker adds once, at its end).
public final class Collector<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])
    public init() {}
    public func add(_ item: T) { items.withLock { $0.append(item) } }
    public var all: [T] { items.withLock { $0 } }
}
