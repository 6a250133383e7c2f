import Foundation
import KanbanModel
import KanbanStore

/// Where spawned tasks run, per the lane's `workspace_policy`:
/// - `none`: the coordinator's own working directory;
/// - `scratch`: a fresh directory per task, removed once the task is done (unless the lane keeps them);
/// - `worktree-per-task`: `git worktree add` on the task's branch of the lane's repo, kept for review
///   after completion and removed by `workspace.prune`.
///
/// The file-system edge of `WorkspaceLayout`: names come from there; this checks, every time a path
/// is made or removed, that it resolves under the root with no symlink on the way out. It removes
/// only a `WorkspaceRecord`: what it made and the core recorded, at the recorded path.
public struct Workspaces {
    /// Absolute (a relative root is taken from the working directory at start).
    public let root: String

    public init(root: String) {
        self.root = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The task's workspace path, under the root: `<root>/<lane>/<segment>`.
    func path(lane: String, taskID: String) throws -> String {
        guard let relative = WorkspaceLayout.workspace(lane: lane, taskID: taskID) else {
            throw Failure(description: "'\(lane)' cannot name a workspace directory")
        }
        return root + "/" + relative
    }

    /// Prepares the task's workspace and returns it (nil for `none`). `recorded` is the task's
    /// workspace as the board has it from an earlier run: a scratch directory is cleared for a retry
    /// only if it is that one.
    public func prepare(lane: Lane, taskID: String, recorded: WorkspaceRecord?) throws -> WorkspaceRecord? {
        let fm = FileManager.default
        let dir = try path(lane: lane.name, taskID: taskID)
        switch lane.workspacePolicy {
        case .none:
            return nil
        case .scratch:
            try makeLaneDirectory(lane.name)
            if try exists(dir) {
                guard recorded?.path == dir else {
                    throw Failure(description: "\(dir) is in the way and is not a workspace this coordinator recorded; "
                                  + "remove it, or start the coordinator with another --workspace-root")
                }
                try removeContained(dir, lane: lane.name)  // a retry starts clean
            }
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: false)
            try checkContained(dir, lane: lane.name)
            return WorkspaceRecord(lane: lane.name, taskID: taskID, path: dir, policy: .scratch)
        case .worktreePerTask:
            guard let repo = lane.repo else { throw Failure(description: "lane \(lane.name) has no repo for worktree-per-task") }
            if let problem = WorkspaceLayout.repoProblem(repo) { throw Failure(description: "lane \(lane.name): \(problem)") }
            let branch = WorkspaceLayout.branch(taskID: taskID)
            let made = WorkspaceRecord(lane: lane.name, taskID: taskID, path: dir, policy: .worktreePerTask, repo: repo, branch: branch)
            try makeLaneDirectory(lane.name)
            if try exists(dir) {
                try checkContained(dir, lane: lane.name)
                if fm.fileExists(atPath: dir + "/.git") { return made }  // a retry reuses the task's worktree and branch
            }
            let (status, output) = try ProcessControl.run(["git", "-C", repo, "worktree", "add", "-B", branch, dir], cwd: nil)
            guard status == .exited(0) else { throw Failure(description: "git worktree add failed: \(output)") }
            try checkContained(dir, lane: lane.name)
            return made
        }
    }

    /// Removes a recorded workspace: a scratch directory, or a worktree (its branch stays for review).
    /// Refused unless the recorded path is where this root puts that task's workspace, and it is a
    /// real directory there: a row another program wrote into the board deletes nothing elsewhere.
    public func remove(_ workspace: WorkspaceRecord) throws {
        let dir = workspace.path
        guard dir == (try? path(lane: workspace.lane, taskID: workspace.taskID)) else {
            throw Failure(description: "recorded path \(dir) is not under this coordinator's workspace root \(root); left alone")
        }
        guard try exists(dir) else { return }
        try checkContained(dir, lane: workspace.lane)
        if workspace.policy == .worktreePerTask, let repo = workspace.repo, WorkspaceLayout.repoProblem(repo) == nil {
            let (status, output) = try ProcessControl.run(["git", "-C", repo, "worktree", "remove", "--force", dir], cwd: nil)
            guard status == .exited(0) else { throw Failure(description: "git worktree remove failed: \(output)") }
        } else {
            try removeContained(dir, lane: workspace.lane)
        }
    }

    // MARK: Containment

    /// Creates `<root>/<lane>` and checks it is that directory, not a symlink to somewhere else.
    private func makeLaneDirectory(_ lane: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: root + "/" + lane, withIntermediateDirectories: true)
        } catch {
            // Workspaces of different repositories are prepared side by side: another preparation may
            // have made the root between this one's look and its mkdir. Once more, with the root there.
            try FileManager.default.createDirectory(atPath: root + "/" + lane, withIntermediateDirectories: true)
        }
        let resolvedRoot = try resolved(root)
        guard try resolved(root + "/" + lane) == resolvedRoot + "/" + lane else {
            throw Failure(description: "\(root)/\(lane) leads out of the workspace root (a symlink?); refusing to use it")
        }
    }

    /// True when something (even a dangling symlink) is at `path`.
    private func exists(_ path: String) throws -> Bool {
        var st = stat()
        if lstat(path, &st) == 0 { return true }
        guard errno == ENOENT else { throw Failure(description: "cannot look at \(path): \(String(cString: strerror(errno)))") }
        return false
    }

    /// `path` must be a real directory (not a symlink) directly in `<root>/<lane>`, which itself
    /// resolves to the root's own `<lane>`.
    private func checkContained(_ path: String, lane: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw Failure(description: "\(path) is not a directory (a symlink?); refusing to use it")
        }
        let parent = (path as NSString).deletingLastPathComponent
        guard try resolved(parent) == (try resolved(root)) + "/" + lane else {
            throw Failure(description: "\(path) resolves outside the workspace root \(root); refusing to use it")
        }
    }

    private func removeContained(_ path: String, lane: String) throws {
        try checkContained(path, lane: lane)
        // removeItem does not follow symlinks inside the tree: it unlinks them.
        try FileManager.default.removeItem(atPath: path)
    }

    private func resolved(_ path: String) throws -> String {
        guard let p = realpath(path, nil) else {
            throw Failure(description: "cannot resolve \(path): \(String(cString: strerror(errno)))")
        }
        defer { free(p) }
        return String(cString: p)
    }
}

/// Per-task worker output, appended across runs, rotated when it grows past `maxBytes`.
struct WorkerLogs {
    let dir: String
    var maxBytes: Int = 10 << 20
    var generations: Int = 3

    /// `<dir>/<segment>.log` (`WorkspaceLayout.logFile`): a task id never names a file by itself.
    func path(taskID: String) -> String { dir + "/" + WorkspaceLayout.logFile(taskID: taskID) }

    /// Appends a chunk a runner sent (its output, run headers included) to the task's log.
    func append(taskID: String, _ chunk: String) throws {
        let fd = try open(taskID: taskID, header: chunk)
        close(fd)
    }

    /// Opens the task's log for appending (rotating first if it is too big) and writes a header.
    func open(taskID: String, header: String) throws -> Int32 {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)  // made by a start beside this one
        }
        let p = path(taskID: taskID)
        if let size = (try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? Int, size > maxBytes {
            for g in stride(from: generations - 1, through: 1, by: -1) { rename("\(p).\(g)", "\(p).\(g + 1)") }
            rename(p, "\(p).1")
        }
        // O_NOFOLLOW: a symlink planted at the log's name is not written through.
        let fd = Glibc.open(p, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw Workspaces.Failure(description: "cannot open \(p): \(String(cString: strerror(errno)))") }
        let bytes = Array(header.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return fd
    }
}
