import KanbanModel

/// The runs the core handed to the dispatcher, from the claim until the worker's exit is reported.
/// They fill their lanes' slots, and the core keeps their leases (a spawned worker need not
/// heartbeat itself): the dispatcher never writes to the board. Owner thread only.
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

    var isEmpty: Bool { byRun.isEmpty }

    mutating func add(_ run: Run) { byRun[run.runID] = run }

    @discardableResult
    mutating func remove(runID: Int64) -> Run? { byRun.removeValue(forKey: runID) }

    func count(lane: String) -> Int { byRun.values.reduce(0) { $0 + ($1.lane.name == lane ? 1 : 0) } }

    func holds(lane: String, taskID: String) -> Bool { byRun.values.contains { $0.lane.name == lane && $0.taskID == taskID } }

    /// The runs whose lease is due for renewal at monotonic `nowMs` (a third of the lease has passed
    /// since the last). After a stall every run is due: renewed before any lease is expired.
    func due(monotonicMs nowMs: Int64) -> [Run] { byRun.values.filter { $0.nextBeatMs <= nowMs } }

    mutating func renewed(runID: Int64, monotonicMs nowMs: Int64) {
        guard var run = byRun[runID] else { return }
        run.nextBeatMs = nowMs + run.leaseMs / 3
        byRun[runID] = run
    }

    var nextBeatMs: Int64? { byRun.values.map(\.nextBeatMs).min() }

    mutating func markStopRequested(runID: Int64) { byRun[runID]?.stopRequested = true }

    mutating func markStarted(runID: Int64) { byRun[runID]?.started = true }
}
