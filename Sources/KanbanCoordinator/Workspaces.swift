import Foundation
import KanbanModel

/// Where spawned tasks run, per the lane's `workspace_policy`:
/// - `none`: the coordinator's own working directory;
/// - `scratch`: a fresh directory per task, removed once the task is done (unless the lane keeps them);
/// - `worktree-per-task`: `git worktree add` on branch `kanban/<task>` of the lane's repo, kept for
///   review after completion and removed by `workspace.prune`.
struct Workspaces {
    let root: String

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    func path(lane: String, taskID: String) -> String { "\(root)/\(lane)/\(taskID)" }

    static func branch(taskID: String) -> String { "kanban/\(taskID)" }

    /// Prepares the task's workspace and returns its path (nil for `none`).
    func prepare(lane: Lane, taskID: String) throws -> String? {
        let fm = FileManager.default
        let dir = path(lane: lane.name, taskID: taskID)
        switch lane.workspacePolicy {
        case .none:
            return nil
        case .scratch:
            try? fm.removeItem(atPath: dir)  // a retry starts clean
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return dir
        case .worktreePerTask:
            guard let repo = lane.repo else { throw Failure(description: "lane \(lane.name) has no repo for worktree-per-task") }
            if fm.fileExists(atPath: dir + "/.git") { return dir }  // a retry reuses the task's worktree and branch
            try fm.createDirectory(atPath: root + "/" + lane.name, withIntermediateDirectories: true)
            let (status, output) = try ProcessControl.run(
                ["git", "-C", repo, "worktree", "add", "-B", Self.branch(taskID: taskID), dir], cwd: nil)
            guard status == .exited(0) else { throw Failure(description: "git worktree add failed: \(output)") }
            return dir
        }
    }

    /// Removes a task's workspace: a scratch directory, or a worktree (its branch stays for review).
    func remove(lane: Lane, taskID: String) throws {
        let dir = path(lane: lane.name, taskID: taskID)
        guard FileManager.default.fileExists(atPath: dir) else { return }
        if lane.workspacePolicy == .worktreePerTask, let repo = lane.repo {
            let (status, output) = try ProcessControl.run(["git", "-C", repo, "worktree", "remove", "--force", dir], cwd: nil)
            guard status == .exited(0) else { throw Failure(description: "git worktree remove failed: \(output)") }
        } else {
            try FileManager.default.removeItem(atPath: dir)
        }
    }

    /// Task ids that have a workspace under the lane.
    func taskIDs(lane: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + lane))?.sorted() ?? []
    }
}

/// Per-task worker output, appended across runs, rotated when it grows past `maxBytes`.
struct WorkerLogs {
    let dir: String
    var maxBytes: Int = 10 << 20
    var generations: Int = 3

    func path(taskID: String) -> String { "\(dir)/\(taskID).log" }

    /// Opens the task's log for appending (rotating first if it is too big) and writes a header.
    func open(taskID: String, header: String) throws -> Int32 {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let p = path(taskID: taskID)
        if let size = (try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? Int, size > maxBytes {
            for g in stride(from: generations - 1, through: 1, by: -1) { rename("\(p).\(g)", "\(p).\(g + 1)") }
            rename(p, "\(p).1")
        }
        let fd = Glibc.open(p, O_WRONLY | O_CREAT | O_APPEND, 0o640)
        guard fd >= 0 else { throw Workspaces.Failure(description: "cannot open \(p)") }
        let bytes = Array(header.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return fd
    }
}
