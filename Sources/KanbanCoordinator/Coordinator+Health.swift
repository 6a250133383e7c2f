import KanbanModel
import KanbanStore
import Logging

/// What the loop remembers of the board's health between turns (its pacing is `LoopTimers`': the
/// re-check of a quarantine, `integrityRecheck`, and the hold on promotions after a failed batch).
struct HealthWatch {
    var checkStarted = false
    var reported: IntegrityStatus = .notChecked
}

/// The board's consistency and the promotions left for later turns (issue #19, findings 3 and 7).
extension Coordinator {
    /// One turn's share: a batch of pending promotions, the integrity check's result, inconsistencies
    /// found since the last turn. Nothing here waits: the check runs on its own thread and connection.
    func keepBoardHealthy(pace: LoopTimers.Now) {
        let now = clock.nowMs()
        if store.hasPendingPromotions, !timers.promotionsHeld(wallMs: now) {
            // One batch a turn, in its own transaction: a fan-out of 10,000 never holds the loop for more
            // than a batch (`Readiness.promotionBatch`), and requests are served between batches.
            if attemptWrite("promote children whose parents finished", { try store.continuePromotions(nowMs: now) }) == nil {
                timers.holdPromotions(wallMs: now)
            }
        }
        for finding in store.takeInconsistencies() {
            log.error("the board contradicts itself about a task; it is skipped for claims until the board is repaired (run `kanban-bridge doctor`)",
                      metadata: ["task": "\(finding.taskID)", "what": "\(finding.what)"])
        }
        if !health.checkStarted {
            health.checkStarted = store.startIntegrityCheck()
            timers.ran(.integrityRecheck, at: pace)
        }
        let state = store.health()
        if state.integrity != health.reported {
            health.reported = state.integrity
            logIntegrity(state.integrity)
        }
        // A quarantine is re-checked every so often: a clean check (after `REINDEX`) lifts it without a restart.
        if !state.quarantined.isEmpty, state.integrity != .pending, timers.isDue(.integrityRecheck, at: pace) {
            timers.ran(.integrityRecheck, at: pace)
            store.startIntegrityCheck()
        }
    }

    func logIntegrity(_ status: IntegrityStatus) {
        switch status {
        case .notChecked, .pending: break
        case .ok: log.info("board integrity check: ok")
        case .problems(let count, let first):
            log.error("board integrity check found problems; run `kanban-bridge doctor` for the way to repair",
                      metadata: ["problems": "\(count)", "first": "\(first.joined(separator: "; "))"])
        case .failed(let why):
            log.warning("board integrity check could not run", metadata: ["error": "\(why)"])
        }
    }
}
