import KanbanModel
import KanbanProtocol

/// Who may call which op: the one place the authorization model is enforced.
///
/// | op | admin | lane | no credential |
/// | --- | --- | --- | --- |
/// | `ping` | yes | yes | yes |
/// | `lane.register/update/remove/rotate-token`, `task.create/assign/link/reclaim/unblock`, `workspace.prune` | yes | forbidden | unauthorized |
/// | `lane.list/get`, `task.get/list`, `events`, `stats` | yes | yes (read the board) | unauthorized |
/// | `claim` | yes, for any lane | only `lane` = itself | unauthorized |
/// | `heartbeat/complete/block/release` | with the claim token | with its own claim's token | unauthorized |
///
/// Claim-scoped checks (token owner, live claim) happen in the store, inside the write transaction.
public enum AccessPolicy {
    /// The answer to a request without a valid credential (every op but `ping`).
    public static let unauthorized = WireError(.unauthorized, "missing or unknown credential in 'auth'")

    /// Nil when allowed, else the error to answer with.
    public static func check(_ principal: Principal?, _ request: Request) -> WireError? {
        if case .ping = request { return nil }
        guard let principal else { return unauthorized }
        guard case .lane(let caller) = principal else { return nil }
        switch request {
        case .ping, .laneList, .laneGet, .taskGet, .taskList, .events, .stats,
             .heartbeat, .complete, .block, .release:
            return nil
        case .claim(let c):
            return c.lane == caller ? nil : WireError(.forbidden, "lane '\(caller)' cannot claim for lane '\(c.lane)'")
        case .laneRegister, .laneUpdate, .laneRemove, .laneRotateToken, .taskCreate, .taskAssign, .taskLink,
             .taskReclaim, .taskUnblock, .workspacePrune:
            return WireError(.forbidden, "only the admin may do this; lane '\(caller)' may claim, work its own claims and read")
        }
    }
}
