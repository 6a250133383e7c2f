import Foundation
import XCTest

/// Polls `condition` every 20 ms until it holds; fails the test at the deadline (and returns false).
/// For "wait until X has happened": the deadline is generous because a slow machine may only make a
/// test slower, never make it fail. Never use it to let time pass: drive a `ManualClock` instead.
@discardableResult
func waitFor(_ what: @autoclosure () -> String, timeout: TimeInterval = 30, file: StaticString = #filePath, line: UInt = #line,
             _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while try !condition() {
        guard Date() < deadline else {
            XCTFail("not within \(Int(timeout)) s: \(what())", file: file, line: line)
            return false
        }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return true
}

extension LiveCoordinator {
    /// Waits until exactly `count` claims are parked in the coordinator (a claim sent from another
    /// thread has arrived and is waiting), instead of sleeping and hoping it has.
    func waitForParkedClaims(_ count: Int, file: StaticString = #filePath, line: UInt = #line) {
        waitFor("\(count) claim(s) parked (now \(coordinator.parkedClaimCount))", file: file, line: line) {
            coordinator.parkedClaimCount == count
        }
    }
}
