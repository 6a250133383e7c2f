import Foundation
import GRDB
import KanbanBench
import KanbanClient
import KanbanModel
import KanbanProtocol
import Synchronization
import XCTest

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
        let doneInTime = try poll(180) { try ids.allSatisfy { try live.status($0) == "done" } }
        let beatsWhileMaking = probe.answered
        var queued: Set<String> = []
        let queuedInTime = try poll(60) {
            queued.formUnion(try live.admin.call(.workspacePrune(lane: "coders"))["queued"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            return queued.count == ids.count
        }
        let workspaces = live.dir.appendingPathComponent("workspaces/coders").path
        let prunedInTime = try poll(180) { ids.allSatisfy { !FileManager.default.fileExists(atPath: workspaces + "/" + $0) } }
        probe.stop()

        XCTAssertTrue(doneInTime, "the pool ran its 8 tasks")
        XCTAssertTrue(queuedInTime && prunedInTime, "prune queued and removed all 8 worktrees (queued: \(queued.count))")
        XCTAssertEqual(probe.failures, [], "every heartbeat was answered within its timeout")
        XCTAssertGreaterThan(beatsWhileMaking, 8, "the probe heartbeated while the worktrees were made")
        XCTAssertGreaterThan(probe.answered, beatsWhileMaking, "and while they were pruned")
        XCTAssertEqual(try live.status(held), "running", "the persistent lane kept its claim throughout")
    }

    func test_foreignWriteLockFor12s_readsAnswered_writesBusyOrCommitted_noneUnanswered_nothingLost() throws {
        let live = try LiveCoordinator()
        let laneToken = try live.registerLane("factory")
        let held = try live.createTask("held")
        let claimToken = try XCTUnwrap(try live.client(laneToken).call(.claim(lane: "factory"))["claim"]?["token"]?.stringValue)

        // Another program holds the board's write lock for 12 s.
        var blockerConfig = Configuration()
        blockerConfig.busyMode = .timeout(10)
        let blocker = try DatabaseQueue(path: live.dir.appendingPathComponent("kanban.db").path, configuration: blockerConfig)
        let locked = DispatchSemaphore(value: 0), unlocked = DispatchSemaphore(value: 0)
        Thread {
            try? blocker.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    locked.signal()
                    Thread.sleep(forTimeInterval: 12)
                    return .commit
                }
            }
            unlocked.signal()
        }.start()
        guard locked.wait(timeout: .now() + 15) == .success else { return XCTFail("the blocker never got the write lock") }

        // A write that may wait longer than the lock is held: answered once the lock goes.
        let patient = Mutex<Result<JSONValue, Error>?>(nil)
        let patientDone = DispatchSemaphore(value: 0)
        Thread {
            let client = live.client(live.adminToken, timeoutMs: 30_000)
            client.busyRetries = 0
            let r = Result { try client.call(.taskCreate(TaskSpec(title: "patient")), lockWaitMs: 25_000) }
            patient.withLock { $0 = r }
            patientDone.signal()
        }.start()

        let reader = live.client(live.adminToken, timeoutMs: 3000)
        let writer = live.client(live.adminToken, timeoutMs: 5000)
        writer.busyRetries = 0
        let lane = live.client(laneToken, timeoutMs: 5000)
        lane.busyRetries = 0
        var reads = 0, busy: [String] = [], acknowledged: [String] = [], problems: [String] = []
        var round = 0
        while unlocked.wait(timeout: .now()) == .timedOut {
            round += 1
            for read: Request in [.ping, .taskGet(taskID: held), .taskList(), .events(since: 0, limit: 1000, lane: nil), .laneList,
                                  .stats(windowSeconds: 3600)] {
                do { _ = try reader.call(read); reads += 1 } catch { problems.append("read \(read.op.rawValue): \(error)") }
            }
            let requestID = "write-\(round)"
            do {
                let made = try writer.call(.taskCreate(TaskSpec(title: requestID)), requestID: requestID, lockWaitMs: 300)
                acknowledged.append(try XCTUnwrap(made["task"]?["id"]?.stringValue))
            } catch let e as WireError where e.code == .busy {
                busy.append(requestID)
            } catch { problems.append("write: \(error)") }
            do {
                _ = try lane.call(.heartbeat(task: held, token: claimToken), lockWaitMs: 300)
            } catch let e as WireError where e.code == .busy {
            } catch { problems.append("heartbeat: \(error)") }
        }
        XCTAssertEqual(problems, [], "every request got an answer: reads ok, writes ok or busy")
        XCTAssertGreaterThan(reads, 60, "reads went on while the lock was held")
        XCTAssertFalse(busy.isEmpty, "writes that could not wait were told `busy`")

        // The patient write went through once the lock was free; the busy ones go through on retry.
        XCTAssertEqual(patientDone.wait(timeout: .now() + 30), .success)
        let patientID = try patient.withLock { try $0?.get() }?["task"]?["id"]?.stringValue
        XCTAssertNotNil(patientID, "a write that could wait was answered after the lock")
        for requestID in busy {
            let made = try writer.call(.taskCreate(TaskSpec(title: requestID)), requestID: requestID)
            acknowledged.append(try XCTUnwrap(made["task"]?["id"]?.stringValue))
        }
        for id in acknowledged + [patientID].compactMap({ $0 }) {
            XCTAssertNotNil(try live.board.task(id: id), "acknowledged task \(id) is on the board")
        }
        let titles = try live.board.tasks(status: nil, assignee: nil, limit: 10_000).map(\.title)
        XCTAssertEqual(titles.filter { $0.hasPrefix("write-") }.count, round, "each write happened exactly once")
    }

    /// Polls `condition` until it holds (true) or `seconds` pass (false).
    func poll(_ seconds: TimeInterval, _ condition: () throws -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }
}
