import Synchronization
import XCTest
@testable import KanbanWeb

/// The HTTP face's sessions end after an idle time counted on the injected (monotonic) clock.
final class SessionsTests: XCTestCase {
    func test_aSession_endsAfterItsIdleTime_andEachUseRestartsIt() {
        let clock = Mutex<Int64>(1_000)
        let sessions = Sessions(capacity: 10, idleMs: 500, now: { clock.withLock { $0 } })
        let id = sessions.open(token: "t", role: .admin, lane: nil).id
        clock.withLock { $0 += 400 }
        XCTAssertNotNil(sessions.find(id), "used within its idle time")
        clock.withLock { $0 += 400 }
        XCTAssertNotNil(sessions.find(id), "the last use restarted the idle time")
        clock.withLock { $0 += 500 }
        XCTAssertNil(sessions.find(id), "idle for as long as allowed: gone")
        XCTAssertNil(sessions.find(id))
    }
}
