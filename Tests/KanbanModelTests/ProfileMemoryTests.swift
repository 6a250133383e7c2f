import KanbanModel
import XCTest

/// The pure rules of pooled runs and profile memory (`ProfileMemory`, `Lane.memoryMode`).
final class ProfileMemoryTests: XCTestCase {
    func test_memoryMode_defaultsToSharedForOneRunAndProposeForAPool() {
        XCTAssertEqual(Lane(name: "solo", kind: .spawn, maxConcurrency: 1, profile: "coder").memoryMode, .shared)
        XCTAssertEqual(Lane(name: "pool", kind: .pool, maxConcurrency: 3, profile: "coder").memoryMode, .propose)
        XCTAssertEqual(Lane(name: "pool", kind: .pool, maxConcurrency: 3, profile: "coder", memory: .shared).memoryMode, .shared,
                       "the lane's own setting wins")
        XCTAssertEqual(Lane(name: "solo", kind: .spawn, profile: "coder", memory: .readOnly).memoryMode, .readOnly)
    }

    func test_memoryMode_isSharedWithoutAProfileOrASpawnedKind() {
        XCTAssertEqual(Lane(name: "pool", kind: .pool, maxConcurrency: 3, command: ["x"]).memoryMode, .shared,
                       "no profile: no profile memory to protect")
        XCTAssertEqual(Lane(name: "p", kind: .persistent, maxConcurrency: 3, profile: "coder", memory: .propose).memoryMode, .shared)
    }

    func test_profileHome_followsHermesRootResolution() {
        let user = "/home/u"
        XCTAssertEqual(ProfileMemory.profileHome("coder", hermesHome: nil, userHome: user), "/home/u/.hermes/profiles/coder")
        XCTAssertEqual(ProfileMemory.profileHome("default", hermesHome: nil, userHome: user), "/home/u/.hermes")
        XCTAssertEqual(ProfileMemory.profileHome("coder", hermesHome: "/home/u/.hermes/profiles/other", userHome: user),
                       "/home/u/.hermes/profiles/coder", "a HERMES_HOME inside ~/.hermes: the root is ~/.hermes")
        XCTAssertEqual(ProfileMemory.profileHome("coder", hermesHome: "/opt/data", userHome: user), "/opt/data/profiles/coder",
                       "a HERMES_HOME elsewhere is the root")
        XCTAssertEqual(ProfileMemory.profileHome("coder", hermesHome: "/opt/data/profiles/other/", userHome: user),
                       "/opt/data/profiles/coder", "a profile's home elsewhere: its grandparent is the root")
    }

    func test_runHome_endsInProfilesSoHermesTakesItAsAProfileHome() {
        XCTAssertEqual(ProfileMemory.runHome(root: "/w/.hermes-runs", runID: 7, profile: "coder"), "/w/.hermes-runs/run-7/profiles/coder")
        XCTAssertEqual(ProfileMemory.runDirectory(root: "/w/.hermes-runs", runID: 7), "/w/.hermes-runs/run-7")
    }

    func test_mirrored_linksEverythingButConfigMemoriesPendingAndRootFiles() {
        XCTAssertEqual(ProfileMemory.mirrored(["skills", "config.yaml", "memories", "pending", ".env", "state.db", "active_profile", "profiles"]),
                       [".env", "skills", "state.db"])
    }

    func test_mirroredRoot_linksTheRootsSharedThingsButNotItsProfiles() {
        XCTAssertEqual(ProfileMemory.mirroredRoot(["auth.json", "profiles", "shared", "active_profile", "kanban", "kanban.db"]),
                       ["auth.json", "kanban", "kanban.db", "shared"])
    }

    func test_commandForRunHome_dropsOnlyTheProfileFlag() {
        XCTAssertEqual(ProfileMemory.commandForRunHome(ConfigLoaderCommand.hermes), ["hermes", "chat", "-q", "work kanban task {task_id}"])
        XCTAssertEqual(ProfileMemory.commandForRunHome(["hermes", "--profile", "{profile}", "--cli", "chat"]), ["hermes", "--cli", "chat"])
        XCTAssertEqual(ProfileMemory.commandForRunHome(["hermes", "--profile={profile}", "chat"]), ["hermes", "chat"])
        XCTAssertEqual(ProfileMemory.commandForRunHome(["hermes", "-p", "other", "chat"]), ["hermes", "-p", "other", "chat"],
                       "a flag naming another profile is the lane's business")
        XCTAssertEqual(ProfileMemory.commandForRunHome(["worker.py", "{profile}", "-p"]), ["worker.py", "{profile}", "-p"])
    }

    func test_entries_splitAsHermesDoes() {
        XCTAssertEqual(ProfileMemory.entries(""), [])
        XCTAssertEqual(ProfileMemory.entries(" \n "), [])
        XCTAssertEqual(ProfileMemory.entries("a\n§\n b \n§\n\n§\na"), ["a", "b"], "trimmed, empty and duplicate entries dropped")
        XCTAssertEqual(ProfileMemory.entries("uses § inside\n§\nnext"), ["uses § inside", "next"], "only the delimiter line splits")
    }

    func test_changes_areRemovalsThenAdditions() {
        let before = "keep\n§\nold fact"
        let after = "keep\n§\nnew fact\n§\nanother"
        XCTAssertEqual(ProfileMemory.changes(target: "memory", before: before, after: after), [
            .init(action: .remove, target: "memory", entry: "old fact"),
            .init(action: .add, target: "memory", entry: "new fact"),
            .init(action: .add, target: "memory", entry: "another"),
        ])
        XCTAssertEqual(ProfileMemory.changes(target: "user", before: before, after: before), [])
    }

    func test_proposal_isHermesStagedWriteShapedAndTaggedWithTheRun() {
        let origin = ProfileMemory.Origin(taskID: "t_1", runID: 42, lane: "pool")
        let add = ProfileMemory.proposal(.init(action: .add, target: "user", entry: "likes tea"), id: "kb42-1-abc", origin: origin, createdAt: 1)
        XCTAssertEqual(add["id"], "kb42-1-abc")
        XCTAssertEqual(add["subsystem"], "memory")
        XCTAssertEqual(add["payload"], ["action": "add", "target": "user", "content": "likes tea", "old_text": .null])
        XCTAssertEqual(add["summary"], "[kanban task t_1 run 42] add to user profile: likes tea")
        XCTAssertEqual(add["kanban"], ["task_id": "t_1", "run_id": 42, "lane": "pool"])
        let remove = ProfileMemory.proposal(.init(action: .remove, target: "memory", entry: "stale"), id: "x", origin: origin, createdAt: 1)
        XCTAssertEqual(remove["payload"], ["action": "remove", "target": "memory", "content": .null, "old_text": "stale"])
    }

    func test_pendingIDs_differAcrossRunsAndWithinOne() {
        let ids = [ProfileMemory.pendingID(runID: 1, n: 1, nonce: "a"), ProfileMemory.pendingID(runID: 1, n: 2, nonce: "a"),
                   ProfileMemory.pendingID(runID: 2, n: 1, nonce: "a"), ProfileMemory.pendingID(runID: 1, n: 1, nonce: "b")]
        XCTAssertEqual(Set(ids).count, 4)
        XCTAssertTrue(ids.allSatisfy { !$0.contains("/") && !$0.hasPrefix(".") }, "each is a file name in Hermes' store")
    }

    func test_retagged_keepsHermesRecordButGivesItTheRunsIdAndTag() {
        let origin = ProfileMemory.Origin(taskID: "t_1", runID: 3, lane: "pool")
        let staged: JSONValue = ["id": "abcd1234", "subsystem": "skills", "summary": "create 'x'", "payload": ["action": "create"]]
        let out = ProfileMemory.retagged(staged, id: "kb3-1-z", origin: origin)
        XCTAssertEqual(out?["id"], "kb3-1-z")
        XCTAssertEqual(out?["summary"], "[kanban task t_1 run 3] create 'x'")
        XCTAssertEqual(out?["payload"], ["action": "create"])
        XCTAssertNil(ProfileMemory.retagged(["id": "x"], id: "y", origin: origin), "not a staged write")
    }

    func test_reviewTask_isOnePerRunForTheOwnerLane() {
        let spec = ProfileMemory.reviewTask(origin: .init(taskID: "t_1", runID: 9, lane: "pool"), comment: "Run 9 proposed 1 write(s)", owner: "owner")
        XCTAssertEqual(spec.title, "review memory proposed by run 9 of task t_1")
        XCTAssertEqual(spec.assignee, "owner")
        XCTAssertEqual(spec.idempotencyKey, "kanban-memory-review-run-9", "a report applied twice makes one task")
        XCTAssertTrue(spec.body?.hasPrefix("Run 9 proposed 1 write(s)") == true)
    }

    func test_summary_saysProposedOrDropped() {
        let origin = ProfileMemory.Origin(taskID: "t_1", runID: 3, lane: "pool")
        let record = ProfileMemory.proposal(.init(action: .add, target: "memory", entry: "f"), id: "kb3-1-z", origin: origin, createdAt: 1)
        XCTAssertNil(ProfileMemory.summary(mode: .propose, origin: origin, records: [], profile: "coder"))
        XCTAssertTrue(ProfileMemory.summary(mode: .propose, origin: origin, records: [record], profile: "coder")!.contains("/memory pending"))
        XCTAssertTrue(ProfileMemory.summary(mode: .readOnly, origin: origin, records: [record], profile: "coder")!.contains("dropped"))
    }
}

/// The Hermes command a profile lane runs by default (`ConfigLoader.hermesCommand`, not importable here).
enum ConfigLoaderCommand {
    static let hermes = ["hermes", "-p", "{profile}", "chat", "-q", "work kanban task {task_id}"]
}
