import Foundation
import Hummingbird
import KanbanClient
import KanbanModel
import KanbanProtocol
import ZeroMQ

/// One board event as the stream carries it: its `seq` and its whole SSE message, already encoded.
///
/// The hub formats each event once (`id:`/`event:`/`data:` lines, UTF-8) into a `ByteBuffer` that every
/// client's queue shares (copy-on-write: nobody mutates it), so 20 clients cost 20 memcpys into their
/// write buffers, not 20 string formattings and encodings.
public struct StreamEvent: Sendable {
    public let seq: Int64
    public let frame: ByteBuffer

    /// The SSE message for one event. The event type comes from the board (Hermes may write any kind),
    /// so line breaks are taken out of it; the JSON has none (`JSONCodec` escapes them).
    public init(seq: Int64, type: String, json: String) {
        let safeType = type.filter { $0 != "\n" && $0 != "\r" }
        self.seq = seq
        frame = ByteBuffer(string: "id: \(seq)\nevent: \(safeType)\ndata: \(json)\n\n")
    }
}

/// What an SSE client's queue holds.
public enum StreamItem: Sendable {
    case event(StreamEvent)
    /// Time for a `: keepalive` comment (proxies close connections that say nothing).
    case keepalive
}

/// One SSE client's bounded queue. Unlike an `AsyncStream`, its reader takes *everything* queued in one
/// call, so the route writes (and NIO flushes, one syscall) a batch per wake-up instead of one per
/// event: with 20 clients and thousands of events a second, per-event writes were the face's cost.
final class ClientQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [StreamItem] = []
    private var finished = false
    private var waiter: CheckedContinuation<[StreamItem]?, Never>?
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Appends a batch. False when it does not fit (the client is too slow) or the queue is finished.
    func push(_ batch: [StreamItem]) -> Bool {
        var wake: (CheckedContinuation<[StreamItem]?, Never>, [StreamItem])?
        let ok: Bool = lock.withLock {
            // A caught-up client takes any batch (a replayed gap may exceed the limit by itself).
            guard !finished, items.isEmpty || items.count + batch.count <= limit else { return false }
            items.append(contentsOf: batch)
            if let w = waiter { waiter = nil; wake = (w, items); items = [] }
            return true
        }
        // Resumed outside the lock: the reader may run at once on another thread.
        if let (w, batch) = wake { w.resume(returning: batch) }
        return ok
    }

    /// Ends the queue: the reader gets what is left, then nil.
    func finish() {
        let w: CheckedContinuation<[StreamItem]?, Never>? = lock.withLock {
            finished = true
            guard items.isEmpty, let w = waiter else { return nil }
            waiter = nil
            return w
        }
        w?.resume(returning: nil)
    }

    /// Everything queued (waiting for at least one item), or nil once finished and drained. One reader.
    func next() async -> [StreamItem]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<[StreamItem]?, Never>) in
                let now: [StreamItem]?? = lock.withLock {
                    if !items.isEmpty { let batch = items; items = []; return .some(batch) }
                    if finished { return .some(nil) }
                    waiter = c
                    return .none
                }
                if let now { c.resume(returning: now) }
            }
        } onCancel: { finish() }
    }
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
    private var clients: [UInt64: ClientQueue] = [:]
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
            // Monotonic, like every wait here: a wall-clock step must not flood or silence keepalives.
            var lastKeepalive = DispatchTime.now()
            while !isStopping {
                let events = feed.poll(timeoutMs: 200)
                _ = feed.drainNotices()
                publish(events)
                if Double(DispatchTime.now().uptimeNanoseconds - lastKeepalive.uptimeNanoseconds) / 1e9 >= keepaliveSeconds {
                    lastKeepalive = DispatchTime.now()
                    broadcast([.keepalive])
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
    func subscribe() -> (id: UInt64, queue: ClientQueue) {
        let queue = ClientQueue(limit: queueLimit)
        let id: UInt64 = lock.withLock {
            nextID += 1
            if stopping { queue.finish() } else { clients[nextID] = queue }
            return nextID
        }
        return (id, queue)
    }

    public func unsubscribe(_ id: UInt64) {
        lock.withLock { clients.removeValue(forKey: id) }?.finish()
    }

    public var clientCount: Int { lock.withLock { clients.count } }

    /// Events seen since start by lane and type, and the last `seq`.
    public func snapshot() -> (counts: [EventCountKey: Int], lastSeq: Int64) { lock.withLock { (counts, lastSeq) } }

    /// One poll's events, encoded once and handed to every client as one batch (one wake-up each).
    func publish(_ events: [JSONValue]) {
        var items: [StreamItem] = []
        items.reserveCapacity(events.count)
        for event in events {
            guard let seq = event["seq"]?.intValue else { continue }
            let type = event["type"]?.stringValue ?? "event"
            items.append(.event(StreamEvent(seq: seq, type: type, json: JSONCodec.encodeString(event))))
            lock.withLock {
                counts[EventCountKey(lane: event["lane"]?.stringValue ?? "_", type: type), default: 0] += 1
                lastSeq = max(lastSeq, seq)
            }
        }
        if !items.isEmpty { broadcast(items) }
    }

    private func broadcast(_ items: [StreamItem]) {
        let queues = lock.withLock { clients }
        var slow: [UInt64] = []
        for (id, q) in queues where !q.push(items) { slow.append(id) }
        guard !slow.isEmpty else { return }
        // Full: these clients are too slow. End their streams; they come back with Last-Event-ID.
        lock.withLock {
            for id in slow { if let q = clients.removeValue(forKey: id) { q.finish(); dropped += 1 } }
        }
    }
}

public struct EventCountKey: Hashable, Sendable {
    public let lane: String
    public let type: String
}
