import Foundation
import KanbanClient
import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import Logging
import Synchronization

/// `kanban-bridge runner`: a pool on any host. For each lane it serves it claims tasks (blocking
/// claims: the coordinator holds the request until work arrives), starts the lane's command per task
/// in its own process group and workspace, and keeps the claim while the worker runs: output goes to
/// the board's log in bounded chunks (each one renews the lease) and heartbeats fill the quiet spells.
/// When the worker exits, its status decides the claim's end (`ExitPolicy`).
///
/// Threads: one claimer per lane (it blocks in `claim`), one output reader per worker, and the courier,
/// which alone talks to the coordinator about running claims, reaps workers and applies limits. The
/// coordinator may be out of reach for any time: workers keep running, requests are resent with their
/// request ids when it is back, and a claim it ended meanwhile is stopped here, never finished twice.
public final class Runner: @unchecked Sendable {
    let settings: RunnerSettings
    private let connect: @Sendable () -> CommandClient
    let log: Logger
    private let workspaces: Workspaces
    let orphans: RunnerOrphans
    let slots = Mutex<[RunSlot]>([])
    private let draining = Atomic<Bool>(false)
    /// Claims waiting on the coordinator now (blocking claims).
    private let claimsInFlight = Atomic<Int>(0)
    /// Wakes the courier early (a worker ended, a slot was added) and the claimers (a slot freed).
    let courierWake = DispatchSemaphore(value: 0)
    let slotFreed = DispatchSemaphore(value: 0)
    let runnerID: String
    /// Limits, grace periods, heartbeats and the drain deadline are durations: monotonic time.
    private let clock = SystemClock()

    /// How often the courier looks at its workers; output is sent at most this often per worker when
    /// it is small (a chunk of `Request.maxLogChunkBytes` goes at once).
    static let tickMs = 250
    static let flushEveryMs: Int64 = 1_000

    public init(settings: RunnerSettings, log: Logger, connect: @escaping @Sendable () -> CommandClient) {
        self.settings = settings; self.log = log; self.connect = connect
        self.workspaces = Workspaces(root: settings.workspaceRoot)
        self.orphans = RunnerOrphans(workspaceRoot: workspaces.root, runnerPID: settings.pid)
        self.runnerID = "\(settings.host):\(settings.pid):\(Int(Date().timeIntervalSince1970))"
    }

    func nowMs() -> Int64 { clock.monotonicMs() }

    /// Runs until `drain()` finished: returns once no task is left.
    public func run() {
        _ = orphans.stopLeftovers(graceMs: settings.stopGraceMs, log: log)
        for lane in settings.lanes { startClaimer(lane) }
        var lastReport: Int64 = -RunnerRoster.reportEveryMs
        let client = connect()
        client.timeoutMs = 3_000
        client.retries = 0
        while true {
            let now = nowMs()
            if now - lastReport >= RunnerRoster.reportEveryMs {
                report(client)
                lastReport = now
            }
            courierPass(client, now: now)
            if draining.load(ordering: .acquiring), slots.withLock({ $0.isEmpty }) { break }
            _ = courierWake.wait(timeout: .now() + .milliseconds(Self.tickMs))
        }
        log.notice("runner stopped: no task left")
    }

    /// Stops claiming; running tasks may finish until the deadline, then are stopped and released.
    public func drain() {
        guard !draining.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let count = slots.withLock { $0.count }
        log.notice("draining: no new claims", metadata: ["running": "\(count)", "deadline_s": "\(settings.drainSeconds)"])
        let deadline = nowMs() + Int64(settings.drainSeconds) * 1000
        let thread = Thread { [self] in
            while nowMs() < deadline, !slots.withLock({ $0.isEmpty }) { usleep(100_000) }
            // A blocking claim still parked on the coordinator would take a task released now straight
            // back (and give it back again): the claims end first, within one claim wait.
            let claimsEnd = nowMs() + Int64(settings.claimWaitMs) + 10_000
            while claimsInFlight.load(ordering: .acquiring) > 0, nowMs() < claimsEnd { usleep(50_000) }
            let now = nowMs()
            slots.withLock { list in
                for i in list.indices where list[i].stop == nil {
                    list[i].stop = .drain
                    terminate(&list[i], now: now)
                }
            }
            courierWake.signal()
        }
        thread.start()
        for _ in settings.lanes { slotFreed.signal() }
    }

    // MARK: Claiming

    private func startClaimer(_ lane: RunnerLane) {
        let thread = Thread { [self] in
            let client = connect()
            client.timeoutMs = settings.claimWaitMs + 5_000
            client.retries = 3
            while !draining.load(ordering: .acquiring) {
                let busy = slots.withLock { $0.filter { $0.lane.lane.name == lane.lane.name }.count }
                if busy >= lane.slots {
                    _ = slotFreed.wait(timeout: .now() + .seconds(1))
                    continue
                }
                claimOne(lane, client)
            }
        }
        thread.name = "kanban-runner-claim-\(lane.lane.name)"
        thread.start()
    }

    private func claimOne(_ lane: RunnerLane, _ client: CommandClient) {
        let reply: JSONValue
        claimsInFlight.add(1, ordering: .releasing)
        defer { claimsInFlight.subtract(1, ordering: .releasing) }
        do {
            reply = try client.call(.claim(ClaimRequest(lane: lane.lane.name, leaseSeconds: lane.lane.leaseSeconds, waitMs: settings.claimWaitMs)))
        } catch let e as WireError where e.code == .laneFull {
            _ = slotFreed.wait(timeout: .now() + .seconds(2))  // its other runners hold every slot
            return
        } catch {
            log.warning("claim failed; trying again", metadata: ["lane": "\(lane.lane.name)", "error": "\(error)"])
            _ = slotFreed.wait(timeout: .now() + .seconds(2))
            return
        }
        guard let task = reply["task"], !task.isNull, let taskID = task["id"]?.stringValue,
              let token = reply["claim"]?["token"]?.stringValue, let runID = reply["claim"]?["run_id"]?.intValue,
              let expiresMs = reply["claim"]?["lease_expires_at_ms"]?.intValue else { return }
        let ref = ClaimRef(taskID: taskID, claimToken: token)
        let leaseMs = max(3_000, expiresMs - Int64(Date().timeIntervalSince1970 * 1000))
        var slot = RunSlot(lane: lane, ref: ref, runID: runID, leaseMs: leaseMs, nowMs: nowMs())
        if draining.load(ordering: .acquiring) {
            slot.stop = .drain  // claimed as the drain began: given straight back
            slot.phase = .exited(.exited(0))
            slots.withLock { $0.append(slot) }
            courierWake.signal()
            return
        }
        slots.withLock { $0.append(slot) }
        courierWake.signal()
        start(slot, task: task)
    }

    // MARK: Starting a worker

    private func start(_ slot: RunSlot, task: JSONValue) {
        let lane = slot.lane.lane
        let header = "=== run \(slot.runID) of \(slot.ref.taskID) on lane \(lane.name), runner \(settings.host) pid \(settings.pid), at \(Date()): "
        do {
            let workspace = try workspaces.prepare(lane: lane, taskID: slot.ref.taskID, recorded: nil)
            let dir = workspace?.path
            let argv = CommandTemplate.render(lane.command ?? [], CommandTemplate.values(
                taskID: slot.ref.taskID, runID: slot.runID, lane: lane, workspace: dir,
                title: task["title"]?.stringValue ?? "", body: task["body"]?.stringValue))
            slot.output.note(header + argv.joined(separator: " ") + "\n")
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { throw ProcessControl.SpawnError(description: "pipe: \(String(cString: strerror(errno)))") }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            let env = environment(slot, task: task, workspace: dir)
            let pid: pid_t
            do {
                pid = try ProcessControl.spawn(argv, environment: env, cwd: dir, outputFD: fds[1])
            } catch {
                close(fds[0]); close(fds[1])
                throw error
            }
            close(fds[1])
            orphans.record(runID: slot.runID, pid: pid)
            slot.output.pump(from: fds[0])
            let now = nowMs()
            let limit = task["max_runtime_seconds"]?.intValue.map(Int.init) ?? lane.maxRuntimeSeconds
            update(slot.runID) {
                $0.phase = .running(pid: pid)
                $0.deadlineMs = limit.map { now + Int64($0) * 1000 }
            }
            log.info("started", metadata: ["lane": "\(lane.name)", "task": "\(slot.ref.taskID)", "run": "\(slot.runID)", "pid": "\(pid)"])
        } catch {
            log.error("worker did not start", metadata: ["lane": "\(lane.name)", "task": "\(slot.ref.taskID)", "error": "\(error)"])
            slot.output.note(header + "\n=== run \(slot.runID) did not start: \(error)\n")
            slot.output.markEnded()
            update(slot.runID) { $0.phase = .didNotStart("\(error)") }
        }
        courierWake.signal()
    }

    /// What a worker is told, as a spawned worker on the coordinator's host is told (the board file
    /// aside, which is not on this host): the claim, the lane's credential, Hermes' variables.
    private func environment(_ slot: RunSlot, task: JSONValue, workspace: String?) -> [String: String] {
        settings.environment
            .merging(WorkerEnvironment.claim(taskID: slot.ref.taskID, runID: slot.runID, claimToken: slot.ref.claimToken,
                                             lane: slot.lane.lane, title: task["title"]?.stringValue ?? "",
                                             body: task["body"]?.stringValue, tenant: task["tenant"]?.stringValue)) { $1 }
            .merging(WorkerEnvironment.workspace(workspace)) { $1 }
    }

    func update(_ runID: Int64, _ change: (inout RunSlot) -> Void) {
        slots.withLock { list in
            if let i = list.firstIndex(where: { $0.runID == runID }) { change(&list[i]) }
        }
    }
}
