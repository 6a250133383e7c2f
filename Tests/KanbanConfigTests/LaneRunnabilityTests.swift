import Foundation
import KanbanConfig
import XCTest

/// What a declared lane needs on this host (issue #25, finding 1), each refusal at its place in the file.
final class LaneRunnabilityTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("kb-runnability-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func test_aRepositoryMustExistAndBeGit() throws {
        XCTAssertNotNil(LaneRunnability.repoProblem(dir.path + "/missing"))
        XCTAssertEqual(LaneRunnability.repoProblem(dir.path), "repo \(dir.path) is not a git repository (no .git in it)")
        try FileManager.default.createDirectory(atPath: dir.path + "/.git", withIntermediateDirectories: true)
        XCTAssertNil(LaneRunnability.repoProblem(dir.path))
    }

    func test_aProgramMustResolveOnTheWorkersPATH() throws {
        let tool = dir.appendingPathComponent("agent")
        try "#!/bin/sh\n".write(to: tool, atomically: true, encoding: .utf8)
        XCTAssertNotNil(LaneRunnability.programProblem("agent", path: "/usr/bin"))
        XCTAssertNotNil(LaneRunnability.programProblem(tool.path, path: ""), "not executable yet")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: tool.path)
        XCTAssertNil(LaneRunnability.programProblem("agent", path: "/usr/bin:\(dir.path)"))
        XCTAssertNil(LaneRunnability.programProblem(tool.path, path: ""))
        XCTAssertNil(LaneRunnability.programProblem("{workspace}/run.sh", path: ""), "filled in per task")
        XCTAssertNil(LaneRunnability.programProblem("sh", path: "/usr/bin:/bin"))
    }

    func test_problemsNameTheFileLineAndLane_andPersistentLanesAreNeverChecked() throws {
        let yaml = """
            workers:
              factory: { mode: persistent }
              pool:
                mode: pool
                workspace_policy: worktree-per-task
                repo: \(dir.path)/nowhere
                command: ["no-such-program", "{task_id}"]
              hermes-lane: { mode: lane, profile: coder }
            """
        let config = try ConfigLoader.parse(yaml, file: "bridge.yaml")
        let problems = LaneRunnability.problems(config, file: "bridge.yaml", workerPATH: "/usr/bin:/bin").map(\.description)
        XCTAssertEqual(problems.count, 3, "\(problems)")
        XCTAssertTrue(problems[0].hasPrefix("bridge.yaml:6:11: lane 'pool': repo \(dir.path)/nowhere does not exist"), problems[0])
        XCTAssertTrue(problems[1].hasPrefix("bridge.yaml:7:14: lane 'pool': command 'no-such-program' is not found"), problems[1])
        XCTAssertTrue(problems[2].hasPrefix("bridge.yaml:8:3: lane 'hermes-lane': command 'hermes' is not found"), problems[2])
    }
}
