import Foundation
@testable import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import KanbanStore
import XCTest

/// The workshop: one repository's jobs in order, different repositories side by side, bounded.
final class WorkshopScheduleTests: XCTestCase {
    func test_sameKey_runsInOrder_oneAtATime() {
        var s = WorkshopSchedule<Int>(width: 4)
        XCTAssertEqual(s.add(1, key: "repo a").map(\.job), [1])
        XCTAssertEqual(s.add(2, key: "repo a").map(\.job), [], "the repository is busy")
        XCTAssertEqual(s.add(3, key: "repo a").map(\.job), [])
        XCTAssertEqual(s.finished(key: "repo a").map(\.job), [2], "the next of the repository, in order")
        XCTAssertEqual(s.finished(key: "repo a").map(\.job), [3])
        XCTAssertEqual(s.finished(key: "repo a").map(\.job), [])
        XCTAssertTrue(s.isIdle)
    }

    func test_otherKeys_passABusyOne_upToTheWidth() {
        var s = WorkshopSchedule<String>(width: 2)
        XCTAssertEqual(s.add("a1", key: "a").map(\.job), ["a1"])
        XCTAssertEqual(s.add("a2", key: "a").map(\.job), [])
        XCTAssertEqual(s.add("b1", key: "b").map(\.job), ["b1"], "b does not wait behind a's queue")
        XCTAssertEqual(s.add("c1", key: "c").map(\.job), [], "two at once, no more")
        XCTAssertEqual(s.finished(key: "b").map(\.job), ["c1"], "a is still busy: c goes first")
        XCTAssertEqual(s.finished(key: "a").map(\.job), ["a2"])
        XCTAssertFalse(s.isIdle)
        _ = s.finished(key: "a")
        _ = s.finished(key: "c")
        XCTAssertTrue(s.isIdle)
    }

    func test_keys_removalFollowsItsStart() {
        let lane = Lane(name: "coders", workspacePolicy: .worktreePerTask, repo: "/src/app")
        let record = WorkspaceRecord(lane: "coders", taskID: "t_1", path: "/w/coders/t_1", policy: .worktreePerTask,
                                     repo: "/src/app", branch: "kanban/t_1")
        XCTAssertEqual(WorkshopKey.of(lane), WorkshopKey.of(record), "a worktree's removal queues behind its repository's starts")
        let other = Lane(name: "docs", workspacePolicy: .worktreePerTask, repo: "/src/app")
        XCTAssertEqual(WorkshopKey.of(other), WorkshopKey.of(lane), "two lanes on one repository share its order")
        let scratch = Lane(name: "scratchy", workspacePolicy: .scratch)
        XCTAssertNotEqual(WorkshopKey.of(scratch), WorkshopKey.of(lane))
        XCTAssertEqual(WorkshopKey.of(scratch),
                       WorkshopKey.of(WorkspaceRecord(lane: "scratchy", taskID: "t_2", path: "/w/scratchy/t_2", policy: .scratch)))
    }
}

/// With real git: a repository whose `git worktree add` hangs (a post-checkout hook that waits for a
/// file this test writes) holds up its own pool only.
final class SlowRepositoryTests: XCTestCase {
    func makeRepo(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for args in [["init", "-q", "-b", "main"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "root"]] {
            XCTAssertEqual(try git(["-C", path] + args).status, 0)
        }
    }

    func register(_ live: LiveCoordinator, _ name: String, repo: String) throws {
        let lane = Lane(name: name, kind: .pool, maxConcurrency: 1,
                        command: ["/bin/sh", "-c", "exec \"$KANBAN_BRIDGE_BIN\" complete --result \"done by $KANBAN_LANE\""],
                        workspacePolicy: .worktreePerTask, repo: repo)
        _ = try live.admin.call(.register(lane))
    }

    func test_aSlowRepository_doesNotDelayAnotherPoolsStart() throws {
        let live = try LiveCoordinator(dispatch: true)
        let slowRepo = live.dir.appendingPathComponent("slow-repo").path
        let fastRepo = live.dir.appendingPathComponent("fast-repo").path
        try makeRepo(slowRepo)
        try makeRepo(fastRepo)
        let entered = live.dir.appendingPathComponent("hook-entered").path
        let release = live.dir.appendingPathComponent("hook-release").path
        // Held until the test releases it; the bound only keeps a failed test from hanging its shutdown.
        let hook = slowRepo + "/.git/hooks/post-checkout"
        try """
        #!/bin/sh
        touch '\(entered)'
        n=0
        while [ ! -e '\(release)' ] && [ $n -lt 1200 ]; do sleep 0.1; n=$((n + 1)); done
        """.write(toFile: hook, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(hook, 0o755), 0)

        try register(live, "slow-pool", repo: slowRepo)
        try register(live, "fast-pool", repo: fastRepo)
        let slow = try live.createTask("held in git", assignee: "slow-pool")
        waitFor("the slow repository's worktree is being added") { FileManager.default.fileExists(atPath: entered) }

        let fast = try live.createTask("not held", assignee: "fast-pool")
        try waitFor("the other pool's worker started and finished (\(String(describing: try? live.status(fast))))") {
            try live.status(fast) == "done"
        }
        XCTAssertNotEqual(try live.status(slow), "done", "the slow repository's start is still held in its hook")

        XCTAssertTrue(FileManager.default.createFile(atPath: release, contents: nil))
        try waitFor("the slow pool's worker started once its worktree was ready") { try live.status(slow) == "done" }
    }
}
