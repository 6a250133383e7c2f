import Crypto

/// Where a board value becomes a file name or a git branch: the one place that decides it. Pure.
///
/// Task ids come from the board, and anyone who can write the board (Hermes' CLI, a person with
/// `sqlite3`) chooses them: `..`, `.`, `-rf`, `x.lock`. Used as they are, such an id escapes its
/// directory (`<root>/<lane>/..` is another lane's workspaces), reads as an option to git, or is a
/// branch git refuses. So every workspace, log and branch name is made here from a **segment**:
/// - a plain id is its own segment (Hermes' `t_<hex>` always is), so Hermes' worker logs and
///   branches keep Hermes' names;
/// - any other id is encoded as `id=<32 hex of its SHA-256>`. `=` never occurs in a plain id, so
///   an encoded segment cannot collide with a real one.
/// The coordinator's file-system edge (`Workspaces`) still checks that what it resolves stays under
/// its root, because a segment is only half of a path: the other half is on a disk that others share.
public enum WorkspaceLayout {
    /// Lane names, task segments and log names are at most this long (well under NAME_MAX).
    public static let maxSegmentBytes = 64

    /// True for an id that can name a directory, a file and a git ref as it is: 1 to 64 of
    /// `[A-Za-z0-9_.-]`, starting with a letter, digit or `_` (never `.`, the hidden and parent
    /// names, nor `-`, an option), with no `..` and not ending in `.` or `.lock` (git's ref rules).
    public static func isPlainSegment(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard !bytes.isEmpty, bytes.count <= maxSegmentBytes else { return false }
        func isAlnum(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || (b >= 48 && b <= 57) }
        guard isAlnum(bytes[0]) || bytes[0] == 95 else { return false }
        var previous: UInt8 = 0
        for b in bytes {
            guard isAlnum(b) || b == 95 || b == 45 || b == 46 else { return false }
            if b == 46 && previous == 46 { return false }
            previous = b
        }
        return bytes.last != 46 && !id.hasSuffix(".lock")
    }

    /// The file-system and branch name of a task: the id itself when plain, else its encoding.
    public static func segment(taskID: String) -> String {
        if isPlainSegment(taskID) { return taskID }
        let hex = Array("0123456789abcdef".utf8)
        var encoded = Array("id=".utf8)
        for byte in SHA256.hash(data: Array(taskID.utf8)).prefix(16) {
            encoded.append(hex[Int(byte >> 4)])
            encoded.append(hex[Int(byte & 15)])
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    /// The task's workspace, relative to the workspace root: `<lane>/<segment>`. Nil when the lane
    /// name could not be a directory (the registry refuses such names; this does not trust that).
    public static func workspace(lane: String, taskID: String) -> String? {
        guard Names.laneNameProblem(lane) == nil else { return nil }
        return lane + "/" + segment(taskID: taskID)
    }

    /// The branch of a worktree-per-task workspace: `kanban/<segment>`.
    public static func branch(taskID: String) -> String { "kanban/" + segment(taskID: taskID) }

    /// The task's worker log, relative to the log directory: `<segment>.log` (Hermes' own name for
    /// a plain id, so `hermes kanban log` finds it).
    public static func logFile(taskID: String) -> String { segment(taskID: taskID) + ".log" }

    /// Why a Hermes profile name cannot be used, or nil. It reaches Hermes as `hermes -p <profile>`,
    /// which makes it a directory under `profiles/`: a plain segment, so never `..`, a path or an option.
    public static func profileProblem(_ profile: String) -> String? {
        isPlainSegment(profile) ? nil
            : "the profile '\(profile)' is not a plain name: 1 to 64 of [A-Za-z0-9_.-], starting with a letter, digit or '_', no '..'"
    }

    /// Why a lane's repository path cannot be used, or nil. It is the admin's choice, but it reaches
    /// git as `-C <repo>`: it must be absolute (not an option, not relative to wherever the
    /// coordinator was started) and free of `..` components and control characters.
    public static func repoProblem(_ repo: String) -> String? {
        guard repo.hasPrefix("/") else { return "the repo path '\(repo)' is not absolute" }
        guard repo.utf8.count <= 4096, !repo.utf8.contains(where: { $0 < 32 || $0 == 127 }) else {
            return "the repo path holds control characters or is too long"
        }
        if repo.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) {
            return "the repo path '\(repo)' has '.' or '..' components"
        }
        return nil
    }
}
