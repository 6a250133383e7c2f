import Foundation
import KanbanConfig
import XCTest

final class HermesCapsTests: XCTestCase {
    func home(_ yaml: String?) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hermes-home-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if let yaml { try yaml.write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8) }
        return dir
    }

    func test_readsTheKanbanCaps_asHermesDoes() throws {
        let caps = try HermesCaps.load(hermesHome: home("kanban:\n  max_in_progress: 4\n  max_spawn: '2'\n  max_in_progress_per_profile: 0\n"))
        XCTAssertEqual(caps, HermesCaps(maxInProgress: 4, maxSpawn: 2, maxInProgressPerProfile: nil), "0 is unset for Hermes")
        XCTAssertEqual(try HermesCaps.load(hermesHome: home("model: x\n")), HermesCaps())
        XCTAssertNil(try HermesCaps.load(hermesHome: home(nil)))
    }

    func test_homeComesFromTheEnvironment() {
        XCTAssertEqual(HermesCaps.defaultHome(environment: ["HERMES_HOME": "/srv/hermes", "HOME": "/root"]), "/srv/hermes")
        XCTAssertEqual(HermesCaps.defaultHome(environment: ["HOME": "/home/ann"]), "/home/ann/.hermes")
    }
}
