import Foundation
import KanbanModel
import XCTest
import Yams
@testable import KanbanCoordinator

/// A pooled run's config.yaml: the profile's, with the run's write gates (`RunHomes.runConfig`).
final class RunConfigTests: XCTestCase {
    func loaded(_ yaml: String) throws -> [String: Any] {
        try XCTUnwrap(try Yams.load(yaml: yaml) as? [String: Any])
    }

    func test_runConfig_keepsTheProfilesSettingsAndSetsTheGates() throws {
        let profile = """
            model:
              default: some-model
            memory:
              memory_char_limit: 3000
              write_approval: true
            """
        let run = try loaded(try RunHomes.runConfig(profile))
        XCTAssertEqual((run["model"] as? [String: Any])?["default"] as? String, "some-model")
        let memory = try XCTUnwrap(run["memory"] as? [String: Any])
        XCTAssertEqual(memory["memory_char_limit"] as? Int, 3000)
        XCTAssertEqual(memory["write_approval"] as? Bool, false, "memory writes go to the run's copy, diffed after it")
        XCTAssertEqual((run["skills"] as? [String: Any])?["write_approval"] as? Bool, true, "skill writes are staged")
    }

    func test_runConfig_ofAnEmptyOrMissingConfig() throws {
        let run = try loaded(try RunHomes.runConfig(""))
        XCTAssertEqual((run["skills"] as? [String: Any])?["write_approval"] as? Bool, true)
        XCTAssertThrowsError(try RunHomes.runConfig("- a list\n"), "a config that is not a mapping is refused, not replaced")
    }
}
