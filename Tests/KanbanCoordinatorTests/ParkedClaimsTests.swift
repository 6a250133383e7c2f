import KanbanProtocol
import XCTest
@testable import KanbanCoordinator

/// The parked claims machine without sockets: who is answered "no task" when, who is offered work in
/// which order, and which lanes wait for the board.
final class ParkedClaimsTests: XCTestCase {
    /// A claim whose envelope names it, so tests can tell entries apart.
    func entry(_ name: String, lane: String, deadlineMs: Int64 = 1_000) -> ParkedClaims.Entry {
        ParkedClaims.Entry(envelope: [Array(name.utf8), []], request: ClaimRequest(lane: lane, waitMs: 500), deadlineMs: deadlineMs)
    }

    func names(_ entries: [ParkedClaims.Entry]) -> [String] { entries.map { String(decoding: $0.envelope[0], as: UTF8.self) } }

    /// Runs one offer pass, answering as `results` says (by claim name; `.nothing` if not listed).
    func pass(_ parked: inout ParkedClaims, _ offer: ParkedClaims.Offer, _ results: [String: ParkedClaims.OfferResult]) -> [String] {
        var offer = offer
        var offered: [String] = []
        while let e = parked.next(&offer) {
            let name = names([e])[0]
            offered.append(name)
            parked.settle(&offer, results[name] ?? .nothing)
        }
        return offered
    }

    func test_expiry_answersOnlyClaimsWhoseWaitIsOver_andNextDeadlineFollows() {
        var parked = ParkedClaims()
        parked.park(entry("a", lane: "x", deadlineMs: 300))
        parked.park(entry("b", lane: "x", deadlineMs: 100))
        parked.park(entry("c", lane: "y", deadlineMs: 200))
        XCTAssertEqual(parked.nextDeadline, 100)
        XCTAssertEqual(names(parked.takeExpired(nowMs: 99)), [])
        XCTAssertEqual(names(parked.takeExpired(nowMs: 200)), ["b", "c"])
        XCTAssertEqual(names(parked.entries), ["a"])
        XCTAssertEqual(parked.nextDeadline, 300)
        XCTAssertEqual(names(parked.takeExpired(nowMs: .max)), ["a"])
        XCTAssertNil(parked.nextDeadline)
    }

    func test_offer_goesOldestFirst_andRemovesAnsweredClaims_keepingTheOthersInOrder() {
        var parked = ParkedClaims()
        for name in ["a", "b", "c", "d"] { parked.park(entry(name, lane: "x")) }
        let offer = parked.offer(lanes: ["x"], boardWritable: true)!
        XCTAssertEqual(pass(&parked, offer, ["a": .answered, "b": .answered, "c": .nothing]), ["a", "b", "c"])
        XCTAssertEqual(names(parked.entries), ["c", "d"])
    }

    func test_aLaneWhoseClaimFindsNothing_isNotOfferedFurther_butOtherLanesAre() {
        var parked = ParkedClaims()
        parked.park(entry("x1", lane: "x"))
        parked.park(entry("y1", lane: "y"))
        parked.park(entry("x2", lane: "x"))
        parked.park(entry("y2", lane: "y"))
        let offer = parked.offer(lanes: ["x", "y"], boardWritable: true)!
        XCTAssertEqual(pass(&parked, offer, ["y1": .answered]), ["x1", "y1", "y2"], "x2 is not offered: x1 found nothing")
        XCTAssertEqual(names(parked.entries), ["x1", "x2", "y2"])
    }

    func test_onlyTheTouchedLanes_areOffered() {
        var parked = ParkedClaims()
        parked.park(entry("x1", lane: "x"))
        parked.park(entry("y1", lane: "y"))
        let offer = parked.offer(lanes: ["y"], boardWritable: true)!
        XCTAssertEqual(pass(&parked, offer, ["y1": .answered]), ["y1"])
        XCTAssertEqual(names(parked.entries), ["x1"])
    }

    func test_nothingParked_orNoLanes_offersNothing() {
        var parked = ParkedClaims()
        XCTAssertNil(parked.offer(lanes: ["x"], boardWritable: true))
        parked.park(entry("a", lane: "x"))
        XCTAssertNil(parked.offer(lanes: [], boardWritable: true))
        XCTAssertTrue(parked.lanesToRetry.isEmpty)
    }

    func test_aLockedBoard_keepsTheLanesForLater_andRetryOffersThemOnceWritable() {
        var parked = ParkedClaims()
        parked.park(entry("a", lane: "x"))
        XCTAssertNil(parked.offer(lanes: ["x"], boardWritable: false))
        XCTAssertEqual(parked.lanesToRetry, ["x"])
        XCTAssertNil(parked.retry(boardWritable: false), "not while the lock is still taken")
        XCTAssertEqual(parked.lanesToRetry, ["x"])
        let offer = parked.retry(boardWritable: true)!
        XCTAssertTrue(parked.lanesToRetry.isEmpty)
        XCTAssertEqual(pass(&parked, offer, ["a": .answered]), ["a"])
        XCTAssertTrue(parked.isEmpty)
    }

    func test_aClaimMeetingALockedBoard_stopsItsLane_andPutsItUpForRetry() {
        var parked = ParkedClaims()
        parked.park(entry("x1", lane: "x"))
        parked.park(entry("x2", lane: "x"))
        parked.park(entry("y1", lane: "y"))
        let offer = parked.offer(lanes: ["x", "y"], boardWritable: true)!
        XCTAssertEqual(pass(&parked, offer, ["x1": .boardLocked, "y1": .answered]), ["x1", "y1"])
        XCTAssertEqual(parked.lanesToRetry, ["x"])
        XCTAssertEqual(names(parked.entries), ["x1", "x2"])
    }

    func test_countByLane_countsWaitingClaims() {
        var parked = ParkedClaims()
        parked.park(entry("a", lane: "x"))
        parked.park(entry("b", lane: "x"))
        parked.park(entry("c", lane: "y"))
        XCTAssertEqual(parked.countByLane(), ["x": 2, "y": 1])
        XCTAssertEqual(parked.count, 3)
    }
}
