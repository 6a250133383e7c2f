import Foundation
import KanbanClient
import KanbanModel
import KanbanProtocol
import ZeroMQ

/// One board event as the stream carries it: its `seq`, its type and the JSON the PUB socket sent.
public struct StreamEvent: Sendable {
    public let seq: Int64
    public let type: String
    public let json: String
}

/// What an SSE client's queue holds.
public enum StreamItem: Sendable {
    case event(StreamEvent)
    /// Time for a `: keepalive` comment (proxies close connections that say nothing).
    case keepalive
}

/// The one SUB connection of the HTTP face, fanned out to every SSE client.
///
/// A thread of its own follows the stream with `EventFeed` (subscribe, replay gaps with `events`), so
/// what it hands out is in `seq` order without holes, and nothing polls the board per client. Each
/// client gets a bounded queue: a client that falls `WebLimits.sseQueue` events behind is dropped (its
/// stream ends) and resumes with Last-Event-ID, so a slow reader costs bounded memory and never slows
/// the others.
public final class EventHub: @unchecked Sendable {
    private let lock = NSLock()
    private var clients: [UInt64: AsyncStream<StreamItem>.Continuation] = [:]
    private var nextID: UInt64 = 0
    private var stopping = false
    private var thread: Thread?
    private let queueLimit: Int
    private let keepaliveSeconds: TimeInterval
    /// Events seen since start, by lane and type (`/metrics`' `kanban_events_total`).
    private var counts: [EventCountKey: Int] = [:]
    private var lastSeq: Int64 = 0
    /// How many clients were dropped for reading too slowly.
    public private(set) var dropped = 0

    public init(queueLimit: Int = WebLimits.sseQueue, keepaliveSeconds: TimeInterval = 15) {
        self.queueLimit = queueLimit
        self.keepaliveSeconds = keepaliveSeconds
    }

    /// Starts following the stream at `eventEndpoint`, authenticating with `token` (PLAIN) — the HTTP
    /// face's own credential, not any session's.
    public func start(commandEndpoint: String, eventEndpoint: String, token: String?, context: ZMQContext) {
        let thread = Thread { [self] in
            let commands = CommandClient(endpoint: commandEndpoint, auth: token, timeoutMs: 3000, context: context)
            let feed = EventFeed(commands: commands, eventEndpoint: eventEndpoint, since: nil, context: context)
            var lastKeepalive = Date()
            while !isStopping {
                let events = feed.poll(timeoutMs: 200)
                _ = feed.drainNotices()
                for event in events { publish(event) }
                if Date().timeIntervalSince(lastKeepalive) >= keepaliveSeconds {
                    lastKeepalive = Date()
                    broadcast(.keepalive)
                }
            }
        }
        thread.name = "kanban-web-events"
        self.thread = thread
        thread.start()
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    public func stop() {
        lock.withLock {
            stopping = true
            for c in clients.values { c.finish() }
            clients = [:]
        }
    }

    /// A new client's queue; events published from now on arrive in it. Call `unsubscribe` when done.
    public func subscribe() -> (id: UInt64, stream: AsyncStream<StreamItem>) {
        let (stream, continuation) = AsyncStream<StreamItem>.makeStream(bufferingPolicy: .bufferingOldest(queueLimit))
        let id: UInt64 = lock.withLock {
            nextID += 1
            if stopping { continuation.finish() } else { clients[nextID] = continuation }
            return nextID
        }
        return (id, stream)
    }

    public func unsubscribe(_ id: UInt64) {
        lock.withLock { clients.removeValue(forKey: id) }?.finish()
    }

    public var clientCount: Int { lock.withLock { clients.count } }

    /// Events seen since start by lane and type, and the last `seq`.
    public func snapshot() -> (counts: [EventCountKey: Int], lastSeq: Int64) { lock.withLock { (counts, lastSeq) } }

    func publish(_ event: JSONValue) {
        guard let seq = event["seq"]?.intValue else { return }
        let type = event["type"]?.stringValue ?? "event"
        let item = StreamItem.event(StreamEvent(seq: seq, type: type, json: JSONCodec.encodeString(event)))
        lock.withLock {
            counts[EventCountKey(lane: event["lane"]?.stringValue ?? "_", type: type), default: 0] += 1
            lastSeq = max(lastSeq, seq)
        }
        broadcast(item)
    }

    private func broadcast(_ item: StreamItem) {
        lock.withLock {
            for (id, c) in clients {
                if case .dropped = c.yield(item) {
                    // Full: this client is too slow. End its stream; it comes back with Last-Event-ID.
                    c.finish()
                    clients[id] = nil
                    dropped += 1
                }
            }
        }
    }
}

public struct EventCountKey: Hashable, Sendable {
    public let lane: String
    public let type: String
}
