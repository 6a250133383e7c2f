/// Event kinds Hermes writes into `task_events` that the bridge never writes itself. The change watcher
/// imports them unchanged (`BoardEvent.type`); this says how to read them. Checked against Hermes 0.19.0
/// (installed) and its newer source, 0.21.x and main (hermes_cli/kanban_db.py and kanban_db_dispatch.py).
public enum HermesEventKinds {
    /// Bookkeeping of Hermes' dispatcher that asks nobody to act. `skipped_nonspawnable` is written on every
    /// ready card assigned to a name that is no Hermes profile, a lane's cards included: expected on a
    /// board with lanes, never an alarm. `reconciled` requeues a `running` card whose claim fields are
    /// NULL (never a live bridge claim: those always carry both).
    public static let informational: Set<String> = [
        "skipped_nonspawnable", "reconciled", "claim_extended", "respawn_guarded", "worker_registered",
        "terminal_worker_reaped", "reclaim_deferred", "tip_scratch_workspace", "spawned", "heartbeat",
    ]

    /// Kinds after which newer Hermes has put a task back to `ready` (beside 0.19's `reclaimed`,
    /// `crashed`, `timed_out` …): the watcher announces such a task to lanes again.
    public static let requeued: Set<String> = ["reconciled", "rate_limited", "protocol_violation"]
}
