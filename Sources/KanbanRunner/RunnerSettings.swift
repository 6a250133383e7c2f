import Foundation
import KanbanModel

/// One lane a runner serves on its host: the lane's command and workspace (as a pool declares them),
/// how many tasks at once here, and what each exit status means.
public struct RunnerLane: Sendable {
    /// Name, command, workspace policy, repo, profile, lease and runtime limit, as `serve` reads a pool.
    public var lane: Lane
    /// Tasks this runner runs at once for the lane. The lane's `max_concurrency` on the coordinator
    /// bounds all of its runners together (a claim past it is refused `lane_full` and waits).
    public var slots: Int
    public var exits: ExitPolicy

    public init(lane: Lane, slots: Int, exits: ExitPolicy = .standard) {
        self.lane = lane; self.slots = slots; self.exits = exits
    }
}

/// Where a runner works and how it talks to the coordinator.
public struct RunnerSettings: Sendable {
    public var lanes: [RunnerLane]
    /// Workspaces on this host: `<root>/<lane>/<task segment>`, as the coordinator lays them out.
    public var workspaceRoot: String
    /// The environment each worker starts from (the runner's own, minus credentials), plus what the
    /// worker needs to reach the coordinator itself (`KANBAN_BRIDGE_ENDPOINT` and the lane's credential).
    public var environment: [String: String]
    /// How long one blocking claim waits for work before it is asked again.
    public var claimWaitMs: Int = 20_000
    /// SIGTERM → SIGKILL for a worker stopped for its time limit, a lost claim or the drain deadline.
    public var stopGraceMs: Int64 = 5_000
    /// After SIGTERM, how long running tasks may go on before they are stopped and released.
    public var drainSeconds: Int = 60
    public var host: String
    public var pid: Int
    public var version: String

    public init(lanes: [RunnerLane], workspaceRoot: String, environment: [String: String], host: String, pid: Int, version: String) {
        self.lanes = lanes; self.workspaceRoot = workspaceRoot; self.environment = environment
        self.host = host; self.pid = pid; self.version = version
    }
}
