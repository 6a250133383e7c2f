import Foundation
import KanbanCoordinator
import Logging

/// Workers a runner killed with -9 left behind. Its claims expire and the tasks run again, but the old
/// workers would go on working in the same workspaces beside the new runs. So each worker is written
/// down (`<workspace root>/.runner-workers/<runner pid>-<run id>`, holding the worker's pid) while it
/// runs, and a runner that starts stops the workers of runners that are gone: SIGTERM to the group,
/// SIGKILL after the grace period. A pid alone could have been reused, so only a process that carries
/// the run's `KANBAN_RUN_ID` is signalled, and never one whose runner is still alive.
struct RunnerOrphans {
    let dir: String
    let runnerPID: Int

    init(workspaceRoot: String, runnerPID: Int) {
        self.dir = workspaceRoot + "/.runner-workers"
        self.runnerPID = runnerPID
    }

    func record(runID: Int64, pid: pid_t) {
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: "\(dir)/\(runnerPID)-\(runID)", contents: Data("\(pid)\n".utf8))
    }

    func forget(runID: Int64) { try? FileManager.default.removeItem(atPath: "\(dir)/\(runnerPID)-\(runID)") }

    /// Stops the workers of runners that are no longer alive; returns how many it stopped. Blocks up to
    /// the grace period (it runs once, before the first claim).
    func stopLeftovers(graceMs: Int64, log: Logger) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return 0 }
        var stopping: [(pid: pid_t, runID: Int64)] = []
        for name in names {
            let parts = name.split(separator: "-")
            guard parts.count == 2, let owner = Int32(parts[0]), let runID = Int64(parts[1]) else { continue }
            if Int(owner) != runnerPID, ProcessControl.isAlive(owner) { continue }  // a live runner's worker
            let file = "\(dir)/\(name)"
            defer { try? FileManager.default.removeItem(atPath: file) }
            guard let text = try? String(contentsOfFile: file, encoding: .utf8),
                  let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                  ProcessControl.isWorker(pid, runID: runID) else { continue }
            log.notice("stopping a worker an earlier runner left running", metadata: ["run": "\(runID)", "pid": "\(pid)"])
            ProcessControl.signalGroup(pid, SIGTERM)
            stopping.append((pid, runID))
        }
        let clock = SystemClock()  // a grace period is a duration: monotonic time
        let deadline = clock.monotonicMs() + graceMs
        while stopping.contains(where: { ProcessControl.isAlive($0.pid) }), clock.monotonicMs() < deadline { usleep(50_000) }
        for s in stopping where ProcessControl.isAlive(s.pid) { ProcessControl.signalGroup(s.pid, SIGKILL) }
        return stopping.count
    }
}
