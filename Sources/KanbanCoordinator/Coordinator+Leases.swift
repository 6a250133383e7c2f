import Foundation
import KanbanModel
import KanbanStore

/// Leases on monotonic time (docs/OPERATIONS.md, "Leases and the clock").
///
/// Stored expiries are wall-clock: Hermes' CLI and dispatcher read `claim_expires` and compare it
/// with their own wall clock, and a restarted coordinator reads its claims back. When a lease ends is
/// decided here, on the monotonic deadlines `LeaseTimers` keeps (the machine; this is its I/O):
/// - at start, each open claim keeps what its stored expiry says is left (`loadLeases`);
/// - every committed claim and heartbeat moves its deadline (`LeaseTimers.committed`, from the events the
///   store hands over, so a write that rolled back moves nothing);
/// - when the host's wall clock is stepped, the stored expiries are rewritten from the deadlines, so
///   Hermes sees the right end too (`restateLeasesIfWallStepped`). Between the step and that write
///   (one loop turn, or longer while another program holds the write lock) Hermes' dispatcher reads
///   the old dates: after a step forward it may take back a claim whose lease runs (its holder then
///   gets `stale_claim`, as after any take-back); after a step back it waits longer than the lease;
/// - expiry waits after a stall of the coordinator itself until what was queued meanwhile is read
///   (`StallGrace`): a heartbeat sent in time counts.
extension Coordinator {
    /// Both clocks, read together.
    func readClocks() -> ClockReading { ClockReading(wallMs: clock.nowMs(), monotonicMs: clock.monotonicMs()) }

    /// The loop's own pace, in real time: a test's injected clock cannot show the process standing still.
    static func uptimeMs() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }

    /// At start: every open claim's deadline from its stored expiry (remaining = stored − wall now).
    func loadLeases() {
        do {
            leaseTimers.loaded(try store.openClaims(), at: readClocks())
        } catch {
            log.error("could not read the open claims; their leases are not kept", metadata: ["error": "\(error)"])
        }
    }

    /// After the host's wall clock was stepped: stored expiries restated from the monotonic deadlines,
    /// retry backoffs moved along. While the board is locked this waits (decisions do not depend on it).
    func restateLeasesIfWallStepped() {
        let now = readClocks()
        guard let restate = leaseTimers.restateDue(at: now, boardWritable: writes.mayWrite(nowMs: now.wallMs)) else { return }
        let (expiries, jump) = restate
        if attemptWrite("restate lease expiries", { try store.restateLeases(expiries, backoffShiftMs: jump ?? 0) }) != nil {
            leaseTimers.restated(at: now)
            log.notice(jump != nil ? "the wall clock was stepped; stored lease expiries restated (leases run on monotonic time)"
                                   : "stored lease expiries restated after the coordinator stood still",
                       metadata: ["step_ms": "\(jump ?? 0)", "claims": "\(expiries.count)"])
        }
    }

    /// A turn of the loop begins: notes a stall of the coordinator itself, after which expiry waits.
    func noteTurn() {
        logStall(leaseTimers.turnBegins(monotonicMs: clock.monotonicMs(), uptimeMs: Self.uptimeMs()))
    }

    private func logStall(_ stood: Int64?) {
        guard let stood else { return }
        log.notice("the coordinator stood still; live leases extended by the stall, queued requests read before any expires",
                   metadata: ["stall_ms": "\(stood)", "leases": "\(leaseTimers.deadlines.count)"])
    }

    /// Ends the claims whose monotonic deadline passed, once the stall grace allows.
    func expireDueLeases(socketDrained: Bool) {
        logStall(leaseTimers.beforeExpiry(uptimeMs: Self.uptimeMs()))  // a stop in the middle of this turn
        let now = readClocks()
        let due = leaseTimers.expiryDue(at: now, uptimeMs: Self.uptimeMs(), socketDrained: socketDrained)
        guard !due.isEmpty, !timers.leaseTimersHeld(monotonicMs: now.monotonicMs), writes.mayWrite(nowMs: now.wallMs) else { return }
        guard let expired = timerWrite("lease expiry", at: now, {
            try store.expireLeases(runIDs: due, retry: config.retry, nowMs: now.wallMs) }) else { return }
        leaseTimers.ended(due)  // ended now, or earlier without an event we read
        if expired > 0 { log.notice("leases expired; their tasks were retried or given up", metadata: ["count": "\(expired)"]) }
    }

    /// Makes tasks whose retry backoff is over claimable again.
    func endDueBackoffs() {
        let now = readClocks()
        guard let next = try? store.nextBackoffEnd(), next <= now.wallMs, !timers.leaseTimersHeld(monotonicMs: now.monotonicMs),
              writes.mayWrite(nowMs: now.wallMs),
              let ready = timerWrite("ending retry backoffs", at: now, { try store.endBackoffs(nowMs: now.wallMs) }) else { return }
        if ready > 0 { log.info("retry backoff over; tasks claimable again", metadata: ["count": "\(ready)"]) }
    }

    /// A timer's write: while the board is locked it waits; any other failure holds timers for a
    /// second rather than spin on a board that cannot be written right now.
    private func timerWrite<T>(_ what: String, at now: ClockReading, _ body: () throws -> T) -> T? {
        do {
            let value = try store.atomically(body)
            noteWritten(lockedMs: writes.noteWritten(nowMs: now.wallMs))
            return value
        } catch BoardError.busy {
            noteLocked(nowMs: now.wallMs)
        } catch {
            timers.holdLeaseTimers(monotonicMs: now.monotonicMs)
            log.error("\(what) failed; retrying in 1 s", metadata: ["error": "\(error)"])
        }
        return nil
    }
}
