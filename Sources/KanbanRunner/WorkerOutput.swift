import Foundation
import Synchronization

/// A worker's output on its way to the board: what is not sent yet (bounded: a coordinator out of
/// reach for hours must not fill the runner's memory), and the tail kept for the task's result.
final class WorkerOutput: @unchecked Sendable {
    /// Unsent output beyond this is dropped, oldest first, and the log says how much.
    static let maxPendingBytes = 1 << 20
    /// The end of the output kept for `complete`'s result and `block`'s reason.
    static let tailBytes = 16 * 1024

    private struct State {
        var pending: [UInt8] = []
        var dropped = 0
        var tail: [UInt8] = []
        var ended = false
    }
    private let state = Mutex(State())

    func add(_ bytes: [UInt8]) {
        state.withLock { s in
            s.pending += bytes
            if s.pending.count > Self.maxPendingBytes {
                let over = s.pending.count - Self.maxPendingBytes
                s.pending.removeFirst(over)
                s.dropped += over
            }
            s.tail += bytes
            if s.tail.count > Self.tailBytes { s.tail.removeFirst(s.tail.count - Self.tailBytes) }
        }
    }

    /// Text (a header, a note) that goes to the board's log only.
    func note(_ text: String) { state.withLock { $0.pending += Array(text.utf8) } }

    func markEnded() { state.withLock { $0.ended = true } }
    var ended: Bool { state.withLock { $0.ended } }
    var pendingCount: Int { state.withLock { $0.pending.count } }

    /// Up to `max` bytes to send next, cut before a partial UTF-8 character (the wire takes strings),
    /// with a note of anything dropped in front. Stays pending until `sent(_:)`.
    func nextChunk(max: Int) -> (text: String, bytes: Int)? {
        state.withLock { s in
            guard !s.pending.isEmpty || s.dropped > 0 else { return nil }
            var n = min(max, s.pending.count)
            // A UTF-8 continuation byte (10xxxxxx) must not start the next chunk.
            while n < s.pending.count, n > 0, s.pending[n] & 0xC0 == 0x80 { n -= 1 }
            if n == 0 { n = min(max, s.pending.count) }
            var text = String(decoding: s.pending[..<n], as: UTF8.self)
            if s.dropped > 0 { text = "\n[kanban-bridge runner: \(s.dropped) bytes of output dropped while the coordinator was out of reach]\n" + text }
            return (text, n)
        }
    }

    func sent(_ bytes: Int) {
        state.withLock { s in
            s.pending.removeFirst(min(bytes, s.pending.count))
            s.dropped = 0
        }
    }

    var tail: String { state.withLock { String(decoding: $0.tail, as: UTF8.self) } }

    /// Reads `fd` until end of file on a thread of its own, then closes it.
    func pump(from fd: Int32) {
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 { add(Array(buffer[..<n])); continue }
                if n < 0, errno == EINTR { continue }
                break
            }
            close(fd)
            markEnded()
        }
        thread.name = "kanban-runner-output"
        thread.start()
    }
}
