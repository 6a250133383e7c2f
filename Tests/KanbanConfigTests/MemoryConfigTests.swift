import KanbanConfig
import KanbanModel
import XCTest

/// `memory:` in a lane's settings (docs/HERMES.md, "Pooled runs and profile memory").
final class MemoryConfigTests: XCTestCase {
    func refusal(_ yaml: String) -> ConfigError? {
        do { _ = try ConfigLoader.parse(yaml, file: "bridge.yaml"); return nil } catch let e as ConfigError { return e } catch { return nil }
    }

    func test_memory_loadsAndDefaultsByConcurrency() throws {
        let config = try ConfigLoader.parse("""
            workers:
              pool:  { mode: pool, profile: coder, max_concurrency: 3 }
              solo:  { mode: lane, profile: coder }
              ro:    { mode: pool, profile: coder, max_concurrency: 2, memory: read-only }
              own:   { mode: pool, profile: coder, max_concurrency: 2, memory: shared }
            """)
        XCTAssertEqual(config.lanes.map(\.memory), [nil, nil, .readOnly, .shared])
        XCTAssertEqual(config.lanes.map(\.memoryMode), [.propose, .shared, .readOnly, .shared])
    }

    func test_memoryOwner_loads() throws {
        let config = try ConfigLoader.parse("workers:\n  pool: { mode: pool, profile: coder, max_concurrency: 3, memory_owner: coder-owner }\n")
        XCTAssertEqual(config.lanes[0].memoryOwner, "coder-owner")
        XCTAssertEqual(ConfigDiff.patch(to: config.lanes[0]).memoryOwner, "coder-owner")
    }

    func test_memory_isRefusedWhereItMeansNothing() {
        let cases: [(String, String)] = [
            ("workers:\n  f: { mode: pool, command: [x], memory_owner: o }\n", "memory_owner applies to runs of a Hermes profile"),
            ("workers:\n  f: { mode: pool, profile: coder, memory_owner: Bad.Name }\n", "memory_owner: a lane name"),
            ("workers:\n  f: { mode: persistent, memory: propose }\n", "never spawned"),
            ("workers:\n  f: { mode: pool, command: [x], memory: propose }\n", "has no profile"),
            ("workers:\n  f: { mode: pool, profile: coder, memory: yes }\n", "memory must be one of shared, propose, read-only"),
        ]
        for (yaml, expected) in cases {
            let e = refusal(yaml)
            XCTAssertTrue(e?.reason.contains(expected) == true, "\(yaml) → \(e?.description ?? "accepted")")
        }
    }

    func test_diff_comparesTheModeRunsGet() throws {
        let declared = try ConfigLoader.parse("workers:\n  pool: { mode: pool, profile: coder, max_concurrency: 3 }\n").lanes
        var live = declared
        live[0].memory = .propose
        XCTAssertEqual(ConfigDiff.changes(declared: declared, registered: live), [], "the default is propose: no difference")
        live[0].memory = .readOnly
        XCTAssertEqual(ConfigDiff.changes(declared: declared, registered: live), [.differs("pool", ["memory: propose (registered: read-only)"])])
        XCTAssertEqual(ConfigDiff.patch(to: declared[0]).memory, .propose, "a patch sends the mode the default stands for")
    }
}
