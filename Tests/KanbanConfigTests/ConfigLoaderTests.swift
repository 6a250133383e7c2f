import Foundation
import KanbanConfig
import KanbanModel
import XCTest

final class ConfigLoaderTests: XCTestCase {
    let example = """
        workers:
          factory:            { mode: persistent, claim_mode: pull-or-watch, max_concurrency: 4 }
          messages-owner:     { profile: messages-hermes, mode: lane, max_concurrency: 1 }
          backend-hermes-pool:
            profile: backend-hermes
            mode: pool
            max_concurrency: 3
            workspace_policy: worktree-per-task      # none | scratch | worktree-per-task
            repo: /srv/app                           # for worktree-per-task
            command: ["hermes", "-p", "{profile}", "chat", "-q", "work kanban task {task_id}"]
        """

    func refusal(_ yaml: String) -> ConfigError? {
        do { _ = try ConfigLoader.parse(yaml, file: "bridge.yaml"); return nil } catch let e as ConfigError { return e } catch { return nil }
    }

    func test_theIssuesExample_loads() throws {
        let config = try ConfigLoader.parse(example)
        XCTAssertEqual(config.lanes.map(\.name), ["factory", "messages-owner", "backend-hermes-pool"])
        XCTAssertEqual(config.lanes[0].kind, .persistent)
        XCTAssertEqual(config.lanes[0].maxConcurrency, 4)
        XCTAssertEqual(config.lanes[1].kind, .spawn)
        XCTAssertEqual(config.lanes[1].command, ConfigLoader.hermesCommand, "a profile without a command runs Hermes")
        XCTAssertEqual(config.lanes[2].kind, .pool)
        XCTAssertEqual(config.lanes[2].workspacePolicy, .worktreePerTask)
        XCTAssertEqual(config.lanes[2].repo, "/srv/app")
    }

    func test_theShippedExampleFile_loads() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let config = try ConfigLoader.load(path: repo.appendingPathComponent("bridge-config/example.yaml").path)
        XCTAssertEqual(config.lanes.map(\.name), ["factory", "messages-owner", "backend-hermes-pool", "lint-pool"])
        XCTAssertEqual(config.lanes.map(\.kind), [.persistent, .spawn, .pool, .pool])
        XCTAssertNil(config.coordinator.maxRetries, "unset: the failure limit follows Hermes' own")
        XCTAssertEqual(config.lanes[3].workspacePolicy, .scratch)
    }

    func test_unknownKey_isRefusedWithFileLineAndReason() {
        let e = refusal("workers:\n  factory:\n    mode: persistent\n    max_concurency: 2\n")
        XCTAssertEqual(e?.file, "bridge.yaml")
        XCTAssertEqual(e?.line, 4)
        XCTAssertTrue(e?.reason.contains("unknown setting 'max_concurency'") == true, e?.description ?? "")
        XCTAssertTrue(e?.description.hasPrefix("bridge.yaml:4:5: ") == true, e?.description ?? "")
    }

    func test_badValues_areRefusedAtTheValue() {
        XCTAssertEqual(refusal("workers:\n  f:\n    mode: daemon\n")?.line, 3)
        XCTAssertTrue(refusal("workers:\n  f:\n    mode: pool\n    max_concurrency: zero\n    command: [x]\n")?.reason.contains("whole number") == true)
        XCTAssertTrue(refusal("workers:\n  f:\n    mode: pool\n    max_concurrency: 0\n    command: [x]\n")?.reason.contains("between 1") == true)
        XCTAssertTrue(refusal("workers:\n  Bad.Name:\n    mode: persistent\n")?.reason.contains("lane 'Bad.Name'") == true)
        XCTAssertTrue(refusal("workers:\n  f:\n    mode: pool\n    command: run\n")?.reason.contains("list of arguments") == true)
    }

    func test_impossibleCombinations_areRefused() {
        let cases: [(String, String)] = [
            ("workers:\n  f: { mode: persistent, command: [x] }\n", "never spawned"),
            ("workers:\n  f: { mode: pool, max_concurrency: 2 }\n", "neither a command nor a profile"),
            ("workers:\n  f: { mode: lane, max_concurrency: 3, command: [x] }\n", "use mode: pool"),
            ("workers:\n  f: { mode: pool, command: [x], workspace_policy: worktree-per-task }\n", "needs 'repo'"),
            ("workers:\n  f: { mode: pool, command: [x], repo: /srv }\n", "only used with"),
            ("workers:\n  f: { mode: pool, command: [\"run\", \"{task}\"] }\n", "unknown placeholder(s) {task}"),
            ("workers:\n  f: { mode: pool, profile: ../other }\n", "is not a plain name"),
            ("workers:\n  f: { mode: pool, command: [x], workspace_policy: worktree-per-task, repo: srv/app }\n", "is not absolute"),
        ]
        for (yaml, expected) in cases {
            let e = refusal(yaml)
            XCTAssertTrue(e?.reason.contains(expected) == true, "\(yaml) → \(e?.description ?? "accepted")")
        }
    }

    func test_duplicateLane_isRefused() {
        let e = refusal("workers:\n  f: { mode: persistent }\n  f: { mode: persistent }\n")
        XCTAssertTrue(e?.reason.contains("twice") == true || e?.reason.contains("uplicate") == true, e?.description ?? "accepted")
    }

    func test_coordinatorSection() throws {
        let c = try ConfigLoader.parse("coordinator:\n  command_endpoint: tcp://127.0.0.1:6000\n  max_retries: 5\n")
        XCTAssertEqual(c.coordinator.commandEndpoint, "tcp://127.0.0.1:6000")
        XCTAssertEqual(c.coordinator.maxRetries, 5)
        XCTAssertNotNil(refusal("coordinator:\n  port: 5\n"))
    }

    func test_diff_showsMissingDifferingAndUndeclaredLanes() throws {
        let declared = try ConfigLoader.parse(example).lanes
        var live = declared
        live[0].maxConcurrency = 2
        live.remove(at: 1)
        live.append(Lane(name: "by-hand"))
        let changes = ConfigDiff.changes(declared: declared, registered: live)
        XCTAssertEqual(changes.count, 3)
        XCTAssertEqual(changes[0], .differs("factory", ["max_concurrency: 4 (registered: 2)"]))
        guard case .missing(let lane) = changes[1] else { return XCTFail("\(changes)") }
        XCTAssertEqual(lane.name, "messages-owner")
        XCTAssertEqual(changes[2], .undeclared("by-hand"))
    }

    func test_theShippedRunnersFile_loads_andItsPoolsAreLanesTheCoordinatorNeverSpawns() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let config = try ConfigLoader.load(path: repo.appendingPathComponent("bridge-config/runners.yaml").path)
        XCTAssertEqual(config.runnerLanes.map(\.name), ["codex", "claude", "opencode", "hermes-remote", "local-model"])
        XCTAssertEqual(config.lanes.map(\.kind), Array(repeating: .persistent, count: 5), "runners serve them, the coordinator never spawns them")
        XCTAssertEqual(config.lanes.map(\.maxConcurrency), config.runnerLanes.map(\.maxConcurrency))
        XCTAssertEqual(config.runnerLanes[0].command?.last, "{title}\n\n{body}")
    }

    func test_runnerTrue_isForSpawnedLanesOnly() {
        XCTAssertThrowsError(try ConfigLoader.parse("workers:\n  f:\n    mode: persistent\n    runner: true\n")) { error in
            XCTAssertTrue("\(error)".contains("'runner: true' is for pools and spawn lanes"), "\(error)")
        }
    }
}
