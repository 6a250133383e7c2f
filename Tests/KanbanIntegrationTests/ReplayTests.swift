import Foundation
import KanbanClient
import KanbanModel
import KanbanProtocol
import Synchronization
import XCTest
import ZeroMQ

final class ReplayTests: XCTestCase {
    func test_lateSubscriber_recoversAllHundredEventsInOrder_byReplay() throws {
        let live = try LiveCoordinator()
        let first = try live.board.lastEventSeq()
        for i in 0..<50 { try live.createTask("t\(i)", assignee: nil) }  // created only: 50 events
        for i in 0..<25 { try live.createTask("f\(i)", assignee: "factory") }  // created + available: 50 events
        let published = try live.board.events(since: first, limit: 1000, lane: nil)
        XCTAssertEqual(published.count, 100)

        let feed = EventFeed(commands: live.admin, eventEndpoint: live.eventEndpoint, since: first, context: live.context)
        var got: [Int64] = []
        let deadline = Date().addingTimeInterval(10)
        while got.count < 100, Date() < deadline { got += feed.poll(timeoutMs: 100).compactMap { $0["seq"]?.intValue } }
        XCTAssertEqual(got, published.map(\.seq))
        XCTAssertTrue(feed.drainNotices().contains { $0.contains("caught up 100") })
    }

    /// The dashboard opens on the last events for context: fetching them is not announced as a
    /// catch-up (issue #25, finding 10); a replay after that still is.
    func test_historyAskedForAsContext_isFetchedWithoutACatchUpNotice() throws {
        let live = try LiveCoordinator()
        let first = try live.board.lastEventSeq()
        for i in 0..<10 { try live.createTask("t\(i)", assignee: nil) }
        let feed = EventFeed(commands: live.admin, eventEndpoint: live.eventEndpoint, since: first, sinceIsContext: true,
                             context: live.context)
        var got: [Int64] = []
        let deadline = Date().addingTimeInterval(10)
        while got.count < 10, Date() < deadline { got += feed.poll(timeoutMs: 100).compactMap { $0["seq"]?.intValue } }
        XCTAssertEqual(got.count, 10)
        XCTAssertFalse(feed.drainNotices().contains { $0.contains("caught up") })
    }

    func test_feed_closesAGap_whenLiveEventsWereMissed() throws {
        let live = try LiveCoordinator()
        _ = try live.registerLane("factory")
        try live.createTask("a"); try live.createTask("b")
        let head = try live.board.lastEventSeq()
        // A follower that has seen everything up to head-2 and then lost two messages (as at a
        // high-water mark): the next live event reveals the gap and the feed replays it.
        let feed = EventFeed(commands: live.admin, eventEndpoint: live.eventEndpoint, since: head - 2, context: live.context)
        feed.headCheckInterval = .infinity  // only the gap in the live stream may trigger the replay
        var got: [Int64] = []
        let deadline = Date().addingTimeInterval(10)
        while got.isEmpty, Date() < deadline {
            _ = try live.admin.call(.laneUpdate(name: "factory", maxConcurrency: 1))
            got += feed.poll(timeoutMs: 100).compactMap { $0["seq"]?.intValue }
        }
        XCTAssertEqual(got.first, head - 1, "replay starts right after the last delivered event")
        XCTAssertEqual(got, Array(got.first!...got.last!), "no seq skipped, none twice")
        XCTAssertTrue(feed.drainNotices().contains { $0.contains("gap") })
    }
}
