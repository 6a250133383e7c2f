import Foundation
import GRDB
import KanbanClient
import KanbanModel
import KanbanProtocol
import Synchronization
import XCTest

/// Writes made by another program on the same board file, done here with a second SQLite connection
/// writing exactly what Hermes' CLI writes (the Hermes CLI itself is driven in tests/interop).
final class ChangeWatcherTests: XCTestCase {
    /// A second writer, as Hermes is: it waits for the write lock (Hermes waits up to 120 s) instead
    /// of failing when the coordinator happens to be committing.
    func hermes(_ live: LiveCoordinator) throws -> DatabaseQueue {
        var config = Configuration()
        config.busyMode = .timeout(10)
        return try DatabaseQueue(path: live.dir.appendingPathComponent("kanban.db").path, configuration: config)
    }

    func test_taskCreatedByAnotherProgram_wakesParkedClaim_andIsPublishedAvailable() throws {
        let live = try LiveCoordinator()
        let token = try live.registerLane("factory")
        let sub = try live.subscriber()
        let answer = Mutex<JSONValue?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            answer.withLock { $0 = try? live.client(token, timeoutMs: 15_000).call(.claim(lane: "factory", waitMs: 10_000)) }
            done.signal()
        }
        live.waitForParkedClaims(1)  // the foreign write must be what wakes it
        let now = Int64(Date().timeIntervalSince1970)
        try hermes(live).write { db in
            try db.execute(sql: "INSERT INTO tasks (id, title, assignee, status, priority, created_at) VALUES ('t_0000beef', 'from hermes', 'factory', 'ready', 0, ?)",
                           arguments: [now])
            try db.execute(sql: "INSERT INTO task_events (task_id, kind, payload, created_at) VALUES ('t_0000beef', 'created', '{\"assignee\":\"factory\"}', ?)",
                           arguments: [now])
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(answer.withLock { $0 }?["task"]?["id"], "t_0000beef")
        var topics: [String] = []
        while let e = try sub.next(timeoutMs: 1000) {
            if e.event["task_id"] == "t_0000beef" { topics.append(e.topic) }
            if e.topic == "factory.claimed" { break }
        }
        XCTAssertEqual(topics, ["factory.created", "factory.available", "factory.claimed"])
    }

    func test_reclaimByAnotherProgram_makesHoldersHeartbeatStale_andIsPublished() throws {
        let live = try LiveCoordinator()
        let lane = live.client(try live.registerLane("factory"))
        let task = try live.createTask("held")
        let claim = try lane.call(.claim(lane: "factory"))
        let sub = try live.subscriber()
        let now = Int64(Date().timeIntervalSince1970)
        // What `hermes kanban reclaim` writes.
        try hermes(live).write { db in
            try db.execute(sql: "UPDATE task_runs SET status='reclaimed', outcome='reclaimed', ended_at=?, claim_lock=NULL WHERE task_id=? AND ended_at IS NULL",
                           arguments: [now, task])
            try db.execute(sql: "UPDATE tasks SET status='ready', claim_lock=NULL, claim_expires=NULL, current_run_id=NULL WHERE id=?", arguments: [task])
            try db.execute(sql: "INSERT INTO task_events (task_id, kind, payload, created_at) VALUES (?, 'reclaimed', '{\"manual\":true}', ?)",
                           arguments: [task, now])
        }
        var topics: [String] = []
        while let e = try sub.next(timeoutMs: 2000) {
            if e.event["task_id"]?.stringValue == task { topics.append(e.topic) }
            if e.topic == "factory.available" { break }
        }
        XCTAssertEqual(topics, ["factory.reclaimed", "factory.available"])
        XCTAssertEqual(errorCode { try lane.call(.heartbeat(task: task, token: claim["claim"]!["token"]!.stringValue!)) }, .staleClaim)
        XCTAssertEqual(try live.admin.call(.laneGet(name: "factory"))["lane"]?["running"], 0)
    }
}
