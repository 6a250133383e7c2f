import Foundation
import KanbanModel
import KanbanProtocol
import KanbanStore
import Logging
import Synchronization

/// Where the dispatcher puts things and what spawned workers are told.
public struct DispatchSettings: Sendable {
    /// The coordinator's own credentials: a worker gets the lane's, never these.
    public static let notInherited: Set<String> = [
        "KANBAN_BRIDGE_ADMIN_TOKEN", "KANBAN_LANE_TOKEN", "KANBAN_CURVE_KEY_FILE", "KANBAN_CURVE_SECRET_KEY", "KANBAN_CURVE_SERVER_KEY",
    ]
    /// Per-task worker output: `<logDir>/<task segment>.log` (`WorkspaceLayout`).
    public var logDir: String
    /// Scratch directories and worktrees: `<workspaceRoot>/<lane>/<task segment>` (`WorkspaceLayout`).
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

    /// `environment` with the coordinator's own CLI where a worker looks for it: its directory first on
    /// PATH (a pool command that runs `kanban-bridge complete` finds the same version as its
    /// coordinator, installed or not), and `KANBAN_BRIDGE_BIN` naming it unless already set.
    public static func withOwnCLI(_ environment: [String: String], cli: String) -> [String: String] {
        var env = environment
        let dir = (cli as NSString).deletingLastPathComponent
        let path = (env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        env["PATH"] = ([dir] + path.filter { $0 != dir }).joined(separator: ":")
        if env["KANBAN_BRIDGE_BIN"] == nil { env["KANBAN_BRIDGE_BIN"] = cli }
        return env
    }
}

/// The slow half of running `spawn` and `pool` lanes: workspaces (git), starting workers, reaping
/// them, runtime limits (TERM, then KILL), stopping orphans after a crash, removing workspaces.
///
/// It runs on threads of its own and never touches the board or the sockets: the core claims on the
/// lanes' behalf, keeps the leases and records outcomes, and talks to it by messages (`DispatchOrder`
/// in, `DispatchReport` out through `reports`). So a `git worktree add` of a large repository, a
/// worker that ignores SIGTERM or a slow disk delays only the workers concerned, never a request.
///
/// The workshop prepares workspaces, starts workers and removes workspaces: per repository (or per
/// lane without one) in the order the core asked, different repositories side by side, at most
/// `workshopWidth` jobs at once (`WorkshopSchedule`). The supervisor thread polls every `tickMs` for
/// exits, limits and orphans. The live workers are shared between them under a lock.
final class Dispatcher: @unchecked Sendable {
    private struct Worker {
        let pid: pid_t
        let laneName: String
        let taskID: String
        let runID: Int64
        /// When the run's time limit runs out.
        let deadlineMs: Int64?
        /// Set once SIGTERM went out; SIGKILL follows after the grace period.
        var terminatedAtMs: Int64?
        var stoppedForRuntime = false
        /// The run's own Hermes home (`memory: propose | read-only`), harvested once it exits.
        var runHome: RunHomes.Prepared?
    }

    private struct StoppingOrphan {
        let orphan: Orphan
        var terminatedAtMs: Int64?
        var killed = false
    }

    /// How often the supervisor looks at its workers.
    static let tickMs: Int64 = 20

    let reports = Mailbox<DispatchReport>()
    private let settings: DispatchSettings
    /// Run-time limits and stop grace are durations: measured on monotonic time, so a stepped wall
    /// clock neither kills every worker at once nor lets one overstay.
    private let clock: MonotonicClock
    private let log: Logger
    let workspaces: Workspaces
    let runHomes: RunHomes
    private let logs: WorkerLogs
    /// Most workshop jobs at once: each may be a `git` process, on a machine that also runs the workers.
    static let workshopWidth = 4
    private let workshop = Mutex(WorkshopSchedule<@Sendable () -> Void>(width: Dispatcher.workshopWidth))
    /// Entered per job added, left when it ends: shutdown waits on it for every job under way.
    private let workshopJobs = DispatchGroup()
    private let workshopThreads = DispatchQueue(label: "kanban-bridge.workshop", attributes: .concurrent)
    private let workers = Mutex<[Worker]>([])
    private let orphans = Mutex<[StoppingOrphan]>([])
    private let stopping = Atomic<Bool>(false)
    private let supervisorDone = DispatchSemaphore(value: 0)
    private var supervisorStarted = false

    init(settings: DispatchSettings, clock: MonotonicClock, log: Logger) {
        self.settings = settings; self.clock = clock; self.log = log
        self.workspaces = Workspaces(root: settings.workspaceRoot)
        // Beside the lanes' workspaces; no lane's directory starts with a dot.
        self.runHomes = RunHomes(root: workspaces.root + "/.hermes-runs", hermesHome: settings.environment["HERMES_HOME"],
                                 userHome: settings.environment["HOME"] ?? NSHomeDirectory())
        self.logs = WorkerLogs(dir: settings.logDir)
    }

    /// Starts the supervisor thread.
    func start() {
        guard !supervisorStarted else { return }
        supervisorStarted = true
        let thread = Thread { [self] in
            while !stopping.load(ordering: .acquiring) {
                supervise(now: clock.monotonicMs())
                usleep(useconds_t(Self.tickMs * 1000))
            }
            supervisorDone.signal()
        }
        thread.name = "kanban-bridge-supervisor"
        thread.start()
    }

    /// Takes an order; returns at once (the core's loop calls this).
    func send(_ order: DispatchOrder) {
        switch order {
        case .start(let s): inWorkshop(key: WorkshopKey.of(s.lane)) { [self] in startWorker(s) }
        case .removeWorkspaces(let records):
            // Each removal after the starts of its repository (or lane) that were ordered before it.
            var byKey: [String: [WorkspaceRecord]] = [:], keys: [String] = []
            for record in records {
                let key = WorkshopKey.of(record)
                if byKey[key] == nil { keys.append(key) }
                byKey[key, default: []].append(record)
            }
            for key in keys {
                let group = byKey[key] ?? []
                inWorkshop(key: key) { [self] in remove(group) }
            }
        case .stopOrphan(let o): orphans.withLock { $0.append(StoppingOrphan(orphan: o)) }
        case .stopWorker(let runID, let why):
            let now = clock.monotonicMs()
            workers.withLock { list in
                guard let i = list.firstIndex(where: { $0.runID == runID }), list[i].terminatedAtMs == nil else { return }
                log.notice("stopping a worker whose run was taken back", metadata: ["task": "\(list[i].taskID)", "pid": "\(list[i].pid)", "why": "\(why)"])
                list[i].terminatedAtMs = now
                ProcessControl.signalGroup(list[i].pid, SIGTERM)
            }
        }
    }

    // MARK: The workshop

    /// Queues a job under `key`; it runs when the schedule lets it, on a workshop thread.
    private func inWorkshop(key: String, _ job: @escaping @Sendable () -> Void) {
        workshopJobs.enter()
        run(workshop.withLock { $0.add(job, key: key) })
    }

    /// Starts jobs the schedule let go; each, when it ends, starts whatever it was holding up.
    private func run(_ jobs: [(key: String, job: @Sendable () -> Void)]) {
        for (key, job) in jobs {
            workshopThreads.async { [self] in
                job()
                run(workshop.withLock { $0.finished(key: key) })
                workshopJobs.leave()
            }
        }
    }

    private func startWorker(_ s: WorkerStart) {
        if stopping.load(ordering: .acquiring) { return }  // the core releases every run it handed over
        var workspace: WorkspaceRecord?
        var runHome: RunHomes.Prepared?
        var logged = false  // the run's header is in the log
        do {
            workspace = try workspaces.prepare(lane: s.lane, taskID: s.taskID, recorded: s.recordedWorkspace)
            let dir = workspace?.path
            let memoryNote: String?
            (runHome, memoryNote) = try runHomes.prepare(lane: s.lane, taskID: s.taskID, runID: s.runID)
            // A run with a home of its own must not be sent back to the profile's by `-p {profile}`.
            let template = runHome == nil ? s.lane.command ?? [] : ProfileMemory.commandForRunHome(s.lane.command ?? [])
            let argv = CommandTemplate.render(template, CommandTemplate.values(
                taskID: s.taskID, runID: s.runID, lane: s.lane, workspace: dir, title: s.title, body: s.body))
            var env = s.environment.merging(WorkerEnvironment.workspace(dir)) { $1 }
            if let runHome {
                env["HERMES_HOME"] = runHome.home
                env["KANBAN_MEMORY"] = runHome.mode.rawValue
            } else if let home = runHomes.sharedHome(lane: s.lane) {
                env["HERMES_HOME"] = home
            }
            let memoryLine = runHome.map { "=== run \(s.runID) memory: \($0.mode.rawValue), HERMES_HOME \($0.home) (profile \($0.profileHome))\n" }
                ?? memoryNote.map { "=== run \(s.runID) \($0)\n" } ?? ""
            let fd = try logs.open(taskID: s.taskID, header: runHeader(s) + argv.joined(separator: " ") + "\n" + memoryLine)
            logged = true
            defer { close(fd) }
            let now = clock.monotonicMs()
            // Under the lock, so the supervisor cannot report this worker's exit before its start.
            try workers.withLock { list in
                let pid = try ProcessControl.spawn(argv, environment: env, cwd: dir, outputFD: fd)
                list.append(Worker(pid: pid, laneName: s.lane.name, taskID: s.taskID, runID: s.runID,
                                   deadlineMs: s.limitSeconds.map { now + Int64($0) * 1000 }, runHome: runHome))
                reports.post(.spawned(runID: s.runID, taskID: s.taskID, lane: s.lane.name, pid: pid, workspace: workspace))
                log.info("spawned", metadata: ["lane": "\(s.lane.name)", "task": "\(s.taskID)", "run": "\(s.runID)", "pid": "\(pid)"])
            }
        } catch {
            if let runHome { runHomes.discard(runHome) }
            log.error("spawn failed", metadata: ["lane": "\(s.lane.name)", "task": "\(s.taskID)", "error": "\(error)"])
            // The task's log says why this run has no output (`task log`, the console's tail).
            if let fd = try? logs.open(taskID: s.taskID, header: (logged ? "" : runHeader(s)) + "=== run \(s.runID) did not start: \(error)\n") {
                close(fd)
            }
            reports.post(.spawnFailed(runID: s.runID, error: "\(error)", workspace: workspace))
        }
    }

    private func runHeader(_ s: WorkerStart) -> String { "=== run \(s.runID) of \(s.taskID) on lane \(s.lane.name) at \(Date()): " }

    private func remove(_ records: [WorkspaceRecord]) {
        for record in records {
            if stopping.load(ordering: .acquiring) { return }
            if workers.withLock({ $0.contains { $0.taskID == record.taskID && $0.laneName == record.lane } }) { continue }
            do {
                try workspaces.remove(record)
                reports.post(.workspaceRemoved(record, error: nil))
            } catch {
                reports.post(.workspaceRemoved(record, error: "\(error)"))
            }
        }
    }

    // MARK: The supervisor

    private func supervise(now: Int64) {
        var ended: [(Worker, ExitStatus)] = []
        workers.withLock { list in
            list.removeAll { w in
                guard let status = ProcessControl.reap(w.pid) else { return false }
                ended.append((w, status))
                return true
            }
            for i in list.indices {
                if let termAt = list[i].terminatedAtMs {
                    if now - termAt >= settings.stopGraceMs { ProcessControl.signalGroup(list[i].pid, SIGKILL) }
                } else if let deadline = list[i].deadlineMs, now >= deadline {
                    log.notice("run over its time limit; stopping it", metadata: ["task": "\(list[i].taskID)", "pid": "\(list[i].pid)"])
                    list[i].stoppedForRuntime = true
                    list[i].terminatedAtMs = now
                    ProcessControl.signalGroup(list[i].pid, SIGTERM)
                }
            }
        }
        // Outside the lock: a run's home is harvested (file work) before its exit is reported.
        for (w, status) in ended {
            if let runHome = w.runHome { harvest(runHome) }
            reports.post(.exited(runID: w.runID, status: status, stoppedForRuntime: w.stoppedForRuntime))
        }
        orphans.withLock { list in
            var kept: [StoppingOrphan] = []
            for var o in list where !stopOrphan(&o, now: now) { kept.append(o) }
            list = kept
        }
    }

    /// What a run with a home of its own wrote: staged in its profile's pending store (propose) or
    /// dropped (read-only), said in the task's log and, through the core, in a comment on the task.
    private func harvest(_ run: RunHomes.Prepared) {
        let result = runHomes.harvest(run)
        for problem in result.problems {
            log.error("memory harvest", metadata: ["task": "\(run.origin.taskID)", "run": "\(run.origin.runID)", "problem": "\(problem)"])
        }
        let lines = result.records.map(ProfileMemory.line)
        let what = run.mode == .propose ? "staged in \(run.profileHome)/pending for review" : "refused: dropped, not written (memory: read-only)"
        var text = "=== run \(run.origin.runID) memory (\(run.mode.rawValue)): \(lines.count) write(s) \(what)\n"
        text += lines.map { $0 + "\n" }.joined() + result.problems.map { "=== memory problem: \($0)\n" }.joined()
        if let fd = try? logs.open(taskID: run.origin.taskID, header: text) { close(fd) }
        if let comment = ProfileMemory.summary(mode: run.mode, origin: run.origin, records: result.records, profile: run.profile) {
            reports.post(.memoryHarvested(taskID: run.origin.taskID, runID: run.origin.runID, comment: comment,
                                          reviewBy: run.mode == .propose ? run.reviewer : nil))
        }
        log.info("memory harvested", metadata: ["task": "\(run.origin.taskID)", "run": "\(run.origin.runID)",
                                                "mode": "\(run.mode.rawValue)", "writes": "\(result.records.count)"])
    }

    /// One step of stopping an orphan (not our child, so it cannot be waited for: its liveness is
    /// polled). True once it is gone and reported.
    private func stopOrphan(_ o: inout StoppingOrphan, now: Int64) -> Bool {
        let pid = o.orphan.pid
        guard let termAt = o.terminatedAtMs else {
            // A pid alone could have been reused: only a process carrying the run's id is signalled.
            guard ProcessControl.isWorker(pid, runID: o.orphan.runID) else {
                reports.post(.orphanGone(taskID: o.orphan.taskID, runID: o.orphan.runID, what: "its worker was no longer running"))
                return true
            }
            ProcessControl.signalGroup(pid, SIGTERM)
            o.terminatedAtMs = now
            return false
        }
        if !ProcessControl.isAlive(pid) {
            reports.post(.orphanGone(taskID: o.orphan.taskID, runID: o.orphan.runID,
                                     what: "its worker (pid \(pid)) was stopped" + (o.killed ? " with SIGKILL" : "")))
            return true
        }
        if now - termAt >= settings.stopGraceMs, !o.killed {
            ProcessControl.signalGroup(pid, SIGKILL)
            o.killed = true
        }
        return false
    }

    // MARK: Stopping

    /// Stops every worker (SIGTERM, SIGKILL after the grace period) and returns how each ended, by
    /// run. Called once the core's loop has stopped serving; blocks until nothing is left running.
    func shutdown() -> [Int64: ExitStatus] {
        stopping.store(true, ordering: .releasing)
        workshopJobs.wait()  // preparations under way finish; jobs not yet started do nothing
        if supervisorStarted { supervisorDone.wait() }
        var ended: [Int64: ExitStatus] = [:]
        var left = workers.withLock { list in
            defer { list = [] }
            return list
        }
        if !left.isEmpty { log.notice("stopping spawned workers", metadata: ["count": "\(left.count)"]) }
        let homes = left.compactMap(\.runHome)
        for w in left { ProcessControl.signalGroup(w.pid, SIGTERM) }
        let deadline = clock.monotonicMs() + settings.stopGraceMs
        while !left.isEmpty {
            left.removeAll { w in
                guard let status = ProcessControl.reap(w.pid) else { return false }
                ended[w.runID] = status
                return true
            }
            if left.isEmpty { break }
            if clock.monotonicMs() >= deadline {
                for w in left {
                    ProcessControl.signalGroup(w.pid, SIGKILL)
                    ended[w.runID] = ProcessControl.reap(w.pid, wait: true) ?? .signaled(SIGKILL)
                }
                break
            }
            usleep(20_000)
        }
        for runHome in homes { harvest(runHome) }  // what the stopped runs proposed is kept too
        return ended
    }
}
