import Foundation
import GRDB
import Synchronization

/// `PRAGMA integrity_check` in the background: on its own thread and its own read-only connection,
/// never on the owner thread (a large board takes seconds, and the loop never blocks past ~20 ms).
/// `quick_check` at open misses an index that disagrees with its table; this finds it (issue #19,
/// finding 3). A WAL reader: it never holds the write lock and never waits for one.
final class IntegrityMonitor: Sendable {
    /// The latest result and the number of the check it belongs to (checks are numbered from 1).
    private let state = Mutex<(status: IntegrityStatus, check: Int, running: Bool)>((.notChecked, 0, false))

    var status: (IntegrityStatus, check: Int) { state.withLock { ($0.status, $0.check) } }
    /// The number of the latest check started (0: none).
    var latestCheck: Int { state.withLock { $0.check } }

    /// Starts a check of `path` unless one is running; returns false when one was.
    @discardableResult
    func start(path: String) -> Bool {
        let number: Int? = state.withLock { s in
            if s.running { return nil }
            s.running = true; s.check += 1; s.status = .pending
            return s.check
        }
        guard let number else { return false }
        let thread = Thread { [self] in
            let result = Self.check(path: path)
            state.withLock { s in
                s.running = false
                if s.check == number { s.status = result }
            }
        }
        thread.name = "kanban-bridge-integrity"
        thread.start()
        return true
    }

    /// At most 100 findings: enough to size the damage; a badly damaged file has thousands.
    static func check(path: String) -> IntegrityStatus {
        do {
            let queue = try SQLiteBoard.readOnlyQueue(path: path, busyTimeoutSeconds: 10)
            defer { try? queue.close() }
            let lines = try queue.read { db in try SQLiteBoard.findings(db, pragma: "integrity_check", limit: 100) }
            if lines.isEmpty { return .ok }
            return .problems(count: lines.count, first: Array(lines.prefix(5)))
        } catch {
            return .failed("\(error)")
        }
    }
}

extension SQLiteBoard {
    /// Starts `PRAGMA integrity_check` in the background (see `IntegrityMonitor`); `health()` reports
    /// it. False when a check is already running.
    @discardableResult
    public func startIntegrityCheck() -> Bool { integrity.start(path: path) }
}
