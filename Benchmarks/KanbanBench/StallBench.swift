import Foundation
import GRDB
import KanbanModel
import KanbanProtocol
import Synchronization
import ZeroMQ

/// The stall scenario (`kanban-bench --stall`): does the coordinator keep answering while it has slow
/// work to do? A persistent lane heartbeats its claim every 20 ms throughout, first on an idle
/// coordinator (the baseline of the same session), then while a worktree pool of 4 prepares 8 git
/// worktrees of a large repository and while they are pruned; then pings and reads are timed while
/// another connection holds the board's write lock.
public enum StallBench {
    public struct Result: Sendable {
        public var repoFiles: Int
        public var idle: LatencySummary?
        public var duringWorktrees: LatencySummary?
        public var duringPrune: LatencySummary?
        /// Heartbeats that failed or got no reply while worktrees were made and pruned.
        public var heartbeatFailures: Int
        /// Heartbeats (writes) answered `busy` or failing while the lock was held: expected, they cannot commit.
        public var heartbeatsRefusedDuringLock: Int
        public var lockSeconds: Double
        public var pingDuringLock: LatencySummary?
        public var readDuringLock: LatencySummary?
        /// Writes sent during the lock with `timeout_ms` 500: how many were answered `busy`, and how many ok.
        public var writesBusy: Int
        public var writesOK: Int
        public var worktreeSeconds: Double
        public var pruneSeconds: Double
    }

    /// Heartbeats on its own thread until told to stop, recording each round trip.
    final class Probe: @unchecked Sendable {
        private let lock = NSLock()
        private var samples = Latencies()
        private var failures = 0
        private var running = true
        private let done = DispatchSemaphore(value: 0)

        init(endpoint: String, auth: String, taskID: String, token: String) {
            Thread { [self] in
                let client = try? WireClient(context: ZMQContext(), endpoint: endpoint, auth: auth, name: "probe")
                while lock.withLock({ running }) {
                    let t0 = nowNs()
                    let ok = (try? client?.heartbeat(taskID: taskID, token: token)).flatMap { $0 }.map(ReplyScan.isOK) ?? false
                    lock.withLock {
                        samples.add(nowNs() - t0)
                        if !ok { failures += 1 }
                    }
                    usleep(20_000)
                }
                done.signal()
            }.start()
        }

        /// The samples since the last call (and the failures among them).
        func take() -> (Latencies, Int) {
            lock.withLock {
                defer { samples = Latencies(); failures = 0 }
                return (samples, failures)
            }
        }

        func stop() {
            lock.withLock { running = false }
            done.wait()
        }
    }

    public static func run(bridgeBinary: String, dir: String, repoFiles: Int, lockSeconds: Double,
                           progress: (String) -> Void) throws -> Result {
        let repo = dir + "/repo"
        progress("making a git repository of \(repoFiles) files …")
        try BigRepo.make(at: repo, files: repoFiles)
        let board = try BenchBoard(dir: dir, tasks: 0)
        let bridge = try BridgeProcess(binary: bridgeBinary, board: board.path, adminToken: board.adminToken, logFile: dir + "/serve.log")
        defer { bridge.stop() }
        let context = ZMQContext()
        let admin = try WireClient(context: context, endpoint: bridge.command, auth: board.adminToken, name: "admin")
        func must(_ request: Request) throws -> [UInt8] {
            let reply = try admin.call(request)
            guard ReplyScan.isOK(reply) else { throw BenchError("\(request.op.rawValue): \(String(decoding: reply.prefix(300), as: UTF8.self))") }
            return reply
        }
        // The probe's claim: a task of the probe lane, heartbeated throughout.
        let probeClient = try WireClient(context: context, endpoint: bridge.command, auth: board.tokens[BenchBoard.probeLane]!, name: "p")
        let (probeTask, probeToken) = try probeClient.claimOne(lane: BenchBoard.probeLane)
        let probe = Probe(endpoint: bridge.command, auth: board.tokens[BenchBoard.probeLane]!, taskID: probeTask, token: probeToken)
        defer { probe.stop() }

        usleep(3_000_000)
        var result = Result(repoFiles: repoFiles, heartbeatFailures: 0, heartbeatsRefusedDuringLock: 0, lockSeconds: lockSeconds,
                            writesBusy: 0, writesOK: 0, worktreeSeconds: 0, pruneSeconds: 0)
        /// The probe's round trips since the last phase ended; failures count against the coordinator.
        func phase() -> LatencySummary? {
            let (samples, failures) = probe.take()
            result.heartbeatFailures += failures
            return samples.summary()
        }
        result.idle = phase()

        progress("pool of 4 making 8 worktrees …")
        let coders = Lane(name: "coders", kind: .pool, maxConcurrency: 4, command: ["/bin/sh", "-c", #"exec "$0" complete --result ok"#, bridgeBinary],
                          workspacePolicy: .worktreePerTask, repo: repo)
        _ = try must(.laneRegister(LaneSpec(lane: coders)))
        let started = nowNs()
        for i in 0..<8 { _ = try must(.taskCreate(TaskSpec(title: "change \(i)", assignee: "coders"))) }
        try waitFor(seconds: 600) {
            let reply = try admin.call(.taskList(status: .done, assignee: "coders", limit: 500))
            return String(decoding: reply, as: UTF8.self).components(separatedBy: "\"id\":").count - 1 == 8
        }
        result.worktreeSeconds = Double(nowNs() - started) / 1e9
        result.duringWorktrees = phase()

        progress("pruning the 8 worktrees …")
        let pruneStarted = nowNs()
        let workspaces = (board.path as NSString).deletingLastPathComponent + "/bridge-workspaces/coders"
        try waitFor(seconds: 600) {
            _ = try must(.workspacePrune(lane: "coders"))
            return ((try? FileManager.default.contentsOfDirectory(atPath: workspaces)) ?? []).isEmpty
        }
        result.pruneSeconds = Double(nowNs() - pruneStarted) / 1e9
        result.duringPrune = phase()

        progress("another connection holds the write lock for \(lockSeconds) s …")
        var config = Configuration()
        config.busyMode = .timeout(10)
        let blocker = try DatabaseQueue(path: board.path, configuration: config)
        // Both the reader loop below and the writer thread watch this; a semaphore would wake only one.
        let locked = DispatchSemaphore(value: 0), unlocked = Atomic<Bool>(false)
        Thread {
            try? blocker.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    locked.signal()
                    usleep(UInt32(lockSeconds * 1_000_000))
                    return .commit
                }
            }
            unlocked.store(true, ordering: .releasing)
        }.start()
        locked.wait()
        // Writes on a thread of their own, each willing to wait 500 ms for the lock.
        let writesDone = DispatchSemaphore(value: 0)
        let writeCounts = Mutex<(ok: Int, busy: Int)>((0, 0))
        let token = board.adminToken, endpoint = bridge.command
        Thread {
            if let writer = try? WireClient(context: ZMQContext(), endpoint: endpoint, auth: token, name: "writer") {
                while !unlocked.load(ordering: .acquiring) {
                    let reply = try? writer.call(.taskCreate(TaskSpec(title: "during the lock")), timeoutMs: 500)
                    writeCounts.withLock { if reply.map(ReplyScan.isOK) == true { $0.ok += 1 } else { $0.busy += 1 } }
                }
            }
            writesDone.signal()
        }.start()
        var pings = Latencies(), reads = Latencies()
        // Encoded once, outside the measured loop. (The ping carries no token.)
        let ping = RequestEncoder.encode(.ping), read = RequestEncoder.encode(.taskGet(taskID: probeTask), auth: board.adminToken)
        while !unlocked.load(ordering: .acquiring) {
            var t0 = nowNs()
            _ = try admin.call(frame: ping)
            pings.add(nowNs() - t0)
            t0 = nowNs()
            _ = try admin.call(frame: read)
            reads.add(nowNs() - t0)
            usleep(20_000)
        }
        writesDone.wait()
        (result.writesOK, result.writesBusy) = writeCounts.withLock { ($0.ok, $0.busy) }
        result.pingDuringLock = pings.summary()
        result.readDuringLock = reads.summary()
        result.heartbeatsRefusedDuringLock = probe.take().1  // writes during a foreign lock: refusals expected
        return result
    }

    static func waitFor(seconds: Double, _ condition: () throws -> Bool) throws {
        let deadline = nowNs() + UInt64(seconds * 1e9)
        while nowNs() < deadline {
            if try condition() { return }
            usleep(100_000)
        }
        throw BenchError("the stall scenario did not finish within \(Int(seconds)) s")
    }

    /// The scenario's table, with each figure also as a ratio of the idle baseline of the same run.
    public static func render(_ r: Result) -> String {
        func row(_ what: String, _ s: LatencySummary?, base: LatencySummary?) -> String {
            let ratio = { (a: UInt64?, b: UInt64?) -> String in
                guard let a, let b, b > 0 else { return "-" }
                return Format.ratio(Double(a) / Double(b))
            }
            return "| \(what) | \(s?.count ?? 0) | \(Format.ms(s?.p50)) | \(Format.ms(s?.p99)) | \(Format.ms(s?.max)) | "
                + "\(ratio(s?.p99, base?.p99)) |"
        }
        var out = ["### Stall: slow work beside a persistent lane (\(r.repoFiles)-file repository)", "",
                   "| heartbeats of a persistent lane, every 20 ms | n | p50 ms | p99 ms | max ms | p99 vs idle |",
                   "| --- | ---: | ---: | ---: | ---: | ---: |",
                   row("idle coordinator (baseline)", r.idle, base: r.idle),
                   row(String(format: "pool of 4 makes 8 worktrees (%.1f s)", r.worktreeSeconds), r.duringWorktrees, base: r.idle),
                   row(String(format: "prune removes the 8 worktrees (%.1f s)", r.pruneSeconds), r.duringPrune, base: r.idle),
                   "", "Heartbeats that failed or got no reply while worktrees were made and pruned: \(r.heartbeatFailures).", "",
                   String(format: "| while another connection holds the write lock for %.0f s | n | p50 ms | p99 ms | max ms | p99 vs idle heartbeat |", r.lockSeconds),
                   "| --- | ---: | ---: | ---: | ---: | ---: |",
                   row("ping", r.pingDuringLock, base: r.idle),
                   row("task.get", r.readDuringLock, base: r.idle),
                   "", "Writes sent during the lock with `timeout_ms` 500: \(r.writesBusy) answered `busy` (or refused), \(r.writesOK) ok. "
                       + "The probe's heartbeats (writes, default wait 4 s) refused during the lock: \(r.heartbeatsRefusedDuringLock).",
                   "", "Targets (2 cores): heartbeat max under 500 ms and p99 under 50 ms during worktrees and prune; reads p99 under 200 ms during the lock."]
        out.append("")
        return out.joined(separator: "\n")
    }
}
