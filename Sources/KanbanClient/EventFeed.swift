import Foundation
import KanbanModel
import KanbanProtocol
import ZeroMQ

/// Where a received `seq` stands relative to what has been delivered. Pure.
public struct SequenceTracker: Sendable {
    public enum Decision: Equatable, Sendable {
        /// Already delivered (a replay overlapped the live stream): drop it.
        case duplicate
        /// The very next event: deliver it.
        case next
        /// Events between the last delivered one and this were missed: replay first.
        case gap(missingFrom: Int64)
    }

    /// The last delivered `seq`.
    public private(set) var last: Int64

    public init(last: Int64) { self.last = last }

    public func classify(_ seq: Int64) -> Decision {
        if seq <= last { return .duplicate }
        return seq == last + 1 ? .next : .gap(missingFrom: last + 1)
    }

    public mutating func delivered(_ seq: Int64) { last = max(last, seq) }
}

/// Follows the event stream without losing anything (the ZeroMQ guide's Clone pattern): subscribe
/// first, replay from the cursor with the `events` op, then take live events, and replay again on any
/// `seq` gap (high-water-mark drops, a coordinator restart) or when the head moves past us unseen.
public final class EventFeed {
    private let commands: CommandClient
    private let eventEndpoint: String
    private let context: ZMQContext
    private var subscriber: ZMQSocket?
    private var tracker: SequenceTracker?
    private var lastHeadCheck = Date.distantPast
    /// How often to ask the coordinator for its head `seq` when the stream is quiet.
    public var headCheckInterval: TimeInterval = 2

    /// Human-readable notes about replays and reconnects, for the caller to show.
    public private(set) var notices: [String] = []

    /// Follows from `since` (events after that `seq`), or from the current head when nil.
    /// `sinceIsContext`: the caller chose `since` only to show some history (the dashboard's last
    /// events), so fetching it is no "catch-up" worth a notice; later replays (gaps, restarts) are.
    public init(commands: CommandClient, eventEndpoint: String, since: Int64?, sinceIsContext: Bool = false,
                context: ZMQContext = ZMQContext()) {
        self.commands = commands
        self.eventEndpoint = eventEndpoint
        self.context = context
        if let since { tracker = SequenceTracker(last: since) }
        quietReplays = sinceIsContext && since != nil ? 1 : 0
    }

    /// Replays still to make without a notice (the first, when it only fetches the history asked for).
    private var quietReplays = 0

    /// The last delivered `seq`, once known.
    public var lastSeq: Int64? { tracker?.last }

    /// Takes the notices gathered so far.
    public func drainNotices() -> [String] {
        defer { notices = [] }
        return notices
    }

    /// Events in `seq` order that arrived within `timeoutMs`, with any replay needed to close gaps.
    /// Never throws: an unreachable coordinator yields no events and a notice, and is retried.
    public func poll(timeoutMs: Int) -> [JSONValue] {
        var out: [JSONValue] = []
        do {
            let sub = try connectedSubscriber()
            if tracker == nil {
                guard let head = try? commands.call(.ping)["last_seq"]?.intValue else {
                    notices.append("coordinator at \(commands.endpoint) unreachable; retrying")
                    Thread.sleep(forTimeInterval: Double(timeoutMs) / 1000)
                    return []
                }
                tracker = SequenceTracker(last: head)
            }
            if Date().timeIntervalSince(lastHeadCheck) > headCheckInterval {
                lastHeadCheck = Date()
                if let head = try? commands.call(.ping)["last_seq"]?.intValue, let last = tracker?.last, head > last {
                    out += replay(reason: "the coordinator is at seq \(head), we had \(last)")
                }
            }
            var wait = timeoutMs
            while try sub.waitReadable(timeoutMs: wait) {
                wait = 0
                let frames = try sub.receive()
                guard frames.count == 2, let event = JSONCodec.decode(frames[1]),
                      let seq = event["seq"]?.intValue, var t = tracker else { continue }
                switch t.classify(seq) {
                case .duplicate: continue
                case .next:
                    t.delivered(seq)
                    tracker = t
                    out.append(event)
                case .gap(let from):
                    out += replay(reason: "gap: missed seq \(from)..\(seq - 1)")
                    if let last = tracker?.last, seq == last + 1 {
                        tracker?.delivered(seq)
                        out.append(event)
                    }
                }
                if out.count >= 1000 { break }
            }
        } catch {
            notices.append("event socket error: \(error); reconnecting")
            subscriber?.close()
            subscriber = nil
        }
        return out
    }

    /// Fetches everything after the cursor with the `events` op, in pages.
    private func replay(reason: String) -> [JSONValue] {
        guard var t = tracker else { return [] }
        var out: [JSONValue] = []
        while true {
            guard let page = try? commands.call(.events(since: t.last, limit: 1000, lane: nil))["events"]?.arrayValue else {
                notices.append("replay failed (coordinator unreachable); will retry")
                break
            }
            for e in page { if let s = e["seq"]?.intValue, t.classify(s) != .duplicate { t.delivered(s); out.append(e) } }
            if page.count < 1000 { break }
        }
        tracker = t
        if quietReplays > 0 {
            quietReplays -= 1
        } else if !out.isEmpty {
            notices.append("caught up \(out.count) event(s) by replay (\(reason))")
        }
        return out
    }

    private func connectedSubscriber() throws -> ZMQSocket {
        if let subscriber { return subscriber }
        let s = try ZMQSocket(context, .sub)
        // The event socket runs CURVE whenever the command socket does; else it takes our token (PLAIN).
        try EventCredentials.apply(to: s, curve: commands.curve, token: commands.auth)
        try s.subscribe("")
        try s.connect(eventEndpoint)
        subscriber = s
        return s
    }
}
