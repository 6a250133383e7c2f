import Foundation
import KanbanModel
import XCTest
@testable import KanbanCoordinator

/// A run's Hermes home on a real file system: what it links, copies and writes, and what its harvest
/// leaves in the profile (`RunHomes`).
final class RunHomesTests: XCTestCase {
    var dir: String!
    var profile: String { dir + "/hermes/profiles/coder" }
    var homes: RunHomes { RunHomes(root: dir + "/runs", hermesHome: dir + "/hermes", userHome: dir + "/home") }
    let fm = FileManager.default

    override func setUpWithError() throws {
        dir = fm.temporaryDirectory.appendingPathComponent("runhomes-\(UUID().uuidString)").path
        try fm.createDirectory(atPath: profile + "/memories", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: profile + "/skills", withIntermediateDirectories: true)
        try "old fact\n§\nkept fact".write(toFile: profile + "/memories/MEMORY.md", atomically: true, encoding: .utf8)
        try "model:\n  default: m\n".write(toFile: profile + "/config.yaml", atomically: true, encoding: .utf8)
        try "KEY=1\n".write(toFile: profile + "/.env", atomically: true, encoding: .utf8)
        try "other".write(toFile: profile + "/active_profile", atomically: true, encoding: .utf8)
        try "{}".write(toFile: dir + "/hermes/auth.json", atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? fm.removeItem(atPath: dir) }

    func lane(_ memory: MemoryMode?) -> Lane { Lane(name: "pool", kind: .pool, maxConcurrency: 3, command: ["x"], profile: "coder", memory: memory) }

    func test_prepare_mirrorsTheProfile_copiesMemory_andWritesItsOwnConfig() throws {
        let (prepared, note) = try homes.prepare(lane: lane(nil), taskID: "t_1", runID: 5)
        let run = try XCTUnwrap(prepared)
        XCTAssertNil(note)
        XCTAssertEqual(run.home, dir + "/runs/run-5/profiles/coder")
        XCTAssertEqual(try fm.destinationOfSymbolicLink(atPath: run.home + "/skills"), profile + "/skills")
        XCTAssertEqual(try fm.destinationOfSymbolicLink(atPath: run.home + "/.env"), profile + "/.env")
        XCTAssertFalse(fm.fileExists(atPath: run.home + "/active_profile"), "a sticky profile would send Hermes elsewhere")
        XCTAssertEqual(try fm.destinationOfSymbolicLink(atPath: dir + "/runs/run-5/auth.json"), dir + "/hermes/auth.json",
                       "the run's root links the Hermes root's credentials, which a profile falls back to")
        XCTAssertFalse(fm.fileExists(atPath: dir + "/runs/run-5/profiles/other"), "not the root's other profiles")
        XCTAssertThrowsError(try fm.destinationOfSymbolicLink(atPath: run.home + "/memories"), "a copy, not a link")
        XCTAssertEqual(try String(contentsOfFile: run.home + "/memories/MEMORY.md", encoding: .utf8), "old fact\n§\nkept fact")
        XCTAssertTrue(try String(contentsOfFile: run.home + "/config.yaml", encoding: .utf8).contains("write_approval: true"))
        XCTAssertEqual((try fm.attributesOfItem(atPath: dir + "/runs/run-5"))[.posixPermissions] as? Int, 0o700)
    }

    func test_harvest_ofAProposeRun_stagesEachChangeAndStagedWrite_inTheProfile() throws {
        let run = try XCTUnwrap(try homes.prepare(lane: lane(.propose), taskID: "t_1", runID: 5).0)
        // The run replaces an entry (the memory tool rewrites the file) and its Hermes stages a skill write.
        try "kept fact\n§\nnew fact".write(toFile: run.home + "/memories/MEMORY.md", atomically: true, encoding: .utf8)
        try fm.createDirectory(atPath: run.home + "/pending/skills", withIntermediateDirectories: true)
        try #"{"id":"abc","subsystem":"skills","summary":"create 'x'","payload":{"action":"create","name":"x"}}"#
            .write(toFile: run.home + "/pending/skills/abc.json", atomically: true, encoding: .utf8)

        let harvest = homes.harvest(run)
        XCTAssertEqual(harvest.problems, [])
        XCTAssertEqual(harvest.records.map { $0["payload"]?["action"] }, ["remove", "add", "create"])
        let memory = try fm.contentsOfDirectory(atPath: profile + "/pending/memory").sorted()
        XCTAssertEqual(memory.count, 2)
        XCTAssertTrue(memory.allSatisfy { $0.hasPrefix("kb5-") && $0.hasSuffix(".json") }, "\(memory)")
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: profile + "/pending/skills").count, 1)
        XCTAssertEqual(try String(contentsOfFile: profile + "/memories/MEMORY.md", encoding: .utf8), "old fact\n§\nkept fact",
                       "the profile's memory is not written")
        XCTAssertFalse(fm.fileExists(atPath: run.directory), "the run's home is removed")
        XCTAssertTrue(fm.fileExists(atPath: profile + "/skills"), "removing the run's links leaves what they pointed to")
    }

    func test_harvest_ofAReadOnlyRun_writesNothing() throws {
        let run = try XCTUnwrap(try homes.prepare(lane: lane(.readOnly), taskID: "t_1", runID: 6).0)
        try "old fact\n§\nkept fact\n§\nforget me".write(toFile: run.home + "/memories/MEMORY.md", atomically: true, encoding: .utf8)
        let harvest = homes.harvest(run)
        XCTAssertEqual(harvest.records.count, 1, "what was dropped, for the log and the comment")
        XCTAssertFalse(fm.fileExists(atPath: profile + "/pending"))
        XCTAssertFalse(fm.fileExists(atPath: run.directory))
    }

    func test_prepare_withoutTheProfilesHome_isSharedByDefault_andRefusedWhenAskedFor() throws {
        var other = lane(nil)
        other.profile = "missing"
        let (run, note) = try homes.prepare(lane: other, taskID: "t_1", runID: 7)
        XCTAssertNil(run)
        XCTAssertTrue(note?.contains("memory: shared, not the default propose") == true, note ?? "")
        other.memory = .propose
        XCTAssertThrowsError(try homes.prepare(lane: other, taskID: "t_1", runID: 7))
        XCTAssertNil(try homes.prepare(lane: lane(.shared), taskID: "t_1", runID: 8).0, "shared: the profile's own home")
        XCTAssertEqual(homes.sharedHome(lane: lane(.shared)), profile)
    }
}
