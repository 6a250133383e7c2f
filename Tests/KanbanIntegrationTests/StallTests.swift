import Foundation
import GRDB
import KanbanBench
import KanbanClient
import KanbanModel
import KanbanProtocol
import XCTest
import ZeroMQ

/// The loop always answers: slow work (git on a large repository, a foreign SQLite write lock)
/// must not hold up any request. Asserted on behaviour (every request answered, no failed
/// heartbeat, nothing lost), never on wall-clock figures; `kanban-bench --stall` measures those.
final class StallTests: XCTestCase {
    /// Heartbeats a live claim in a loop until stopped; counts answers and failures of any kind.
    final class HeartbeatProbe: @unchecked Sendable {
        private let stopFlag = NSLock()
        private var stopped = false
        private(set) var answered = 0
        private(set) var failures: [String] = []
        private let done = DispatchSemaphore(value: 0)

        init(_ live: LiveCoordinator, laneToken: String, taskID: String, claimToken: String, timeoutMs: Int) {
            Thread { [self] in
                // No retries: a reply that does not come within the timeout is a failure.
                let client = live.client(laneToken, timeoutMs: timeoutMs)
                client.busyRetries = 0
                while !stopFlag.withLock({ stopped }) {
                    do {
                        _ = try client.call(.heartbeat(task: taskID, token: claimToken))
                        answered += 1
                    } catch {
                        failures.append("\(error)")
                    }
                    Thread.sleep(forTimeInterval: 0.02)
                }
                done.signal()
            }.start()
        }

        func stop() {
            stopFlag.withLock { stopped = true }
            done.wait()
        }
    }


    func test_persistentLaneHeartbeats_areAllAnswered_whileAPoolMakesAndPrunesWorktreesOfA20kFileRepo() throws {
        let live = try LiveCoordinator(dispatch: true)
        let repo = live.dir.appendingPathComponent("repo").path
        try BigRepo.make(at: repo, files: 20_000)
        let laneToken = try live.registerLane("factory")
        let held = try live.createTask("held by a persistent lane")
        let claim = try live.client(laneToken).call(.claim(lane: "factory", taskID: held))
        let claimToken = try XCTUnwrap(claim["claim"]?["token"]?.stringValue)
        _ = try live.admin.call(.register(Lane(name: "coders", kind: .pool, maxConcurrency: 4,
                                               command: ["/bin/sh", "-c", "exec \"$KANBAN_BRIDGE_BIN\" complete --result ok"],
                                               workspacePolicy: .worktreePerTask, repo: repo)))

        let probe = HeartbeatProbe(live, laneToken: laneToken, taskID: held, claimToken: claimToken, timeoutMs: 3000)
        let ids = try (0..<8).map { try live.createTask("change \($0)", assignee: "coders") }
        try waitFor("the pool ran its 8 tasks", timeout: 180) { try ids.allSatisfy { try live.status($0) == "done" } }
        let beatsWhileMaking = probe.answered
        var queued: Set<String> = []
        try waitFor("prune queued all 8 worktrees (queued: \(queued.count))", timeout: 60) {
            queued.formUnion(try live.admin.call(.workspacePrune(lane: "coders"))["queued"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            return queued.count == ids.count
        }
        let workspaces = live.dir.appendingPathComponent("workspaces/coders").path
        waitFor("prune removed all 8 worktrees", timeout: 180) {
            ids.allSatisfy { !FileManager.default.fileExists(atPath: workspaces + "/" + $0) }
        }
        probe.stop()

        XCTAssertEqual(probe.failures, [], "every heartbeat was answered within its timeout")
        XCTAssertGreaterThan(beatsWhileMaking, 8, "the probe heartbeated while the worktrees were made")
        XCTAssertGreaterThan(probe.answered, beatsWhileMaking, "and while they were pruned")
        XCTAssertEqual(try live.status(held), "running", "the persistent lane kept its claim throughout")
    }

    func test_foreignWriteLock_readsAnswered_writesBusyOrCommitted_noneUnanswered_nothingLost() throws {
        let live = try LiveCoordinator()
        let laneToken = try live.registerLane("factory")
        let held = try live.createTask("held")
        let claimToken = try XCTUnwrap(try live.client(laneToken).call(.claim(lane: "factory"))["claim"]?["token"]?.stringValue)

        // Another program holds the board's write lock until the test has seen what it needs (the
        // timeout only keeps a failed test from holding it forever).
        var blockerConfig = Configuration()
        blockerConfig.busyMode = .timeout(10)
        let blocker = try DatabaseQueue(path: live.dir.appendingPathComponent("kanban.db").path, configuration: blockerConfig)
        let locked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), unlocked = DispatchSemaphore(value: 0)
        Thread {
            try? blocker.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    locked.signal()
                    _ = release.wait(timeout: .now() + 120)
                    return .commit
                }
            }
            unlocked.signal()
        }.start()
        guard locked.wait(timeout: .now() + 15) == .success else { return XCTFail("the blocker never got the write lock") }
        defer { release.signal() }

        // A write that may wait as long as the lock is held. A read sent after it on the same
        // connection is handled after it (one pipe, in order) and answered at once, so the read's
        // answer shows the write is queued, waiting for the lock.
        let patient = try ZMQSocket(live.context, .dealer)
        try patient.connect(live.commandEndpoint)
        try patient.send([Array("write".utf8), [], RequestEncoder.encode(.taskCreate(TaskSpec(title: "patient")), auth: live.adminToken,
                                                                          requestID: "patient", timeoutMs: 60_000)])
        try patient.send([Array("read".utf8), [], RequestEncoder.encode(.ping)])
        XCTAssertTrue(try patient.waitReadable(timeoutMs: 15_000), "a read is answered while another program holds the lock")
        XCTAssertEqual(String(decoding: try patient.receive()[0], as: UTF8.self), "read", "the write waits for the lock")

        let reader = live.client(live.adminToken, timeoutMs: 3000)
        let writer = live.client(live.adminToken, timeoutMs: 5000)
        writer.busyRetries = 0
        let lane = live.client(laneToken, timeoutMs: 5000)
        lane.busyRetries = 0
        var reads = 0, busy: [String] = [], busyHeartbeats = 0, problems: [String] = []
        let rounds = 10
        for round in 1...rounds {
            for read: Request in [.ping, .taskGet(taskID: held), .taskList(), .events(since: 0, limit: 1000, lane: nil), .laneList,
                                  .stats(windowSeconds: 3600)] {
                do { _ = try reader.call(read); reads += 1 } catch { problems.append("read \(read.op.rawValue): \(error)") }
            }
            let requestID = "write-\(round)"
            do {
                _ = try writer.call(.taskCreate(TaskSpec(title: requestID)), requestID: requestID, lockWaitMs: 100)
                problems.append("write \(requestID) acknowledged while another program held the lock")
            } catch let e as WireError where e.code == .busy {
                busy.append(requestID)
            } catch { problems.append("write: \(error)") }
            do {
                _ = try lane.call(.heartbeat(task: held, token: claimToken), lockWaitMs: 100)
                problems.append("heartbeat acknowledged while another program held the lock")
            } catch let e as WireError where e.code == .busy {
                busyHeartbeats += 1
            } catch { problems.append("heartbeat: \(error)") }
        }
        XCTAssertFalse(try patient.waitReadable(timeoutMs: 0), "the patient write is not answered before its commit")
        release.signal()
        XCTAssertEqual(unlocked.wait(timeout: .now() + 30), .success)

        XCTAssertEqual(problems, [], "every request got an answer: reads ok, writes busy")
        XCTAssertEqual(reads, 6 * rounds, "reads went on while the lock was held")
        XCTAssertEqual(busy.count, rounds, "writes that could not wait were told `busy`")
        XCTAssertEqual(busyHeartbeats, rounds, "so were heartbeats")

        // The patient write went through once the lock was free; the busy ones go through on retry.
        XCTAssertTrue(try patient.waitReadable(timeoutMs: 30_000), "a write that could wait was answered after the lock")
        let patientReply = try patient.receive()
        XCTAssertEqual(String(decoding: patientReply[0], as: UTF8.self), "write")
        let patientID = try XCTUnwrap(try Reply.parse(patientReply.last!).get()["task"]?["id"]?.stringValue)
        var acknowledged = [patientID]
        for requestID in busy {
            let made = try writer.call(.taskCreate(TaskSpec(title: requestID)), requestID: requestID)
            acknowledged.append(try XCTUnwrap(made["task"]?["id"]?.stringValue))
        }
        for id in acknowledged {
            XCTAssertNotNil(try live.board.task(id: id), "acknowledged task \(id) is on the board")
        }
        let titles = try live.board.tasks(status: nil, assignee: nil, limit: 10_000).map(\.title)
        XCTAssertEqual(titles.filter { $0.hasPrefix("write-") }.count, rounds, "each write happened exactly once")
        XCTAssertEqual(titles.filter { $0 == "patient" }.count, 1)
        XCTAssertEqual(try live.status(held), "running", "the lane kept its claim through the lock")
    }
}
