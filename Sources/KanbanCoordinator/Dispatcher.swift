import Foundation
import KanbanModel
import KanbanProtocol
import KanbanStore
import Logging

/// Where the dispatcher puts things and what spawned workers are told.
public struct DispatchSettings: Sendable {
    /// The coordinator's own credentials: a worker gets the lane's, never these.
    public static let notInherited: Set<String> = [
        "KANBAN_BRIDGE_ADMIN_TOKEN", "KANBAN_LANE_TOKEN", "KANBAN_CURVE_KEY_FILE", "KANBAN_CURVE_SECRET_KEY", "KANBAN_CURVE_SERVER_KEY",
    ]
    /// Per-task worker output: `<logDir>/<task>.log`.
    public var logDir: String
    /// Scratch directories and worktrees: `<workspaceRoot>/<lane>/<task>`.
    public var workspaceRoot: String
    /// The board file, passed to Hermes workers as `HERMES_KANBAN_DB`.
    public var boardPath: String
    /// Environment every worker starts from (the coordinator's, minus secrets).
    public var environment: [String: String]
    /// How long a worker gets between SIGTERM and SIGKILL (runtime limit, shutdown).
    public var stopGraceMs: Int64

    public init(logDir: String, workspaceRoot: String, boardPath: String,
                environment: [String: String] = ProcessInfo.processInfo.environment.filter { !Self.notInherited.contains($0.key) },
                stopGraceMs: Int64 = 5000) {
        self.logDir = logDir; self.workspaceRoot = workspaceRoot; self.boardPath = boardPath
        self.environment = environment; self.stopGraceMs = stopGraceMs
    }
}

/// Runs `spawn` and `pool` lanes: claims on the lane's behalf while it has free slots and claimable
/// tasks, starts the lane's command per task, and supervises it. Persistent lanes are never touched.
///
/// Driven by the coordinator's loop (`tick`), on its owner thread: no locks.
final class Dispatcher {
    private struct Worker {
        let pid: pid_t
        let lane: Lane
        let taskID: String
        let runID: Int64
        let claimToken: String
        let leaseMs: Int64
        var nextBeatMs: Int64
        /// The run's time limit in seconds, and when it runs out.
        let limitSeconds: Int?
        let deadlineMs: Int64?
        /// Set once SIGTERM went out; SIGKILL follows after the grace period.
        var terminatedAtMs: Int64?
        var stoppedForRuntime = false
    }

    private let store: BoardStore
    private let operations: Operations
    private let authenticator: Authenticator
    private let settings: DispatchSettings
    private let retry: RetryPolicy
    private let clock: Clock
    private let log: Logger
    private let workspaces: Workspaces
    private let logs: WorkerLogs
    private var workers: [Worker] = []
    private var round = 0
    private var recovered = false
    /// The sockets workers report to, known once the coordinator has bound them.
    var endpoints: (command: String, events: String) = ("", "")
    /// The coordinator's CURVE public key, when it runs CURVE: workers then get a lane keypair.
    var curveServerKey: String?

    init(store: BoardStore, operations: Operations, authenticator: Authenticator, settings: DispatchSettings,
         retry: RetryPolicy, clock: Clock, log: Logger) {
        self.store = store; self.operations = operations; self.authenticator = authenticator
        self.settings = settings; self.retry = retry; self.clock = clock; self.log = log
        self.workspaces = Workspaces(root: settings.workspaceRoot)
        self.logs = WorkerLogs(dir: settings.logDir)
    }

    /// Reaps finished workers, enforces runtime limits, keeps leases of live workers, starts new ones.
    func tick() {
        if !recovered {
            recovered = true
            recoverOrphans()
        }
        reap()
        supervise(now: clock.nowMs())
        dispatch()
    }

    // MARK: After a crash

    /// After a coordinator crash (kill -9, power loss), claims of spawned lanes can still be live
    /// while their workers run on unsupervised, or are gone. Neither may go on: nobody keeps an
    /// orphan's lease, so its task would time out and run twice. Each such worker is stopped and its
    /// task taken back (`reclaimed`, ready again at once; no failure counted, the crash was ours).
    private func recoverOrphans() {
        guard let summaries = try? store.lanes() else { return }
        for s in summaries where s.lane.kind.isSpawned {
            for claim in s.claims where !workers.contains(where: { $0.runID == claim.runID }) {
                // Only runs this dispatcher started (they have a `spawned` event): a claim a client
                // made over the wire for a spawn lane is that client's business.
                guard let pid = try? store.spawnedPID(runID: claim.runID) else { continue }
                var what = "its worker was no longer running"
                if ProcessControl.isWorker(pid, runID: claim.runID) {
                    ProcessControl.stopGroup(pid, graceMs: settings.stopGraceMs)
                    what = "its worker (pid \(pid)) was stopped"
                }
                let reason = "coordinator restarted after a crash; \(what)"
                do {
                    _ = try store.reclaimTask(id: claim.taskID, reason: reason, nowMs: clock.nowMs())
                    log.notice("took back a spawned task left over from a crash", metadata: [
                        "lane": "\(s.lane.name)", "task": "\(claim.taskID)", "run": "\(claim.runID)", "worker": "\(what)",
                    ])
                } catch {
                    log.error("could not take back a spawned task left over from a crash", metadata: [
                        "task": "\(claim.taskID)", "error": "\(error)",
                    ])
                }
            }
        }
    }

    // MARK: Starting workers

    /// Looking for work reads every lane's slots and queue: at most this often, not on every turn of a
    /// loop that may turn thousands of times a second under load. A task waits at most this long.
    static let scanIntervalMs: Int64 = 25
    private var lastScanMs: Int64 = 0

    private func dispatch() {
        let now = clock.nowMs()
        guard now - lastScanMs >= Self.scanIntervalMs || now < lastScanMs else { return }
        lastScanMs = now
        guard let candidates = try? store.spawnableLanes() else { return }
        var open: [String: (lane: Lane, free: Int)] = [:]
        for (lane, running) in candidates where !(lane.command ?? []).isEmpty {
            let free = lane.maxConcurrency - max(running, workers.filter { $0.lane.name == lane.name }.count)
            if free > 0 { open[lane.name] = (lane, free) }
        }
        guard !open.isEmpty else { return }
        round += 1
        // One task per lane per pass, lanes in rotating order: no lane starves another.
        while !open.isEmpty {
            for name in LaneRotation.order(Array(open.keys), round: round) {
                guard let entry = open[name] else { continue }
                if start(entry.lane), entry.free > 1 {
                    open[name] = (entry.lane, entry.free - 1)
                } else {
                    open[name] = nil
                }
            }
        }
    }

    /// Claims one task for the lane and starts its worker; false when the lane had nothing to claim.
    private func start(_ lane: Lane) -> Bool {
        let grant: ClaimGrant
        do {
            guard let g = try operations.claim(ClaimRequest(lane: lane.name)) else { return false }
            grant = g
        } catch {
            log.error("dispatcher could not claim", metadata: ["lane": "\(lane.name)", "error": "\(error)"])
            return false
        }
        let task = grant.task
        do {
            let workspace = try workspaces.prepare(lane: lane, taskID: task.id)
            let argv = CommandTemplate.render(lane.command ?? [], [
                "task_id": task.id, "run_id": String(grant.runID), "lane": lane.name, "profile": lane.profile ?? "",
                "workspace": workspace ?? "", "title": task.title,
            ])
            let fd = try logs.open(taskID: task.id, header: "=== run \(grant.runID) of \(task.id) on lane \(lane.name) at "
                                   + "\(Date()): \(argv.joined(separator: " "))\n")
            defer { close(fd) }
            let pid = try ProcessControl.spawn(argv, environment: environment(lane: lane, grant: grant, workspace: workspace),
                                               cwd: workspace, outputFD: fd)
            let now = clock.nowMs()
            let leaseMs = grant.leaseExpiresAtMs - now
            let limit = task.maxRuntimeSeconds ?? lane.maxRuntimeSeconds
            workers.append(Worker(pid: pid, lane: lane, taskID: task.id, runID: grant.runID, claimToken: grant.token,
                                  leaseMs: leaseMs, nextBeatMs: now + leaseMs / 3, limitSeconds: limit,
                                  deadlineMs: limit.map { now + Int64($0) * 1000 }))
            try? store.noteSpawned(taskID: task.id, runID: grant.runID, lane: lane.name, pid: pid, workspace: workspace, nowMs: now)
            log.info("spawned", metadata: ["lane": "\(lane.name)", "task": "\(task.id)", "run": "\(grant.runID)", "pid": "\(pid)"])
        } catch {
            log.error("spawn failed", metadata: ["lane": "\(lane.name)", "task": "\(task.id)", "error": "\(error)"])
            _ = try? store.failClaim(runID: grant.runID, outcome: "spawn_failed", error: "\(error)",
                                     payload: ["error": .string("\(error)")], retry: retry, nowMs: clock.nowMs())
        }
        return true
    }

    /// What a worker is told: the claim, where to report, and the variables Hermes' own workers read.
    private func environment(lane: Lane, grant: ClaimGrant, workspace: String?) -> [String: String] {
        var env = settings.environment
        let lock = ClaimLock.make(lane: lane.name, runID: grant.runID)
        env["KANBAN_BRIDGE_ENDPOINT"] = endpoints.command
        env["KANBAN_BRIDGE_EVENTS"] = endpoints.events
        env["KANBAN_TASK"] = grant.task.id
        env["KANBAN_RUN_ID"] = String(grant.runID)
        env["KANBAN_CLAIM_TOKEN"] = grant.token
        env["KANBAN_LANE"] = lane.name
        env["KANBAN_LANE_TOKEN"] = authenticator.workerToken(lane: lane.name)
        env["KANBAN_WORKSPACE"] = workspace ?? ""
        if let curveServerKey {
            // Generating a keypair cannot fail with a CURVE-capable libzmq, which serve checked at start.
            if let keys = try? authenticator.workerKeys.keys(forLane: lane.name) {
                env["KANBAN_CURVE_SERVER_KEY"] = curveServerKey
                env["KANBAN_CURVE_SECRET_KEY"] = keys.secretKey
            }
        }
        env["HERMES_KANBAN_TASK"] = grant.task.id
        env["HERMES_KANBAN_RUN_ID"] = String(grant.runID)
        env["HERMES_KANBAN_CLAIM_LOCK"] = lock
        env["HERMES_KANBAN_DB"] = settings.boardPath
        if let workspace {
            env["HERMES_KANBAN_WORKSPACE"] = workspace
            env["TERMINAL_CWD"] = workspace
        }
        if let profile = lane.profile { env["HERMES_PROFILE"] = profile }
        if let tenant = grant.task.tenant { env["HERMES_TENANT"] = tenant }
        return env
    }

    // MARK: Supervision

    /// Runtime limits (SIGTERM, then SIGKILL after the grace period) and leases kept alive while
    /// the worker process lives: a spawned worker need not heartbeat itself.
    private func supervise(now: Int64) {
        for i in workers.indices {
            if let killAt = workers[i].terminatedAtMs {
                if now - killAt >= settings.stopGraceMs { ProcessControl.signalGroup(workers[i].pid, SIGKILL) }
                continue
            }
            if let deadline = workers[i].deadlineMs, now >= deadline {
                log.notice("run over its time limit; stopping it", metadata: ["task": "\(workers[i].taskID)", "pid": "\(workers[i].pid)"])
                workers[i].stoppedForRuntime = true
                workers[i].terminatedAtMs = now
                ProcessControl.signalGroup(workers[i].pid, SIGTERM)
                continue
            }
            if now >= workers[i].nextBeatMs {
                workers[i].nextBeatMs = now + workers[i].leaseMs / 3
                let proof = ClaimProof(principal: .admin, taskID: workers[i].taskID, tokenHash: Secrets.hash(workers[i].claimToken))
                _ = try? store.heartbeat(proof, note: nil, metadata: nil, nowMs: now)
            }
        }
    }

    /// Workers that exited: a run still open when its worker exits ended without completing or
    /// blocking, so it is `crashed` (or `timed_out`, if we stopped it for overstaying).
    private func reap() {
        var still: [Worker] = []
        for w in workers {
            guard let status = ProcessControl.reap(w.pid) else { still.append(w); continue }
            finish(w, status)
        }
        workers = still
    }

    private func finish(_ w: Worker, _ status: ExitStatus) {
        let now = clock.nowMs()
        var data = status.fields
        data["pid"] = .int(Int64(w.pid))
        if (try? store.isClaimLive(runID: w.runID)) == true {
            let outcome = w.stoppedForRuntime ? EventType.timedOut : "crashed"
            if w.stoppedForRuntime, let limit = w.limitSeconds { data["limit_seconds"] = .int(Int64(limit)) }
            let why = w.stoppedForRuntime ? "exceeded its run time limit" : "worker exited without completing or blocking (\(status))"
            _ = try? store.failClaim(runID: w.runID, outcome: outcome, error: why, payload: .object(data), retry: retry, nowMs: now)
            log.notice("worker ended its run without finishing it", metadata: ["task": "\(w.taskID)", "outcome": "\(outcome)", "status": "\(status)"])
        } else {
            log.info("worker exited", metadata: ["task": "\(w.taskID)", "status": "\(status)"])
        }
        if w.lane.workspacePolicy == .scratch, !w.lane.keepWorkspaces, (try? store.task(id: w.taskID))??.task.status == .done {
            try? workspaces.remove(lane: w.lane, taskID: w.taskID)
        }
    }

    // MARK: Stopping

    /// Stops every worker (SIGTERM, SIGKILL after the grace period) and releases the claims they held,
    /// so their tasks are ready again at once. Nothing is left running.
    func shutdown() {
        guard !workers.isEmpty else { return }
        log.notice("stopping spawned workers", metadata: ["count": "\(workers.count)"])
        for w in workers { ProcessControl.signalGroup(w.pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(Double(settings.stopGraceMs) / 1000)
        var left = workers
        while !left.isEmpty {
            left = left.filter { w in
                guard let status = ProcessControl.reap(w.pid) else { return true }
                release(w, status)
                return false
            }
            if left.isEmpty { break }
            if Date() >= deadline {
                for w in left {
                    ProcessControl.signalGroup(w.pid, SIGKILL)
                    release(w, ProcessControl.reap(w.pid, wait: true) ?? .signaled(SIGKILL))
                }
                break
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        workers = []
    }

    private func release(_ w: Worker, _ status: ExitStatus) {
        let proof = ClaimProof(principal: .admin, taskID: w.taskID, tokenHash: Secrets.hash(w.claimToken))
        if (try? store.endClaim(proof, .release(reason: "coordinator stopped; its worker was stopped (\(status))"), nowMs: clock.nowMs())) != nil {
            log.info("released the claim of a stopped worker", metadata: ["task": "\(w.taskID)", "run": "\(w.runID)"])
        }
    }

    /// Removes the workspaces of tasks that are done or archived (or gone), on `lane` or every spawned
    /// lane; never one a live worker uses. Returns "lane/task" for each removed.
    func prune(lane only: String?) throws -> [String] {
        var removed: [String] = []
        for lane in try store.lanes().map(\.lane) where lane.kind.isSpawned && (only == nil || lane.name == only) {
            for taskID in workspaces.taskIDs(lane: lane.name) where !workers.contains(where: { $0.taskID == taskID }) {
                let status = try store.task(id: taskID)?.task.status
                guard status == nil || status == .done || status == .archived else { continue }
                try workspaces.remove(lane: lane, taskID: taskID)
                removed.append("\(lane.name)/\(taskID)")
            }
        }
        if !removed.isEmpty { log.info("pruned workspaces", metadata: ["count": "\(removed.count)"]) }
        return removed
    }

    /// Live workers per lane, for views.
    var runningByLane: [String: Int] { Dictionary(workers.map { ($0.lane.name, 1) }, uniquingKeysWith: +) }
}
