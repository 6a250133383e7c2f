import Foundation
@testable import KanbanCoordinator
import KanbanStore
import XCTest

/// The Prometheus page and the tiny HTTP front of `/metrics`, without sockets.
final class MetricsTests: XCTestCase {
    func test_render_givesGaugesCountersAndLatencySummaries_inTextFormat() {
        var factory = LaneStats(lane: "factory", registered: true, maxConcurrency: 4)
        factory.running = 1
        factory.tasks = ["ready": 3, "running": 1]
        factory.claimLatenciesMs = [10, 20, 30, 40]
        var stray = LaneStats(lane: "ghost", registered: false, maxConcurrency: nil)
        stray.tasks = ["ready": 2]
        let stats = BoardStats(sinceMs: 0, nowMs: 300_000, eventsScanned: 10, lanes: [stray, factory])
        let text = PrometheusText.render(stats, windowSeconds: 300,
                                         eventsPublished: [.init(lane: "factory", type: "claimed"): 5, .init(lane: "_", type: "we\"ird"): 1],
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
        ] {
            XCTAssertTrue(lines.contains(expected), "missing \(expected) in\n\(text)")
        }
        XCTAssertFalse(text.contains("kanban_lane_running{lane=\"ghost\"}"), "names no lane serves have no slots")
    }

    func test_http_answersGetMetrics_andRefusesEverythingElse() {
        func respond(_ request: String) -> String? {
            var buffer = Array(request.utf8)
            return MetricsEndpoint.respond(to: &buffer) { "kanban_event_seq 1\n" }
        }
        let ok = respond("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(ok?.hasPrefix("HTTP/1.1 200 OK\r\n") == true)
        XCTAssertTrue(ok?.hasSuffix("\r\n\r\nkanban_event_seq 1\n") == true)
        XCTAssertTrue(ok?.contains("Content-Length: 19\r\n") == true)
        XCTAssertNil(respond("GET /metrics HTTP/1.1\r\nHost: x\r\n"), "headers not finished yet")
        XCTAssertTrue(respond("GET / HTTP/1.1\r\n\r\n")?.hasPrefix("HTTP/1.1 404") == true)
        XCTAssertTrue(respond("POST /metrics HTTP/1.1\r\n\r\n")?.hasPrefix("HTTP/1.1 405") == true)
        XCTAssertTrue(respond("\u{1}\u{2}garbage\r\n\r\n")?.hasPrefix("HTTP/1.1 400") == true)
        XCTAssertTrue(respond(String(repeating: "A", count: 9000))?.hasPrefix("HTTP/1.1 431") == true)
    }
}
