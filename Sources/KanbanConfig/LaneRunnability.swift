import Foundation
import KanbanModel

/// What a declared lane needs to run on this host, checked when `serve` and `doctor` read the file:
/// a worktree pool's repository exists and is a git repository, and the command's program resolves on
/// the PATH its workers will get. Loading checks only the file; this checks the machine, so a pool
/// that would burn every task's retries in a second (`spawn_failed`) is refused at start instead.
public enum LaneRunnability {
    /// The problems of every spawned lane, each at its place in `file`.
    public static func problems(_ config: BridgeConfig, file: String, workerPATH: String) -> [ConfigError] {
        config.lanes.flatMap { lane -> [ConfigError] in
            guard lane.kind != .persistent else { return [] }
            let place = config.places[lane.name]
            func refusal(_ at: BridgeConfig.Place?, _ reason: String) -> ConfigError {
                let at = at ?? place?.lane ?? .init(line: 0, column: 0)
                return ConfigError(file: file, line: at.line, column: at.column, reason: "lane '\(lane.name)': \(reason)")
            }
            var found: [ConfigError] = []
            if lane.workspacePolicy == .worktreePerTask, let repo = lane.repo, let problem = repoProblem(repo) {
                found.append(refusal(place?.repo, problem))
            }
            if let program = lane.command?.first, let problem = programProblem(program, path: workerPATH) {
                found.append(refusal(place?.command, problem))
            }
            return found
        }
    }

    /// Why `repo` cannot take worktrees, or nil.
    public static func repoProblem(_ repo: String) -> String? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: repo, isDirectory: &isDir) else {
            return "repo \(repo) does not exist (worktree-per-task adds a git worktree of it per task)"
        }
        guard isDir.boolValue else { return "repo \(repo) is not a directory" }
        let fm = FileManager.default
        // A work tree has .git (a directory, or a file in a worktree); a bare repository has HEAD and objects/.
        let isRepository = fm.fileExists(atPath: repo + "/.git")
            || (fm.fileExists(atPath: repo + "/HEAD") && fm.fileExists(atPath: repo + "/objects"))
        return isRepository ? nil : "repo \(repo) is not a git repository (no .git in it)"
    }

    /// Why the program a worker execs cannot be found, or nil. A program with a placeholder is filled
    /// in per task and checked then; a relative path with a `/` is relative to each task's workspace.
    public static func programProblem(_ program: String, path: String) -> String? {
        if program.contains("{") { return nil }
        if program.hasPrefix("/") {
            return FileManager.default.isExecutableFile(atPath: program) ? nil : "command \(program) is not an executable file"
        }
        if program.contains("/") { return nil }
        let dirs = path.split(separator: ":").map(String.init)
        if dirs.contains(where: { FileManager.default.isExecutableFile(atPath: $0 + "/" + program) }) { return nil }
        return "command '\(program)' is not found on the workers' PATH (\(path)); install it, name it by its full path, "
            + "or put its directory on serve's PATH"
    }
}
