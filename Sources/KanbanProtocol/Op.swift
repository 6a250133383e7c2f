/// The `op` names of protocol v1: the wire's vocabulary, in one place. `Request.op` maps every
/// request to one, `RequestDecoder` switches over them and `RequestEncoder` writes them, all
/// exhaustively, so a new op cannot be half added.
public enum Op: String, CaseIterable, Sendable {
    case ping
    case laneRegister = "lane.register"
    case laneUpdate = "lane.update"
    case laneList = "lane.list"
    case laneGet = "lane.get"
    case laneRemove = "lane.remove"
    case laneRotateToken = "lane.rotate-token"
    case taskCreate = "task.create"
    case taskGet = "task.get"
    case taskList = "task.list"
    case taskLog = "task.log"
    case taskAssign = "task.assign"
    case taskLink = "task.link"
    case taskReclaim = "task.reclaim"
    case taskUnblock = "task.unblock"
    case workspacePrune = "workspace.prune"
    case claim
    case heartbeat
    case complete
    case block
    case release
    /// A claim's worker failed (a runner's exit status mapped to `crashed`): counted as a failure.
    case fail
    /// A chunk of a claim's worker output, kept where the coordinator keeps worker logs.
    case logAppend = "log.append"
    /// A runner says what it is (host, pid, slots) and what it runs; `lane.list` shows it.
    case runnerReport = "runner.report"
    case events
    case stats

    /// True for ops that change the board (and so honour `request_id`; clients send one with each,
    /// so a retry is answered from the first reply). No default: a new op must be classified here.
    public var isMutation: Bool {
        switch self {
        case .ping, .laneList, .laneGet, .taskGet, .taskList, .taskLog, .events, .stats, .runnerReport:
            return false
        case .laneRegister, .laneUpdate, .laneRemove, .laneRotateToken, .taskCreate, .taskAssign, .taskLink,
             .taskReclaim, .taskUnblock, .workspacePrune, .claim, .heartbeat, .complete, .block, .release, .fail, .logAppend:
            return true
        }
    }
}
