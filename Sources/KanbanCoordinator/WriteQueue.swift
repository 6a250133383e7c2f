import KanbanModel
import KanbanProtocol

/// Mutating requests waiting for the board's write lock, and when to try for it next.
///
/// Another program (Hermes' CLI or dispatcher, a person with `sqlite3`) may hold the write lock for
/// seconds. The loop never waits that long: a write waits at most `SQLiteBoard`'s small busy timeout,
/// and if the lock is still taken, the writes stay queued here and the loop goes on answering reads.
/// Each write is tried again on later turns until its client's deadline, and then answered `busy`.
///
/// A value-type state machine: it is told what arrives, what committed and when the lock was found
/// taken, and says what to run (`nextBatch`), whom to answer `busy` (`arrive`, `takeExpired`) and
/// when the loop must wake (`nextWakeMs`). The loop runs the batches and sends the answers.
struct WriteQueue {
    struct Pending {
        var envelope: [[UInt8]]
        var decoded: DecodedRequest
        var caller: Principal
        /// When to give up and answer `busy`.
        var deadlineMs: Int64
    }

    /// Past this many waiting writes, new ones are answered `busy` at once (memory stays bounded).
    static let maxPending = 10_000
    /// Pauses between tries while the lock is taken: short at first, then at most this.
    static let firstPauseMs: Int64 = 10
    static let maxPauseMs: Int64 = 100

    private(set) var pending: [Pending] = []
    /// Writes are not tried before this (another program held the lock at the last try).
    private(set) var heldUntilMs: Int64 = 0
    /// When the current spell of contention began (nil: the last write went through).
    private(set) var lockedSinceMs: Int64?
    private var pauseMs: Int64 = firstPauseMs

    var isEmpty: Bool { pending.isEmpty }
    var isFull: Bool { pending.count >= Self.maxPending }

    func mayWrite(nowMs: Int64) -> Bool { nowMs >= heldUntilMs }

    /// What becomes of a write that arrives.
    enum Arrival: Equatable {
        case queued
        /// Too many are waiting already: answer it `busy` now (nothing changed).
        case answerBusy
    }

    mutating func arrive(_ p: Pending) -> Arrival {
        guard !isFull else { return .answerBusy }
        pending.append(p)
        return .queued
    }

    /// The oldest waiting writes to run in one transaction, at most `max`; nil while there are none
    /// or the lock was found taken too recently. Settle it with `committed` or `failed`.
    func nextBatch(nowMs: Int64, max: Int) -> ArraySlice<Pending>? {
        guard !pending.isEmpty, mayWrite(nowMs: nowMs) else { return nil }
        return pending.prefix(max)
    }

    /// The batch of `count` went through. Returns how long the spell of contention lasted, if there was one.
    mutating func committed(_ count: Int, nowMs: Int64) -> Int64? {
        pending.removeFirst(min(count, pending.count))
        return noteWritten(nowMs: nowMs)
    }

    /// The batch of `count` could not be committed (not a locked board): its writes were answered.
    mutating func failed(_ count: Int) { pending.removeFirst(min(count, pending.count)) }

    /// A write found the lock taken: wait a little longer each time before the next try.
    /// Returns true at the start of a spell (worth a log line; the rest are not).
    mutating func noteLocked(nowMs: Int64) -> Bool {
        heldUntilMs = nowMs + pauseMs
        pauseMs = min(pauseMs * 2, Self.maxPauseMs)
        if lockedSinceMs != nil { return false }
        lockedSinceMs = nowMs
        return true
    }

    /// A write went through. Returns how long the spell of contention lasted, if there was one.
    mutating func noteWritten(nowMs: Int64) -> Int64? {
        heldUntilMs = 0
        pauseMs = Self.firstPauseMs
        defer { lockedSinceMs = nil }
        return lockedSinceMs.map { nowMs - $0 }
    }

    /// Removes and returns the writes whose clients will not wait any longer.
    mutating func takeExpired(nowMs: Int64) -> [Pending] {
        guard pending.contains(where: { $0.deadlineMs <= nowMs }) else { return [] }
        let expired = pending.filter { $0.deadlineMs <= nowMs }
        pending.removeAll { $0.deadlineMs <= nowMs }
        return expired
    }

    /// The earliest moment the loop has something to do for these writes.
    var nextWakeMs: Int64? {
        guard let soonest = pending.lazy.map(\.deadlineMs).min() else { return nil }
        return min(soonest, heldUntilMs)
    }
}
