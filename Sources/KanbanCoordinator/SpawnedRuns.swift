import KanbanModel

/// The runs the core handed to the dispatcher, from the claim until the worker's exit is reported.
/// They fill their lanes' slots, and the core keeps their leases (a spawned worker need not
/// heartbeat itself): the dispatcher never writes to the board.
///
/// A value-type state machine, owner thread only: told of claims, renewals and the dispatcher's
/// reports, it says how many slots a lane has free, whose lease to renew (`renewalsDue`), which runs to
/// look at for a take-back (`awaitingTakeBackCheck`) and whose worker keys to forget (`reported`).
struct SpawnedRuns {
    struct Run {
        let lane: Lane
        let taskID: String
        let runID: Int64
        let tokenHash: String
        let leaseMs: Int64
        /// When its lease is next renewed, on monotonic time.
        var nextBeatMs: Int64
        /// The run's time limit in seconds (the task's, else the lane's), for the record if it overstays.
        let limitSeconds: Int?
        /// Set once the dispatcher reported the worker started (before that there is nothing to stop).
        var started = false
        /// Set once the dispatcher was told to stop the worker (its run was taken back).
        var stopRequested = false
    }

    private(set) var byRun: [Int64: Run] = [:]
    /// Rounds of claiming for spawned lanes so far: the lanes' order rotates by it, so none starves another.
    private(set) var round = 0

    var isEmpty: Bool { byRun.isEmpty }

    /// A run was claimed for a spawned lane (its worker is ordered started next).
    mutating func claimed(_ run: Run) { byRun[run.runID] = run }

    /// The next round of claiming for spawned lanes.
    mutating func nextRound() -> Int {
        round += 1
        return round
    }

    func run(_ runID: Int64) -> Run? { byRun[runID] }

    func count(lane: String) -> Int { byRun.values.reduce(0) { $0 + ($1.lane.name == lane ? 1 : 0) } }

    /// A lane's free slots: the board's count of its running tasks may lag behind ours (a claim whose
    /// worker has not started yet), so the larger counts.
    func freeSlots(_ lane: Lane, runningOnBoard: Int) -> Int {
        lane.maxConcurrency - max(runningOnBoard, count(lane: lane.name))
    }

    func holds(lane: String, taskID: String) -> Bool { byRun.values.contains { $0.lane.name == lane && $0.taskID == taskID } }

    /// The runs whose lease is due for renewal at monotonic `nowMs` (a third of the lease has passed
    /// since the last). After a stall every run is due: renewed before any lease is expired.
    func renewalsDue(monotonicMs nowMs: Int64) -> [Run] { byRun.values.filter { $0.nextBeatMs <= nowMs } }

    /// Their leases were renewed at `nowMs` (the write committed): the next renewal is a third of the lease on.
    mutating func renewed(_ runs: [Run], monotonicMs nowMs: Int64) {
        for run in runs { byRun[run.runID]?.nextBeatMs = nowMs + run.leaseMs / 3 }
    }

    /// The earliest renewal, for the loop's next wake-up.
    var nextBeatMs: Int64? { byRun.values.lazy.map(\.nextBeatMs).min() }

    /// Runs whose worker runs and has not been told to stop: the ones to check for a take-back.
    func awaitingTakeBackCheck() -> [Run] { byRun.values.filter { $0.started && !$0.stopRequested } }

    /// The run was taken back and its worker told to stop: it is not checked again.
    mutating func stopRequested(runID: Int64) { byRun[runID]?.stopRequested = true }

    /// Follows a report the board recorded. Returns the run that ended (its worker's keys are forgotten).
    mutating func reported(_ report: DispatchReport) -> Int64? {
        switch report {
        case .spawnFailed(let runID, _, _), .exited(let runID, _, _):
            byRun[runID] = nil
            return runID
        case .spawned(let runID, _, _, _, _):
            byRun[runID]?.started = true
            return nil
        case .orphanGone, .workspaceRemoved, .memoryHarvested:
            return nil
        }
    }

    /// Every run, forgotten (at shutdown: their workers were stopped and the claims are released).
    mutating func takeAll() -> [Run] {
        defer { byRun = [:] }
        return Array(byRun.values)
    }
}
