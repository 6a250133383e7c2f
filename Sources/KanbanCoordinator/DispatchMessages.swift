import Foundation
import KanbanModel
import KanbanStore
import Synchronization

/// What the core asks of the dispatcher. The core makes every board change (claims, leases, run
/// outcomes); the dispatcher does the slow work around processes and workspaces, off the loop.
enum DispatchOrder: Sendable {
    /// Prepare the claimed task's workspace and start its worker.
    case start(WorkerStart)
    /// Stop a worker left running by a coordinator that crashed (not our child: TERM, then KILL).
    case stopOrphan(Orphan)
    /// Remove these recorded workspaces (prune, or a finished scratch task), unless a live worker uses one.
    case removeWorkspaces([WorkspaceRecord])
    /// Stop a worker whose run was taken from it (reclaimed by the admin or Hermes): TERM, then KILL.
    case stopWorker(runID: Int64, why: String)
}

/// What the dispatcher tells the core, in the order it happened for any one run.
enum DispatchReport: Sendable {
    case spawned(runID: Int64, taskID: String, lane: String, pid: Int32, workspace: WorkspaceRecord?)
    /// `workspace`: what was made before the start failed, to be recorded (so it can be removed).
    case spawnFailed(runID: Int64, error: String, workspace: WorkspaceRecord?)
    /// The worker ended; `stoppedForRuntime` when the dispatcher stopped it for overstaying.
    case exited(runID: Int64, status: ExitStatus, stoppedForRuntime: Bool)
    /// An orphan is gone: `what` says whether it was still running and was stopped.
    case orphanGone(taskID: String, runID: Int64, what: String)
    case workspaceRemoved(WorkspaceRecord, error: String?)
    /// A run with a home of its own ended; `comment` says what became of its memory and skill writes.
    /// `reviewBy`: the lane that gets a task to review the proposals (`memory_owner`), if any.
    case memoryHarvested(taskID: String, runID: Int64, comment: String, reviewBy: String?)
}

/// Everything needed to start one worker; the environment is complete but for the workspace.
struct WorkerStart: Sendable {
    var lane: Lane
    var taskID: String
    var runID: Int64
    var title: String
    var body: String? = nil
    /// The task's workspace on this lane as recorded by an earlier run, if any.
    var recordedWorkspace: WorkspaceRecord?
    var environment: [String: String]
    /// The run's time limit in seconds (the task's, else the lane's).
    var limitSeconds: Int?
}

struct Orphan: Sendable {
    var pid: Int32
    var taskID: String
    var runID: Int64
}

/// A queue between threads whose reader sleeps in `zmq_poll`: each post also writes a byte to a
/// pipe, and the pipe's read end sits in the reader's poll set, so a post wakes it at once.
/// (A pipe rather than an inproc socket: posts come from more than one thread, and a ZeroMQ
/// socket may only be used by one.)
final class Mailbox<Item: Sendable>: @unchecked Sendable {
    private let items = Mutex<[Item]>([])
    /// Poll this for POLLIN; `take()` drains it.
    let wakeFD: Int32
    private let postFD: Int32

    init() {
        var fds: [Int32] = [0, 0]
        // A process out of descriptors cannot run workers anyway; fail loudly at start.
        precondition(pipe(&fds) == 0, "cannot create a pipe for the dispatcher's mailbox")
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        wakeFD = fds[0]
        postFD = fds[1]
    }

    deinit {
        close(wakeFD)
        close(postFD)
    }

    func post(_ item: Item) {
        items.withLock { $0.append(item) }
        var byte: UInt8 = 1
        _ = write(postFD, &byte, 1)  // a full pipe already wakes the reader; nothing is lost
    }

    /// Everything posted so far, oldest first.
    func take() -> [Item] {
        var sink = [UInt8](repeating: 0, count: 256)
        while read(wakeFD, &sink, sink.count) > 0 {}
        return items.withLock { taken in
            defer { taken = [] }
            return taken
        }
    }

    /// Puts items that could not be handled yet back in front, for the next `take()`.
    func putBack(_ back: [Item]) {
        guard !back.isEmpty else { return }
        items.withLock { $0.insert(contentsOf: back, at: 0) }
    }
}
