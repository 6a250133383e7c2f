import Foundation
import XCTest

/// Tests wait for what they need, never for a fixed time: a poll on the condition with a deadline
/// (`waitFor` in WaitFor.swift, `wait_for` in Tests/interop/conftest.py), a handshake, or an injected
/// clock (`ManualClock`). A fixed sleep is a guess at how long something takes: too short under load
/// (a flaky test), too long everywhere else (a slow suite). This scans the Swift and Python sources
/// under Tests/ for sleeps and fails on any that is not listed below with the reason it stays.
final class NoFixedSleepsTests: XCTestCase {
    /// The sleeps that stay, each a pace or a deadline rather than a wait for something to happen:
    /// (file under Tests/, the line's text without indentation, why). Shell `sleep` in a worker's
    /// command (a process that must stay alive or take time) is not a call and is not scanned.
    static let allowed: [(file: String, line: String, why: String)] = [
        ("KanbanIntegrationTests/WaitFor.swift", "Thread.sleep(forTimeInterval: 0.02)",
         "waitFor's poll interval"),
        ("interop/conftest.py", "time.sleep(POLL_INTERVAL_S)",
         "wait_for's poll interval"),
        ("../clients/python/tests/conftest.py", "time.sleep(POLL_S)",
         "the client package's wait_for's poll interval"),
        ("KanbanIntegrationTests/WebClient.swift", "group.addTask { try await Task.sleep(nanoseconds: UInt64(seconds * 1e9)); return nil }",
         "within()'s deadline, raced against the body and cancelled when the body finishes"),
        ("KanbanIntegrationTests/StallTests.swift", "Thread.sleep(forTimeInterval: 0.02)",
         "HeartbeatProbe's pace: it heartbeats every 20 ms for as long as the slow work runs"),
        ("interop/test_crash_recovery.py", "time.sleep(0.05)",
         "the pause of a Lazy Pirate client before it resends, and of a client whose lane is full: load, not a wait"),
        ("interop/test_crash_recovery.py", "time.sleep(0.02)  # the feeder adds more while the kills go on",
         "a client's pace while its lane is empty: load, not a wait"),
        ("interop/test_crash_recovery.py", "time.sleep(0.01)",
         "the feeder's pace: load, not a wait"),
        ("interop/test_crash_recovery.py", "time.sleep(rnd.uniform(0.05, 0.5))",
         "the thing under test: kill -9 at random moments (seeded)"),
    ]

    /// A call that sleeps, in Swift or Python. `sleep` alone only when not part of a longer name.
    static let sleepCall = try! NSRegularExpression(
        pattern: #"(?<![A-Za-z0-9_])(?:Thread\.sleep|Task\.sleep|usleep|nanosleep|time\.sleep|asyncio\.sleep|sleep)\s*\("#)

    /// The lines of `text` (1-based numbers, trimmed) that call a sleep.
    static func sleeps(in text: String) -> [(line: Int, text: String)] {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, raw in
            let line = String(raw)
            let whole = NSRange(line.startIndex..., in: line)
            guard sleepCall.firstMatch(in: line, range: whole) != nil else { return nil }
            return (index + 1, line.trimmingCharacters(in: .whitespaces))
        }
    }

    /// The Tests/ directory of this checkout.
    static let testsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    func test_theScan_findsSleepsAndNothingElse() {
        let sample = """
            Thread.sleep(forTimeInterval: 0.3)
            try await Task.sleep(nanoseconds: 1)
            time.sleep(1.2)
            usleep(300_000)
            sleep(2)
            ["/bin/sh", "-c", "sleep 30"]
            let asleep(x) = oversleep()
            waitFor("x") { done }
            """
        XCTAssertEqual(Self.sleeps(in: sample).map(\.line), [1, 2, 3, 4, 5])
    }

    /// The Python client package's tests (clients/python/tests), scanned as well.
    static let clientTestsDir = testsDir.deletingLastPathComponent().appendingPathComponent("clients/python/tests")

    func test_noFixedSleepsInTests_outsideTheAllowedList() throws {
        var urls: [URL] = []
        for dir in [Self.testsDir, Self.clientTestsDir] {
            let files = try XCTUnwrap(FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil), dir.path)
            for case let url as URL in files { urls.append(url) }
        }
        var found: [(file: String, line: Int, text: String)] = []
        var scanned = 0
        let tests = Self.testsDir.standardizedFileURL.path
        for url in urls where ["swift", "py"].contains(url.pathExtension) && url.lastPathComponent != "NoFixedSleepsTests.swift" {
            // Named relative to Tests/ (the client package's as ../clients/python/tests/…).
            let path = url.standardizedFileURL.path
            let file = path.hasPrefix(tests + "/") ? String(path.dropFirst(tests.count + 1))
                : "../" + String(path.dropFirst(Self.testsDir.deletingLastPathComponent().standardizedFileURL.path.count + 1))
            scanned += 1
            for hit in Self.sleeps(in: try String(contentsOf: url, encoding: .utf8)) {
                found.append((file, hit.line, hit.text))
            }
        }
        XCTAssertGreaterThan(scanned, 50, "the scan reads the test sources (\(Self.testsDir.path))")
        let unlisted = found.filter { hit in !Self.allowed.contains { $0.file == hit.file && $0.line == hit.text } }
        XCTAssertEqual(unlisted.map { "\($0.file):\($0.line): \($0.text)" }, [],
                       "a fixed sleep in a test: poll for the condition with waitFor/wait_for, or drive a ManualClock")
        let stale = Self.allowed.filter { entry in !found.contains { $0.file == entry.file && $0.text == entry.line } }
        XCTAssertEqual(stale.map { "\($0.file): \($0.line)" }, [], "allowed sleeps that are gone: take them off the list")
    }
}
