import Foundation
import KanbanModel
import KanbanStore

/// Leases on monotonic time (docs/OPERATIONS.md, "Leases and the clock").
///
/// Stored expiries are wall-clock: Hermes' CLI and dispatcher read `claim_expires` and compare it
/// with their own wall clock, and a restarted coordinator reads its claims back. When a lease ends is
/// decided here, on the monotonic deadlines in `leases`:
/// - at start, each open claim keeps what its stored expiry says is left (`loadLeases`);
/// - every committed claim and heartbeat moves its deadline (`noteLeaseEvents`, from the events the
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
        let now = readClocks()
        do {
            for claim in try store.openClaims() { leases.track(runID: claim.runID, storedExpiryMs: claim.leaseExpiresAtMs, at: now) }
        } catch {
            log.error("could not read the open claims; their leases are not kept", metadata: ["error": "\(error)"])
        }
        _ = wallWatch.jump(at: now)  // the stored expiries are right as of now
    }

    /// Follows committed lease changes: a bridge claim opened or extended (its event carries the stored
    /// expiry) or a run ended (its outcome's event, ours or Hermes').
    func noteLeaseEvents(_ events: [BoardEvent]) {
        guard !events.isEmpty else { return }
        let now = readClocks()
        for event in events {
            guard let runID = event.runID else { continue }
            if RunOutcome(rawValue: event.type) != nil {
                leases.forget(runID: runID)
            } else if let expires = event.data["lease_expires_at_ms"]?.intValue,
                      event.type == EventKind.claimed.rawValue || event.type == EventKind.heartbeat.rawValue {
                leases.track(runID: runID, storedExpiryMs: expires, writtenAtMs: event.atMs, seen: now, turnBeganMs: turnBeganMs)
            }
        }
    }

    /// After the host's wall clock was stepped: stored expiries restated from the monotonic deadlines,
    /// retry backoffs moved along. While the board is locked this waits (decisions do not depend on it).
    func restateLeasesIfWallStepped() {
        let now = readClocks()
        let jump = wallWatch.jump(at: now)
        guard jump != nil || leasesPostponed, writes.mayWrite(nowMs: now.wallMs) else { return }
        let expiries = leases.storedExpiries(at: now)
        if attemptWrite("restate lease expiries", { try store.restateLeases(expiries, backoffShiftMs: jump ?? 0) }) != nil {
            wallWatch.restated(at: now)
            leasesPostponed = false
            log.notice(jump != nil ? "the wall clock was stepped; stored lease expiries restated (leases run on monotonic time)"
                                   : "stored lease expiries restated after the coordinator stood still",
                       metadata: ["step_ms": "\(jump ?? 0)", "claims": "\(expiries.count)"])
        }
    }

    /// A turn of the loop begins: notes a stall of the coordinator itself, after which expiry waits.
    func noteTurn() {
        turnBeganMs = clock.monotonicMs()
        if let stood = stallGrace.turnBegins(atMs: Self.uptimeMs()), stood > 0 {
            // Its own stall is not the workers' time: every live lease runs that much longer, and the
            // stored expiries (what Hermes and a restart read) are restated to match.
            leases.postpone(byMs: stood)
            leasesPostponed = !leases.isEmpty
            log.notice("the coordinator stood still; live leases extended by the stall, queued requests read before any expires",
                       metadata: ["stall_ms": "\(stood)", "leases": "\(leases.count)"])
        }
    }

    /// Ends the claims whose monotonic deadline passed, once the stall grace allows.
    func expireDueLeases() {
        let now = readClocks()
        let graceOver = stallGrace.mayExpire(atMs: Self.uptimeMs(), socketDrained: socketDrained)
        let due = leases.due(atMonotonicMs: now.monotonicMs)
        guard !due.isEmpty, graceOver, now.monotonicMs >= timersHeldUntilMs, writes.mayWrite(nowMs: now.wallMs) else { return }
        guard let expired = timerWrite("lease expiry", at: now, {
            try store.expireLeases(runIDs: due, retry: config.retry, nowMs: now.wallMs) }) else { return }
        for runID in due { leases.forget(runID: runID) }  // ended now, or earlier without an event we read
        if expired > 0 { log.notice("leases expired; their tasks were retried or given up", metadata: ["count": "\(expired)"]) }
    }

    /// Makes tasks whose retry backoff is over claimable again.
    func endDueBackoffs() {
        let now = readClocks()
        guard let next = try? store.nextBackoffEnd(), next <= now.wallMs, now.monotonicMs >= timersHeldUntilMs,
              writes.mayWrite(nowMs: now.wallMs),
              let ready = timerWrite("ending retry backoffs", at: now, { try store.endBackoffs(nowMs: now.wallMs) }) else { return }
        if ready > 0 { log.info("retry backoff over; tasks claimable again", metadata: ["count": "\(ready)"]) }
    }

    /// A timer's write: while the board is locked it waits; any other failure holds timers for a
    /// second rather than spin on a board that cannot be written right now.
    private func timerWrite<T>(_ what: String, at now: ClockReading, _ body: () throws -> T) -> T? {
        do {
            let value = try store.atomically(body)
            noteWritten(nowMs: now.wallMs)
            return value
        } catch BoardError.busy {
            noteLocked(nowMs: now.wallMs, waiting: writes.pending.count)
        } catch {
            timersHeldUntilMs = now.monotonicMs + 1000
            log.error("\(what) failed; retrying in 1 s", metadata: ["error": "\(error)"])
        }
        return nil
    }

    /// How long the loop may sleep before a lease deadline, a renewal, a backoff end or the stall
    /// grace's end needs it, at most `cap`.
    func timerWaitMs(cap: Int64) -> Int64 {
        let now = readClocks()
        // Timers write: not before the write lock may be tried again, nor before a failure's hold.
        let writeHold = max(0, writes.heldUntilMs - now.wallMs, timersHeldUntilMs - now.monotonicMs)
        var wait = cap
        if let d = leases.nextDeadline { wait = min(wait, max(d - now.monotonicMs, writeHold)) }
        if let d = try? store.nextBackoffEnd() { wait = min(wait, max(d - now.wallMs, writeHold)) }
        if let d = spawnedRuns.nextBeatMs { wait = min(wait, max(d - now.monotonicMs, writeHold)) }
        if let d = stallGrace.holdEndsMs { wait = min(wait, d - Self.uptimeMs()) }
        return max(0, wait)
    }
}
