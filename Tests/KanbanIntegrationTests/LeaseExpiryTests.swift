import Foundation
import KanbanClient
import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import Synchronization
import XCTest

final class LeaseExpiryTests: XCTestCase {
    func test_expiredLease_requeuesTask_andOldTokenIsStale() throws {
        let clock = ManualClock()
        let live = try LiveCoordinator(clock: clock)
        let lane = live.client(try live.registerLane("factory", maxConcurrency: 2))
        let task = try live.createTask("slow")
        let control = try live.createTask("control")
        let claim = try lane.call(.claim(lane: "factory", leaseSeconds: 30))
        let token = claim["claim"]!["token"]!.stringValue!
        XCTAssertEqual(claim["claim"]?["lease_expires_at_ms"]?.intValue, clock.nowMs() + 30_000)

        clock.advance(ms: 20_000)
        _ = try lane.call(.heartbeat(task: task, token: token))  // now expires at +50 s
        // Positive control for "not expired": a claim whose lease ends at +40 s. Once it has expired,
        // the coordinator has run an expiry pass at +40 s or later, which would have taken the first
        // claim too (its lease, without the heartbeat, ended at +30 s).
        _ = try lane.call(.claim(lane: "factory", taskID: control, leaseSeconds: 20))
        clock.advance(ms: 20_000)
        try waitFor("the control claim expired") { try live.status(control) == "ready" }
        XCTAssertEqual(try live.status(task), "running", "the heartbeat extended the lease")

        clock.advance(ms: 10_001)
        // The coordinator's loop wakes at least every 100 ms (real time) and expires what is due.
        try waitFor("the lease expired") { try live.status(task) == "ready" }
        XCTAssertEqual(try live.status(task), "ready")
        XCTAssertEqual(errorCode { try lane.call(.complete(task: task, token: token)) }, .staleClaim)
        let types = try live.board.events(since: 0, limit: 100, lane: "factory").filter { $0.taskID == task }.map(\.type)
        XCTAssertEqual(types.suffix(2), ["timed_out", "available"])
        XCTAssertEqual(try lane.call(.claim(lane: "factory"))["task"]?["id"]?.stringValue, task, "a new claim works")
    }

    func test_retryBudget_overTheWire_endsInGaveUp() throws {
        let clock = ManualClock()
        let live = try LiveCoordinator(clock: clock)
        let lane = live.client(try live.registerLane("factory"))
        let task = try live.createTask("never finishes")
        // The default budget is Hermes' (DEFAULT_FAILURE_LIMIT, 2).
        for _ in 0..<2 {
            XCTAssertEqual(try lane.call(.claim(lane: "factory", leaseSeconds: 5))["task"]?["id"]?.stringValue, task)
            clock.advance(ms: 5_000)
            try waitFor("the lease expired") { try live.status(task) != "running" }
        }
        XCTAssertEqual(try live.status(task), "blocked")
        let types = try live.board.events(since: 0, limit: 100, lane: "factory").filter { $0.taskID == task }.map(\.type)
        XCTAssertEqual(types.filter { $0 == "timed_out" }.count, 2)
        XCTAssertEqual(types.last, "gave_up")
        XCTAssertEqual(try lane.call(.claim(lane: "factory"))["task"], .null)
    }

    // MARK: The wall clock is stepped (leases run on monotonic time)

    func test_wallClockSteppedForward_keepsAHeartbeatedClaim_andHermesSeesTheTimeLeft() throws {
        let clock = ManualClock()
        let live = try LiveCoordinator(clock: clock)
        let lane = live.client(try live.registerLane("factory", maxConcurrency: 2))
        let task = try live.createTask("long")
        let control = try live.createTask("control")
        let token = try lane.call(.claim(lane: "factory", leaseSeconds: 900))["claim"]!["token"]!.stringValue!

        clock.stepWall(ms: 2 * 3_600_000)
        try waitFor("the stored expiry restated for Hermes") {
            try live.board.task(id: task)?.task.claimExpires == Lease.hermesSeconds(fromMs: clock.nowMs() + 900_000)
        }
        clock.advance(ms: 2_000)
        XCTAssertNotNil(try lane.call(.heartbeat(task: task, token: token))["lease_expires_at_ms"], "the heartbeat is answered ok")
        // Positive control: once this 5 s claim has expired, an expiry pass ran after the step.
        _ = try lane.call(.claim(lane: "factory", taskID: control, leaseSeconds: 5))
        clock.advance(ms: 5_000)
        try waitFor("the control claim expired") { try live.status(control) == "ready" }
        XCTAssertEqual(try live.status(task), "running", "two hours on the wall clock did not end a 900 s lease")
    }

    func test_wallClockSteppedBack_stillExpiresADeadWorkersClaim_onMonotonicTime() throws {
        let clock = ManualClock()
        let live = try LiveCoordinator(clock: clock)
        let lane = live.client(try live.registerLane("factory"))
        let task = try live.createTask("worker dies")
        _ = try lane.call(.claim(lane: "factory", leaseSeconds: 6))

        clock.stepWall(ms: -3_600_000)
        try waitFor("the stored expiry restated for Hermes") {
            try live.board.task(id: task)?.task.claimExpires == Lease.hermesSeconds(fromMs: clock.nowMs() + 6_000)
        }
        XCTAssertEqual(try live.status(task), "running")
        clock.advance(ms: 6_000)
        try waitFor("the lease expired six seconds after the claim, not an hour later") { try live.status(task) == "ready" }
        let types = try live.board.events(since: 0, limit: 100, lane: "factory").filter { $0.taskID == task }.map(\.type)
        XCTAssertTrue(types.contains("timed_out"))
    }
}
