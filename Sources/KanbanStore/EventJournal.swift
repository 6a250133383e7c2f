import GRDB
import KanbanModel

/// The events this connection has written, kept in memory until they are known committed, so the
/// coordinator publishes them without reading back what it just wrote. A savepoint that rolls back
/// drops its own; a transaction that fails drops all of them (`SQLiteBoard`'s transaction wrappers).
final class EventJournal {
    private var pending: [BoardEvent] = []
    private var committed: [BoardEvent] = []

    func append(_ event: BoardEvent) { pending.append(event) }
    /// Where a savepoint starts, to roll back to.
    var mark: Int { pending.count }
    func rollBack(to mark: Int) { pending.removeSubrange(mark...) }
    func discardPending() { pending.removeAll(keepingCapacity: true) }
    func commit() {
        committed.append(contentsOf: pending)
        pending.removeAll(keepingCapacity: true)
    }
    /// Committed events not yet taken, in `seq` order.
    func take() -> [BoardEvent] {
        defer { committed.removeAll(keepingCapacity: true) }
        return committed
    }
}

/// Appends to the event logs inside the caller's transaction: Hermes' `task_events` (what its CLI,
/// notifier and dashboard read) and the bridge's `bridge_events` (what the PUB socket publishes; it
/// holds the wire `seq`). Why two tables: the published stream interleaves events Hermes must never
/// see (`available`, the lane registry) with Hermes' rows, and replays them by one gap-free `seq`;
/// `task_events.id` cannot be that sequence without writing our kinds into Hermes' table.
struct EventWriter {
    let db: Database
    let nowMs: Int64
    let journal: EventJournal
    let prepared: PreparedStatements

    /// One lifecycle event, where its audience says.
    func write(_ e: LifecycleEvent) throws {
        switch e.audience {
        case .hermesAndSubscribers:
            try task(e.kind.rawValue, taskID: e.taskID, lane: e.lane, runID: e.runID, hermesPayload: e.hermesPayload, data: e.data)
        case .subscribersOnly:
            try published(e.kind.rawValue, taskID: e.taskID, lane: e.lane, runID: e.runID, data: e.data)
        case .hermesOnly:
            _ = try hermesRow(e.kind.rawValue, taskID: e.taskID, runID: e.runID, payload: e.hermesPayload)
        }
    }

    /// A Hermes-visible event, mirrored into the published stream.
    func task(_ kind: String, taskID: String, lane: String?, runID: Int64? = nil,
              hermesPayload: JSONValue? = nil, data: JSONValue = [:]) throws {
        // Most events show Hermes and subscribers the same payload: encode it once.
        let payloadText = hermesPayload.flatMap(JSONText.encode)
        let dataText = hermesPayload == data ? payloadText ?? "{}" : JSONText.encode(data) ?? "{}"
        let source = try hermesRow(kind, taskID: taskID, runID: runID, payloadText: payloadText)
        try published(kind, taskID: taskID, lane: lane, runID: runID, data: data, dataText: dataText, source: source)
    }

    /// A `task_events` row; returns its id. A row only Hermes sees (not published) must be one
    /// `importExternalEvents` recognises as ours, or the change watcher would publish it as a foreign write.
    @discardableResult
    func hermesRow(_ kind: String, taskID: String, runID: Int64?, payload: JSONValue?) throws -> Int64 {
        try hermesRow(kind, taskID: taskID, runID: runID, payloadText: payload.flatMap(JSONText.encode))
    }

    private func hermesRow(_ kind: String, taskID: String, runID: Int64?, payloadText: String?) throws -> Int64 {
        let q = try prepared(Hot.hermesEvent.rawValue, db,
                             "INSERT INTO task_events (task_id, run_id, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)")
        q.bind(.text(taskID), .of(runID), .text(kind), .of(payloadText), .int(nowMs / 1000))
        try q.run()
        return q.lastInsertedRowID
    }

    /// A published event (`available`, lane registry changes, or the mirror of a Hermes row named by `source`).
    func published(_ type: String, taskID: String?, lane: String?, runID: Int64? = nil, data: JSONValue = [:],
                   dataText: String? = nil, source: Int64? = nil) throws {
        let q = try prepared(Hot.publishedEvent.rawValue, db, """
            INSERT INTO bridge_events (type, task_id, lane, run_id, at_ms, data, source_event_id) VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        q.bind(.text(type), .of(taskID), .of(lane), .of(runID), .int(nowMs), .text(dataText ?? JSONText.encode(data) ?? "{}"), .of(source))
        try q.run()
        journal.append(BoardEvent(seq: q.lastInsertedRowID, type: type, taskID: taskID, lane: lane, runID: runID, atMs: nowMs,
                                  data: data))
    }
}

/// JSON text columns (payloads, metadata, event data), through the bridge's one codec, `JSONCodec`:
/// it writes every value and reads every JSON text, so there is no fallback.
enum JSONText {
    /// The column's text; nil (SQL NULL) for `null`.
    static func encode(_ value: JSONValue) -> String? {
        if case .null = value { return nil }
        return JSONCodec.encodeString(value)
    }

    /// The column's value; nil for NULL, or for text that is not JSON.
    static func decode(_ text: String?) -> JSONValue? {
        guard let text else { return nil }
        return JSONCodec.decode(text.utf8)
    }
}
