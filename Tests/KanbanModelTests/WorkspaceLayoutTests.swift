import KanbanModel
import XCTest

final class WorkspaceLayoutTests: XCTestCase {
    func test_plainIDs_nameThemselves() {
        for id in ["t_0123abcd", "T-1", "_x", "a.b", "release-2.1", String(repeating: "a", count: 64)] {
            XCTAssertTrue(WorkspaceLayout.isPlainSegment(id), id)
            XCTAssertEqual(WorkspaceLayout.segment(taskID: id), id)
        }
        XCTAssertEqual(WorkspaceLayout.workspace(lane: "pool", taskID: "t_1"), "pool/t_1")
        XCTAssertEqual(WorkspaceLayout.branch(taskID: "t_1"), "kanban/t_1")
        XCTAssertEqual(WorkspaceLayout.logFile(taskID: "t_1"), "t_1.log", "Hermes' own log name")
    }

    func test_hostileIDs_areEncoded_neverAPathOrAnOption() {
        let hostile = [".", "..", ".hidden", "-rf", "--git-dir=x", "a..b", "a.", "x.lock", "", "a/b", "a b",
                       String(repeating: "a", count: 65), "é"]
        var seen: Set<String> = []
        for id in hostile {
            XCTAssertFalse(WorkspaceLayout.isPlainSegment(id), id)
            let segment = WorkspaceLayout.segment(taskID: id)
            XCTAssertTrue(segment.hasPrefix("id="), segment)
            XCTAssertEqual(segment.utf8.count, 35)
            XCTAssertTrue(segment.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || $0 == 61 || $0 == 105 || $0 == 100 })
            XCTAssertTrue(seen.insert(segment).inserted, "distinct ids, distinct segments")
        }
        XCTAssertEqual(WorkspaceLayout.segment(taskID: ".."), WorkspaceLayout.segment(taskID: ".."), "stable")
        XCTAssertFalse(WorkspaceLayout.isPlainSegment(WorkspaceLayout.segment(taskID: "..")),
                       "an encoded segment is never a plain id, so no id can take another's workspace")
    }

    func test_laneNames_thatCannotBeDirectories_getNoWorkspace() {
        for lane in ["..", ".", "a/b", "-x", "Upper", ""] { XCTAssertNil(WorkspaceLayout.workspace(lane: lane, taskID: "t_1"), lane) }
    }

    func test_repoPaths_mustBeAbsoluteAndDirect() {
        XCTAssertNil(WorkspaceLayout.repoProblem("/srv/app"))
        for repo in ["srv/app", "-C/x", "/srv/../etc", "/srv/./app", "/srv/app\n", ""] {
            XCTAssertNotNil(WorkspaceLayout.repoProblem(repo), repo)
        }
    }
}
