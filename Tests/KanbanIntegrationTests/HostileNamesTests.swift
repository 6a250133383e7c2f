import Foundation
import GRDB
import KanbanClient
import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import XCTest

/// Board values that reach the file system: task ids anyone who can write the board chooses, lane
/// directories that are symlinks, workspace rows written behind the coordinator's back. None may make
/// the coordinator work in, or delete, anything outside its own workspace root.
final class HostileNamesTests: XCTestCase {
    /// Ids the bridge never makes but Hermes' CLI or `sqlite3` can.
    static let hostileIDs = ["..", ".", "-rf", ".hidden", "x.lock", "a..b", "trailing."]

    func register(_ live: LiveCoordinator, _ name: String, kind: LaneKind = .pool, max: Int = 1, command: [String],
                  configure: (inout Lane) -> Void = { _ in }) throws {
        var lane = Lane(name: name, kind: kind, maxConcurrency: max, command: command)
        configure(&lane)
        _ = try live.admin.call(.register(lane))
    }

    /// Writes a ready task straight into the board, as another program would.
    func plantTask(_ live: LiveCoordinator, id: String, assignee: String) throws {
        let db = try Self.openBoard(live)
        try db.write { db in
            try db.execute(sql: "INSERT INTO tasks (id, title, assignee, status, created_at) VALUES (?, ?, ?, 'ready', strftime('%s','now'))",
                           arguments: [id, "planted \(id)", assignee])
        }
    }

    /// The board as another program opens it: waiting for the coordinator's write lock, as Hermes does.
    static func openBoard(_ live: LiveCoordinator) throws -> DatabaseQueue {
        var config = Configuration()
        config.busyMode = .timeout(10)
        return try DatabaseQueue(path: live.dir.appendingPathComponent("kanban.db").path, configuration: config)
    }

    func path(_ live: LiveCoordinator, _ relative: String) -> String { live.dir.appendingPathComponent(relative).path }

    func test_hostileTaskIDs_onAScratchPool_runInTheirOwnDirectory_andDeleteNothingElse() throws {
        let live = try LiveCoordinator(dispatch: true)
        // Another lane's live workspace, the one `..` once deleted.
        try register(live, "keeper", kind: .spawn, command: ["/bin/sh", "-c", "echo work > precious; exec sleep 60"],
                     configure: { $0.workspacePolicy = .scratch })
        let kept = try live.createTask("long job", assignee: "keeper")
        let precious = path(live, "workspaces/keeper/\(kept)/precious")
        try waitFor("the keeper's worker wrote its file") { FileManager.default.fileExists(atPath: precious) }

        try register(live, "victim", max: 3, command: ["/bin/sh", "-c", "echo cwd=$(pwd); exec \"$KANBAN_BRIDGE_BIN\" complete"],
                     configure: { $0.workspacePolicy = .scratch })
        for id in Self.hostileIDs { try plantTask(live, id: id, assignee: "victim") }
        try waitFor("every hostile id done") { try Self.hostileIDs.allSatisfy { try live.status($0) == "done" } }

        for id in Self.hostileIDs {
            let segment = WorkspaceLayout.segment(taskID: id)
            XCTAssertTrue(segment.hasPrefix("id="), id)
            let log = try String(contentsOfFile: path(live, "logs/" + WorkspaceLayout.logFile(taskID: id)), encoding: .utf8)
            XCTAssertTrue(log.contains("cwd=" + path(live, "workspaces/victim/" + segment)), "\(id) ran in its own directory: \(log)")
        }
        // Done scratch workspaces are removed (in the background): only the recorded ones.
        try waitFor("done scratch workspaces removed") {
            (try FileManager.default.contentsOfDirectory(atPath: self.path(live, "workspaces/victim"))).isEmpty
        }
        XCTAssertEqual(try String(contentsOfFile: precious, encoding: .utf8), "work\n", "the other lane's live workspace is intact")
        XCTAssertEqual(try live.status(kept), "running")
        XCTAssertEqual(try live.board.workspaces(lane: "victim"), [], "removed workspaces are forgotten")
    }

    func test_hostileTaskIDs_onAWorktreePool_getEncodedBranches() throws {
        let live = try LiveCoordinator(dispatch: true)
        let repo = path(live, "repo")
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        for args in [["init", "-q", "-b", "main"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "root"]] {
            XCTAssertEqual(try git(["-C", repo] + args).status, 0)
        }
        try register(live, "coders", max: 2, command: ["/bin/sh", "-c", "exec \"$KANBAN_BRIDGE_BIN\" complete"],
                     configure: { $0.workspacePolicy = .worktreePerTask; $0.repo = repo })
        let ids = ["..", "-b", "x.lock"]
        for id in ids { try plantTask(live, id: id, assignee: "coders") }
        try waitFor("every hostile id done") { try ids.allSatisfy { try live.status($0) == "done" } }
        let worktrees = try git(["-C", repo, "worktree", "list", "--porcelain"]).output
        for id in ids {
            let segment = WorkspaceLayout.segment(taskID: id)
            XCTAssertTrue(worktrees.contains("worktree " + path(live, "workspaces/coders/" + segment)), worktrees)
            XCTAssertTrue(worktrees.contains("branch refs/heads/kanban/" + segment), worktrees)
        }
        let branches = try Self.openBoard(live).read { db in
            try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT id, branch_name FROM tasks").map { ($0["id"] as String, $0["branch_name"] as String?) })
        }
        for id in ids { XCTAssertEqual(branches[id] ?? nil, "kanban/" + WorkspaceLayout.segment(taskID: id), "Hermes sees the branch") }
        let recorded = try live.board.workspaces(lane: "coders")
        XCTAssertEqual(Set(recorded.map(\.taskID)), Set(ids))
        XCTAssertTrue(recorded.allSatisfy { $0.repo == repo && $0.policy == .worktreePerTask })
    }

    func test_aLaneDirectoryThatIsASymlink_isRefused_andNothingOutsideIsTouched() throws {
        let live = try LiveCoordinator(dispatch: true, retry: RetryPolicy(maxRetries: 1))
        let outside = path(live, "outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: path(live, "workspaces"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: path(live, "workspaces/victim"), withDestinationPath: outside)
        try register(live, "victim", kind: .spawn, command: ["/bin/sh", "-c", "touch escaped; exec \"$KANBAN_BRIDGE_BIN\" complete"],
                     configure: { $0.workspacePolicy = .scratch })
        let task = try live.createTask("escape", assignee: "victim")
        try waitFor("the task blocked") { try live.status(task) == "blocked" }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside), [], "no workspace was made through the symlink")
        let failure = try live.board.events(since: 0, limit: 100, lane: "victim").first { $0.type == "spawn_failed" }
        XCTAssertTrue(failure?.data["error"]?.stringValue?.contains("leads out of the workspace root") == true, "\(String(describing: failure))")
    }

    func test_aForgedWorkspaceRow_deletesNothingOutsideTheRoot() throws {
        let live = try LiveCoordinator(dispatch: true)
        try register(live, "keepers", kind: .spawn, command: ["/bin/sh", "-c", "exec \"$KANBAN_BRIDGE_BIN\" complete"],
                     configure: { $0.workspacePolicy = .scratch; $0.keepWorkspaces = true })
        let real = try live.createTask("real", assignee: "keepers")
        try waitFor("the real task done") { try live.status(real) == "done" }
        let realDir = path(live, "workspaces/keepers/\(real)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: realDir), "kept")

        // Someone with write access to the board points a workspace row of a done task elsewhere.
        let outside = path(live, "outside")
        try FileManager.default.createDirectory(atPath: outside + "/data", withIntermediateDirectories: true)
        let forged = try live.createTask("forged", assignee: "nobody")
        let db = try Self.openBoard(live)
        try db.write { db in
            try db.execute(sql: "UPDATE tasks SET status = 'done' WHERE id = ?", arguments: [forged])
            try db.execute(sql: """
                INSERT INTO bridge_workspaces (lane, task_id, path, policy, created_at_ms) VALUES ('keepers', ?, ?, 'scratch', 0)
                """, arguments: [forged, outside])
        }
        // The real worker may not have exited yet (a live worker's workspace is never queued): prune until both were.
        var queued: Set<String> = []
        try waitFor("both workspaces queued") {
            queued.formUnion(try live.admin.call(.workspacePrune(lane: "keepers"))["queued"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            return queued.contains("keepers/\(real)")
        }
        XCTAssertEqual(queued, ["keepers/\(real)", "keepers/\(forged)"])
        // The dispatcher removes in order, one queue: once the real one is gone, the forged one was tried.
        try waitFor("the real workspace removed") { !FileManager.default.fileExists(atPath: realDir) }
        try waitFor("the removed workspace forgotten") { try live.board.workspace(lane: "keepers", taskID: real) == nil }
        XCTAssertTrue(FileManager.default.fileExists(atPath: outside + "/data"), "the forged path was left alone")
        XCTAssertNotNil(try live.board.workspace(lane: "keepers", taskID: forged), "not removed, so not forgotten")
    }

    func test_aSymlinkPlantedAtTheLogName_isNotWrittenThrough() throws {
        let live = try LiveCoordinator(dispatch: true, retry: RetryPolicy(maxRetries: 1))
        try register(live, "talky", kind: .spawn, command: ["/bin/sh", "-c", "echo hi; exec \"$KANBAN_BRIDGE_BIN\" complete"])
        try FileManager.default.createDirectory(atPath: path(live, "logs"), withIntermediateDirectories: true)
        let target = path(live, "target")
        FileManager.default.createFile(atPath: target, contents: Data("untouched\n".utf8))
        try plantTask(live, id: "t_planted", assignee: "talky")
        try FileManager.default.createSymbolicLink(atPath: path(live, "logs/t_planted.log"), withDestinationPath: target)
        try waitFor("the planted task blocked") { try live.status("t_planted") == "blocked" }
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "untouched\n")
    }
}
