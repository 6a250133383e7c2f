import KanbanModel
import KanbanProtocol

/// Who may call which op: the one place the authorization model is enforced.
///
/// | op | admin | lane | worker (spawned, one run) | no credential |
/// | --- | --- | --- | --- | --- |
/// | `ping` | yes | yes | yes | yes (at most `DecodeLimits.maxUnauthenticatedBytes`) |
/// | `lane.register/update/remove/rotate-token`, `task.create/assign/link/reclaim/unblock`, `workspace.prune` | yes | forbidden | forbidden | unauthorized |
/// | `lane.list/get`, `task.list`, `events`, `stats` | yes | yes (read the board) | forbidden | unauthorized |
/// | `task.get` | yes | yes | its run's task and that task's parents | unauthorized |
/// | `task.log` | yes | yes | its run's task only | unauthorized |
/// | `claim` | yes, for any lane | only `lane` = itself | forbidden | unauthorized |
/// | `heartbeat/complete/block/release/fail`, `log.append` | with the claim token | with its own claim's token | its own run's claim only (no `claim_next`) | unauthorized |
/// | `runner.report` | yes | only `lane` = itself | forbidden | unauthorized |
///
/// Claim-scoped checks (token owner, live claim, a worker's run) happen in the store, inside the
/// write transaction; a worker's `task.get` is checked where the task is read (`Operations`).
public enum AccessPolicy {
    /// The answer to a request without a valid credential (every op but `ping`).
    public static let unauthorized = WireError(.unauthorized, "missing or unknown credential in 'auth'")

    /// Nil when allowed, else the error to answer with.
    public static func check(_ principal: Principal?, _ request: Request) -> WireError? {
        if case .ping = request { return nil }
        guard let principal else { return unauthorized }
        switch principal {
        case .admin: return nil
        case .lane(let caller): return laneCheck(caller, request)
        case .worker(let lane, let runID): return workerCheck(lane, runID, request)
        }
    }

    private static func laneCheck(_ caller: String, _ request: Request) -> WireError? {
        switch request {
        case .ping, .laneList, .laneGet, .taskGet, .taskList, .taskLog, .events, .stats,
             .heartbeat, .complete, .block, .release, .fail, .logAppend:
            return nil
        case .claim(let c):
            return c.lane == caller ? nil : WireError(.forbidden, "lane '\(caller)' cannot claim for lane '\(c.lane)'")
        case .runnerReport(let r):
            return r.lane == caller ? nil : WireError(.forbidden, "lane '\(caller)' cannot report a runner of lane '\(r.lane)'")
        case .laneRegister, .laneUpdate, .laneRemove, .laneRotateToken, .taskCreate, .taskAssign, .taskLink,
             .taskReclaim, .taskUnblock, .workspacePrune:
            return WireError(.forbidden, "only the admin may do this; lane '\(caller)' may claim, work its own claims and read")
        }
    }

    /// A spawned worker's token is scoped to its run: a finished run's worker (or anything that
    /// copied its environment) must not read the board, subscribe, or take the pool's slots.
    private static func workerCheck(_ lane: String, _ runID: Int64, _ request: Request) -> WireError? {
        let scope = "a worker's token acts only on its own run (\(lane) run \(runID)): heartbeat, complete, block, release, and task.get of its task and its parents"
        switch request {
        case .ping, .taskGet, .taskLog, .heartbeat, .block, .release, .fail, .logAppend:
            return nil  // task.get and task.log: which tasks is checked where they are read (Operations)
        case .complete(_, _, _, _, let claimNext):
            return claimNext ? WireError(.forbidden, "claim_next: " + scope) : nil
        case .laneList, .laneGet, .taskList, .events, .stats, .claim, .laneRegister, .laneUpdate, .laneRemove,
             .laneRotateToken, .taskCreate, .taskAssign, .taskLink, .taskReclaim, .taskUnblock, .workspacePrune, .runnerReport:
            return WireError(.forbidden, scope)
        }
    }
}
