import Foundation
import GRDB
import KanbanModel
import KanbanProtocol
import KanbanStore
import XCTest

/// Issue #19, finding 3: one entry of the tasks primary-key index changed. `quick_check` passes, so
/// `serve` starts; the entry hides its task from every lookup by id. Over real sockets: the lane's
/// other tasks are all claimable, the hidden one is logged, counted and quarantined, and `stats` and
/// `doctor`'s check report the damage.
final class DamagedIndexTests: XCTestCase {
    func test_damagedPrimaryKeyIndex_otherTasksFlow_andTheDamageIsReported() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kb-damaged-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("kanban.db").path
        var hidden = "", others: [String] = []
        do {
            let board = try SQLiteBoard(path: path)
            // The damaged task has the top priority: the lane's candidate query picks it first, every time.
            hidden = try board.createTask(TaskSpec(title: "hidden", assignee: "factory", priority: 10), nowMs: 1_000).id
            for i in 0..<40 { others.append(try board.createTask(TaskSpec(title: "t\(i)", assignee: "factory"), nowMs: 2_000 + Int64(i)).id) }
        }  // closed: SQLite checkpoints the WAL into the file and removes it
        try DamagedIndex.changeKey(of: hidden, inPrimaryKeyIndexOf: path)
        let raw = try DatabaseQueue(path: path)
        XCTAssertEqual(try raw.read { try String.fetchAll($0, sql: "PRAGMA quick_check") }, ["ok"], "the damage passes quick_check, as in the finding")
        XCTAssertNotEqual(try raw.read { try String.fetchAll($0, sql: "PRAGMA integrity_check") }, ["ok"])
        try raw.close()
        XCTAssertThrowsError(try SQLiteBoard.verifyIntact(path: path, thorough: true)) { error in
            XCTAssertTrue("\(error)".contains("REINDEX"), "doctor's check names the repair for index-only damage: \(error)")
        }

        let live = try LiveCoordinator(dir: dir)
        let factory = live.client(try live.registerLane("factory", maxConcurrency: 100))
        var claimed: Set<String> = []
        for _ in 0..<(others.count + 5) {
            let reply = try factory.call(.claim(lane: "factory"))
            guard let id = reply["task"]?["id"]?.stringValue else { break }
            claimed.insert(id)
        }
        XCTAssertEqual(claimed, Set(others), "every task but the hidden one is claimable")
        XCTAssertEqual(errorCode { try live.admin.call(.taskGet(taskID: hidden)) }, .notFound, "the index hides it from lookups by id")

        var board: JSONValue = [:]
        try waitFor("the background integrity check reports") {
            board = try live.admin.call(.stats(windowSeconds: 60))["board"] ?? [:]
            return board["integrity"]?.stringValue != "pending"
        }
        XCTAssertEqual(board["integrity"]?.stringValue, "problems")
        XCTAssertGreaterThan(board["integrity_problems"]?.intValue ?? 0, 0)
        XCTAssertEqual(board["quarantined"], .array([.string(hidden)]))
        XCTAssertEqual(board["inconsistencies"]?.intValue, 1, "found once, then stepped over")
    }
}

extension DamagedIndexTests {
    /// After `REINDEX` a clean check lifts the quarantine without a restart.
    func test_cleanCheckAfterReindex_liftsTheQuarantine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kb-reindex-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("kanban.db").path
        var hidden = ""
        do {
            let board = try SQLiteBoard(path: path)
            hidden = try board.createTask(TaskSpec(title: "hidden", assignee: "factory", priority: 10), nowMs: 1_000).id
            for i in 0..<5 { _ = try board.createTask(TaskSpec(title: "t\(i)", assignee: "factory"), nowMs: 2_000 + Int64(i)) }
        }
        try DamagedIndex.changeKey(of: hidden, inPrimaryKeyIndexOf: path)
        let board = try SQLiteBoard(path: path)
        let lane = try board.registerLane(Lane(name: "factory", maxConcurrency: 10), tokenHash: Secrets.hash("lt_x"), nowMs: 3_000).lane
        let claimed = try board.claim(ClaimIntent(lane: lane, taskID: nil, leaseMs: 60_000, tokenHash: Secrets.hash("ct_1")), nowMs: 3_000)
        XCTAssertNotEqual(claimed?.task.id, hidden)
        XCTAssertEqual(board.health().quarantined, [hidden])
        XCTAssertEqual(board.takeInconsistencies().map(\.taskID), [hidden])
        let raw = try DatabaseQueue(path: path)
        try raw.write { try $0.execute(sql: "REINDEX") }
        try raw.close()
        XCTAssertTrue(board.startIntegrityCheck())
        try waitFor("the check ends") { board.health().integrity != .pending }
        XCTAssertEqual(board.health().integrity, .ok)
        XCTAssertEqual(board.health().quarantined, [], "a clean check after the quarantine lifts it")
        XCTAssertEqual(try board.task(id: hidden)?.task.status, .ready, "found by its id again")
    }
}

/// Damages a board file the way the finding did, deterministically: one key of the tasks
/// primary-key index (`sqlite_autoindex_tasks_1`) is changed in place, in the file's bytes.
enum DamagedIndex {
    static func changeKey(of id: String, inPrimaryKeyIndexOf path: String) throws {
        let queue = try DatabaseQueue(path: path)
        let (root, pageSize, ids) = try queue.read { db in
            (try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_tasks_1'")!,
             try Int.fetchOne(db, sql: "PRAGMA page_size")!, try String.fetchAll(db, sql: "SELECT id FROM tasks ORDER BY id"))
        }
        try queue.close()
        // A key that sorts where the old one did (so lookups still binary-search the page correctly)
        // and names no task: the last character changed.
        let at = ids.firstIndex(of: id)!
        let before = at > 0 ? ids[at - 1] : "", after = at + 1 < ids.count ? ids[at + 1] : "\u{7F}"
        guard let key = "0123456789abcdef".map({ String(id.dropLast()) + String($0) })
            .first(where: { $0 != id && $0 > before && $0 < after && !ids.contains($0) }) else {
            throw BoardError.invalid("no key sorts between the neighbours of \(id)")
        }
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? file.close() }
        let offset = UInt64((root - 1) * pageSize)
        try file.seek(toOffset: offset)
        var page = [UInt8](try file.read(upToCount: pageSize)!)
        // A leaf index page (type 13 = 0x0A) holds every key: a board this small has one.
        guard page[0] == 0x0A else { throw BoardError.invalid("the index root is not a leaf page (type \(page[0]))") }
        let old = Array(id.utf8)
        guard let hit = (0...(page.count - old.count)).first(where: { Array(page[$0..<($0 + old.count)]) == old }) else {
            throw BoardError.invalid("\(id) not found in the index page")
        }
        page.replaceSubrange(hit..<(hit + old.count), with: Array(key.utf8))
        try file.seek(toOffset: offset)
        try file.write(contentsOf: page)
    }
}
