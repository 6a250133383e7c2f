import Foundation
import GRDB
import KanbanClient
import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import XCTest

/// Spawn lanes and pools with real processes: shell workers that report through the `kanban-bridge` CLI
/// using the claim the dispatcher put in their environment.
final class DispatcherTests: XCTestCase {
    /// A worker that sleeps, then completes its task.
    static func completes(after seconds: Double) -> [String] {
        ["/bin/sh", "-c", "sleep \(seconds); exec \"$KANBAN_BRIDGE_BIN\" complete --result \"done by $KANBAN_LANE\""]
    }

    func register(_ live: LiveCoordinator, _ name: String, kind: LaneKind, max: Int = 1, command: [String],
                  configure: (inout Lane) -> Void = { _ in }) throws {
        var lane = Lane(name: name, kind: kind, maxConcurrency: max, command: command)
        configure(&lane)
        _ = try live.admin.call(.register(lane))
    }

    /// `waitFor` (WaitFor.swift), failing at the caller's line.
    func waitUntil(_ timeout: TimeInterval = 30, file: StaticString = #filePath, line: UInt = #line,
                   _ condition: () throws -> Bool) throws {
        try waitFor("the condition", timeout: timeout, file: file, line: line, condition)
    }

    /// Claim intervals (ms) of every run, by task, from the bridge's own record.
    func intervals(_ live: LiveCoordinator) throws -> [(task: String, lane: String, start: Int64, end: Int64)] {
        let db = try DatabaseQueue(path: live.dir.appendingPathComponent("kanban.db").path)
        return try db.read { db in
            try Row.fetchAll(db, sql: "SELECT task_id, lane, claimed_at_ms, ended_at_ms FROM bridge_claims ORDER BY claimed_at_ms").map {
                ($0["task_id"], $0["lane"], $0["claimed_at_ms"], $0["ended_at_ms"] ?? Int64.max)
            }
        }
    }

    /// The most runs that were open at one instant.
    func maxOverlap(_ spans: [(task: String, lane: String, start: Int64, end: Int64)]) -> Int {
        var points: [(at: Int64, delta: Int)] = []
        for span in spans {
            points.append((span.start, 1))
            points.append((span.end, -1))
        }
        // At equal instants an end comes before a start: back-to-back runs do not overlap.
        points.sort { a, b in a.at == b.at ? a.delta < b.delta : a.at < b.at }
        var open = 0, most = 0
        for (_, delta) in points { open += delta; most = max(most, open) }
        return most
    }

    func allDone(_ live: LiveCoordinator, _ ids: [String]) throws -> Bool { try ids.allSatisfy { try live.status($0) == "done" } }

    func test_poolOfThree_runsSevenTasks_neverMoreThanThreeAtOnce() throws {
        let live = try LiveCoordinator(dispatch: true)
        try register(live, "backend-pool", kind: .pool, max: 3, command: Self.completes(after: 0.4))
        let ids = try (0..<7).map { try live.createTask("job \($0)", assignee: "backend-pool") }
        try waitUntil { try allDone(live, ids) }
        let spans = try intervals(live)
        XCTAssertEqual(spans.count, 7, "one run per task")
        XCTAssertEqual(maxOverlap(spans), 3, "three at once, never more")
    }

    func test_laneOfOne_runsTasksOneByOne() throws {
        let live = try LiveCoordinator(dispatch: true)
        try register(live, "serial", kind: .spawn, command: Self.completes(after: 0.2))
        let ids = try (0..<3).map { try live.createTask("job \($0)", assignee: "serial") }
        try waitUntil { try allDone(live, ids) }
        XCTAssertEqual(maxOverlap(try intervals(live)), 1)
    }

    func test_workflow_ownerThenPoolsInParallelThenOwner() throws {
        let live = try LiveCoordinator(dispatch: true)
        try register(live, "owner", kind: .spawn, command: Self.completes(after: 0.2))
        try register(live, "backend", kind: .pool, max: 3, command: Self.completes(after: 0.6))
        try register(live, "frontend", kind: .pool, max: 2, command: Self.completes(after: 0.6))
        let t0 = try live.createTask("T0 plan", assignee: "owner")
        let t1 = try live.createTask("T1 api", assignee: "backend", parents: [t0])
        let t3 = try live.createTask("T3 db", assignee: "backend", parents: [t0])
        let t2 = try live.createTask("T2 ui", assignee: "frontend", parents: [t0])
        let t4 = try live.createTask("T4 ship", assignee: "owner", parents: [t1, t2, t3])
        try waitUntil { try allDone(live, [t0, t1, t2, t3, t4]) }
        let spans = Dictionary(uniqueKeysWithValues: try intervals(live).map { ($0.task, $0) })
        let middle = [t1, t2, t3].map { spans[$0]! }
        XCTAssertTrue(middle.allSatisfy { $0.start >= spans[t0]!.end }, "T1-T3 wait for T0")
        XCTAssertTrue(middle.allSatisfy { spans[t4]!.start >= $0.end }, "T4 waits for all three")
        XCTAssertEqual(maxOverlap(middle), 3, "T1, T2 and T3 ran in parallel across two pools")
    }

    func test_worktreePerTask_givesEachTaskItsOwnWorktreeAndBranch() throws {
        let live = try LiveCoordinator(dispatch: true)
        let repo = live.dir.appendingPathComponent("repo").path
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        for args in [["init", "-q", "-b", "main"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "root"]] {
            XCTAssertEqual(try git(["-C", repo] + args).status, 0)
        }
        try register(live, "coders", kind: .pool, max: 2,
                     command: ["/bin/sh", "-c", "echo \"$KANBAN_TASK\" > note.txt && exec \"$KANBAN_BRIDGE_BIN\" complete"],
                     configure: { $0.workspacePolicy = .worktreePerTask; $0.repo = repo })
        let ids = try (0..<2).map { try live.createTask("change \($0)", assignee: "coders") }
        try waitUntil { try allDone(live, ids) }
        let worktrees = try git(["-C", repo, "worktree", "list", "--porcelain"]).output
        for id in ids {
            let path = live.dir.appendingPathComponent("workspaces/coders/\(id)").path
            XCTAssertTrue(worktrees.contains("worktree \(path)"), worktrees)
            XCTAssertTrue(worktrees.contains("branch refs/heads/kanban/\(id)"), worktrees)
            XCTAssertEqual(try String(contentsOfFile: path + "/note.txt", encoding: .utf8), id + "\n", "kept for review")
        }
        // A task is done as soon as its worker's `complete` commits, but the worker process may not
        // have exited yet, and a workspace a live worker uses is never queued: prune until both were
        // queued, then wait for the dispatcher to remove them in the background.
        var queued: Set<String> = []
        try waitUntil {
            let more = try live.admin.call(.workspacePrune(lane: "coders"))["queued"]?.arrayValue?.compactMap(\.stringValue) ?? []
            queued.formUnion(more)
            return queued.count >= ids.count
        }
        XCTAssertEqual(queued, Set(ids.map { "coders/\($0)" }))
        try waitUntil {
            ids.allSatisfy { !FileManager.default.fileExists(atPath: live.dir.appendingPathComponent("workspaces/coders/\($0)").path) }
        }
        let after = try git(["-C", repo, "worktree", "list", "--porcelain"]).output
        for id in ids {
            XCTAssertFalse(after.contains("workspaces/coders/\(id)"), after)
            XCTAssertEqual(try git(["-C", repo, "rev-parse", "--verify", "-q", "kanban/\(id)"]).status, 0, "the branch stays for review")
        }
    }

    func test_crashExitZeroAndTimeout_areRetried_thenGivenUp() throws {
        let live = try LiveCoordinator(dispatch: true, retry: RetryPolicy(maxRetries: 3))
        let counter = live.dir.appendingPathComponent("attempts").path
        // Attempt 1 exits 1, attempt 2 exits 0 without completing, attempt 3 overstays its limit.
        let script = "n=$(cat '\(counter)' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '\(counter)'; "
            + "case $n in 1) exit 1;; 2) exit 0;; *) exec sleep 30;; esac"
        try register(live, "flaky", kind: .spawn, command: ["/bin/sh", "-c", script]) { $0.maxRuntimeSeconds = 1 }
        let task = try live.createTask("doomed", assignee: "flaky")
        try waitUntil { try live.status(task) == "blocked" }
        let events = try live.board.events(since: 0, limit: 1000, lane: "flaky").filter { $0.taskID == task }
        let failures = events.filter { ["crashed", "timed_out", "gave_up", "spawn_failed"].contains($0.type) }
        XCTAssertEqual(failures.map(\.type), ["crashed", "crashed", "timed_out", "gave_up"])
        XCTAssertEqual(failures[0].data["exit_code"], 1)
        XCTAssertEqual(failures[1].data["exit_code"], 0)
        XCTAssertEqual(failures[2].data["limit_seconds"], 1)
        XCTAssertEqual(failures[3].data["failures"], 3)
        XCTAssertEqual(events.filter { $0.type == "spawned" }.count, 3, "retried twice, then given up")
    }

    func test_missingCommand_endsAsSpawnFailed() throws {
        let live = try LiveCoordinator(dispatch: true, retry: RetryPolicy(maxRetries: 1))
        try register(live, "broken", kind: .spawn, command: ["/nonexistent/worker"])
        let task = try live.createTask("never starts", assignee: "broken")
        try waitUntil { try live.status(task) == "blocked" }
        let types = try live.board.events(since: 0, limit: 100, lane: "broken").filter { $0.taskID == task }.map(\.type)
        XCTAssertEqual(types.suffix(2), ["spawn_failed", "gave_up"])
    }

    func test_persistentLane_isNeverSpawned_evenWhenOthersAre() throws {
        let live = try LiveCoordinator(dispatch: true)
        try register(live, "factory", kind: .persistent, max: 4, command: Self.completes(after: 0))
        try register(live, "pool", kind: .pool, max: 2, command: Self.completes(after: 0.1))
        let theirs = try (0..<3).map { try live.createTask("pool \($0)", assignee: "pool") }
        let mine = try (0..<3).map { try live.createTask("factory \($0)", assignee: "factory") }
        try waitUntil { try allDone(live, theirs) }
        // Positive control instead of a pause: pool work created now is dispatched and done only
        // after dispatcher passes that saw the persistent lane's tasks ready.
        let marker = try live.createTask("pool marker", assignee: "pool")
        try waitUntil { try allDone(live, [marker]) }
        for id in mine { XCTAssertEqual(try live.status(id), "ready") }
        XCTAssertFalse(try live.board.events(since: 0, limit: 1000, lane: "factory").contains { $0.type == "spawned" })
    }

    func test_shutdown_stopsWorkers_andReleasesTheirClaims() throws {
        let live = try LiveCoordinator(dispatch: true)
        try register(live, "sleepy", kind: .spawn, command: ["/bin/sh", "-c", "echo $$ > pid; exec sleep 60"],
                     configure: { $0.workspacePolicy = .scratch; $0.keepWorkspaces = true })
        let task = try live.createTask("long", assignee: "sleepy")
        let pidFile = live.dir.appendingPathComponent("workspaces/sleepy/\(task)/pid").path
        try waitUntil { FileManager.default.fileExists(atPath: pidFile) && (try? String(contentsOfFile: pidFile, encoding: .utf8)) != "" }
        let pid = Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines))!
        let next = try live.restarted()
        XCTAssertEqual(kill(pid, 0), -1, "the worker is gone")
        XCTAssertEqual(try next.status(task), "ready")
        XCTAssertEqual(try next.board.task(id: task)?.runs.last?.outcome, "released")
    }

    func test_workForANameNoLaneServes_staysReady_andIsReported() throws {
        let live = try LiveCoordinator(dispatch: true)
        let task = try live.createTask("for nobody", assignee: "ghost")
        // Positive control instead of a pause: a spawn lane's task created after it is dispatched and
        // done only after dispatcher passes that saw the ghost's task ready.
        try register(live, "control", kind: .spawn, command: Self.completes(after: 0))
        let marker = try live.createTask("control marker", assignee: "control")
        try waitUntil { try live.status(marker) == "done" }
        XCTAssertEqual(try live.status(task), "ready")
        let unregistered = try live.admin.call(.laneList)["unregistered"]?.arrayValue ?? []
        XCTAssertEqual(unregistered.first?["assignee"], "ghost")
        XCTAssertEqual(unregistered.first?["queued"], 1)
    }

    func test_workerOutput_goesToThePerTaskLog() throws {
        let live = try LiveCoordinator(dispatch: true)
        try register(live, "talky", kind: .spawn, command: ["/bin/sh", "-c", "echo hello from {task_id}; exec \"$KANBAN_BRIDGE_BIN\" complete"])
        let task = try live.createTask("say hi", assignee: "talky")
        try waitUntil { try live.status(task) == "done" }
        let text = try String(contentsOfFile: live.dir.appendingPathComponent("logs/\(task).log").path, encoding: .utf8)
        XCTAssertTrue(text.contains("=== run "), text)
        XCTAssertTrue(text.contains("hello from \(task)"), text)
    }
}
