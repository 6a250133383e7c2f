/// At most one log line per `intervalMs` for something any peer can cause at will (a refused
/// handshake, a malformed envelope), with how many happened: the log stays useful under a flood.
struct LogThrottle {
    let intervalMs: Int64
    private var count = 0
    private var lastLineMs: Int64?

    init(intervalMs: Int64) { self.intervalMs = intervalMs }

    /// Counts one occurrence; returns how many there were since the last line when a line is due.
    mutating func due(nowMs: Int64) -> Int? {
        count += 1
        if let last = lastLineMs, nowMs - last < intervalMs { return nil }
        defer { count = 0; lastLineMs = nowMs }
        return count
    }
}
