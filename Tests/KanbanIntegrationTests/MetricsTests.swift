import Foundation
import KanbanModel
@testable import KanbanWeb
import XCTest

/// The Prometheus page and the lanes' stuck flags, rendered from wire replies, without sockets.
final class MetricsTests: XCTestCase {
    func test_render_givesGaugesCountersAndLatencySummaries_inTextFormat() {
        let stats: JSONValue = [
            "window_seconds": 300,
            "lanes": [
                ["lane": "ghost", "registered": false, "max_concurrency": .null, "running": 0, "tasks": ["ready": 2]],
                ["lane": "factory", "registered": true, "max_concurrency": 4, "running": 1, "tasks": ["ready": 3, "running": 1],
                 "claim_latency_ms": ["count": 4, "mean": 25, "p50": 20, "p90": 40, "p99": 40, "max": 40]],
            ],
            "board": ["integrity": "problems", "integrity_problems": 2, "inconsistencies": 3, "quarantined": ["t_1"]],
        ]
        let text = MetricsText.render(stats: stats, eventsSeen: [.init(lane: "factory", type: "claimed"): 5, .init(lane: "_", type: "we\"ird"): 1],
                                      lastSeq: 42)
        let lines = Set(text.split(separator: "\n").map(String.init))
        for expected in [
            "# TYPE kanban_lane_running gauge", "kanban_lane_running{lane=\"factory\"} 1",
            "kanban_lane_max_concurrency{lane=\"factory\"} 4",
            "kanban_tasks{lane=\"factory\",status=\"ready\"} 3", "kanban_tasks{lane=\"ghost\",status=\"ready\"} 2",
            "# TYPE kanban_events_total counter", "kanban_events_total{lane=\"factory\",type=\"claimed\"} 5",
            "kanban_events_total{lane=\"_\",type=\"we\\\"ird\"} 1",
            "kanban_event_seq 42",
            "kanban_claim_latency_seconds{lane=\"factory\",quantile=\"0.5\"} 0.02",
            "kanban_claim_latency_seconds_count{lane=\"factory\"} 4", "kanban_claim_latency_seconds_sum{lane=\"factory\"} 0.1",
            "kanban_board_integrity_problems 2", "kanban_board_inconsistencies_total 3", "kanban_board_quarantined_tasks 1",
        ] {
            XCTAssertTrue(lines.contains(expected), "missing \(expected) in\n\(text)")
        }
        XCTAssertFalse(text.contains("kanban_lane_running{lane=\"ghost\"}"), "names no lane serves have no slots")
    }

    func test_stuck_flagsAnExpiringLeaseWithoutHeartbeats_andARunOverItsRuntime() {
        let now: Int64 = 1_000_000
        let lane: JSONValue = [
            "name": "pool", "max_runtime_seconds": 60,
            "claims": [
                // 30 s lease, 5 s left, last heartbeat 25 s ago: expiring.
                ["task_id": "t_a", "run_id": 1, "claimed_at_ms": .int(now - 25_000), "lease_ms": 30_000,
                 "lease_expires_at_ms": .int(now + 5_000), "last_heartbeat_at": .int((now - 25_000) / 1000)],
                // Heartbeat just now: fine, however little lease is left.
                ["task_id": "t_b", "run_id": 2, "claimed_at_ms": .int(now - 25_000), "lease_ms": 30_000,
                 "lease_expires_at_ms": .int(now + 5_000), "last_heartbeat_at": .int(now / 1000)],
                // Claimed 2 minutes ago on a 60 s runtime limit, lease renewed: over runtime only.
                ["task_id": "t_c", "run_id": 3, "claimed_at_ms": .int(now - 120_000), "lease_ms": 30_000,
                 "lease_expires_at_ms": .int(now + 29_000), "last_heartbeat_at": .int(now / 1000)],
            ],
        ]
        let stuck = LaneBoard.stuck(lane: lane, nowMs: now).map { "\($0["kind"]!.stringValue!) \($0["task_id"]!.stringValue!)" }
        XCTAssertEqual(stuck, ["lease_expiring t_a", "over_runtime t_c"])
        let board = LaneBoard.render(laneList: ["lanes": [lane], "unregistered": [["assignee": "nobody", "queued": 2, "oldest_queued_at": 900]]],
                                     nowMs: now, hermesCaps: .null)
        XCTAssertEqual(board["unregistered"]?.arrayValue?.first?["stuck"]?.arrayValue?.first?["kind"], "unclaimable")
        XCTAssertEqual(board["lanes"]?.arrayValue?.first?["parked"], 0)
    }

    func test_httpBind_parsesHostPort_andKnowsLoopback() {
        XCTAssertEqual(HTTPBind("127.0.0.1:8080"), HTTPBind(host: "127.0.0.1", port: 8080))
        XCTAssertEqual(HTTPBind("[::1]:0"), HTTPBind(host: "::1", port: 0))
        XCTAssertNil(HTTPBind("8080"))
        XCTAssertNil(HTTPBind("host:99999"))
        XCTAssertTrue(HTTPBind("localhost:1")!.isLoopback)
        XCTAssertFalse(HTTPBind("0.0.0.0:1")!.isLoopback)
        XCTAssertFalse(HTTPBind("127.0.0.1.evil.com:1")!.isLoopback)
    }
}
