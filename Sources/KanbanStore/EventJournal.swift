import Foundation
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

    /// One lifecycle event, where its audience says.
    func write(_ e: LifecycleEvent) throws {
        switch e.audience {
        case .hermesAndSubscribers:
            try task(e.kind.rawValue, taskID: e.taskID, lane: e.lane, runID: e.runID, hermesPayload: e.hermesPayload, data: e.data)
        case .subscribersOnly:
            try published(e.kind.rawValue, taskID: e.taskID, lane: e.lane, runID: e.runID, data: e.data)
        case .hermesOnly:
            try hermesRow(e.kind.rawValue, taskID: e.taskID, runID: e.runID, payload: e.hermesPayload)
        }
    }

    /// A Hermes-visible event, mirrored into the published stream.
    func task(_ kind: String, taskID: String, lane: String?, runID: Int64? = nil,
              hermesPayload: JSONValue? = nil, data: JSONValue = [:]) throws {
        let source = try hermesRow(kind, taskID: taskID, runID: runID, payload: hermesPayload)
        try published(kind, taskID: taskID, lane: lane, runID: runID, data: data, source: source)
    }

    /// A `task_events` row; returns its id. A row only Hermes sees (not published) must be one
    /// `importExternalEvents` recognises as ours, or the change watcher would publish it as a foreign write.
    @discardableResult
    func hermesRow(_ kind: String, taskID: String, runID: Int64?, payload: JSONValue?) throws -> Int64 {
        try db.cachedStatement(sql: "INSERT INTO task_events (task_id, run_id, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)").execute(
                       arguments: [taskID, runID, kind, payload.flatMap(JSONText.encode), nowMs / 1000])
        return db.lastInsertedRowID
    }

    /// A published event (`available`, lane registry changes, or the mirror of a Hermes row named by `source`).
    func published(_ type: String, taskID: String?, lane: String?, runID: Int64? = nil, data: JSONValue = [:],
                   source: Int64? = nil) throws {
        try db.cachedStatement(sql: """
            INSERT INTO bridge_events (type, task_id, lane, run_id, at_ms, data, source_event_id) VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [type, taskID, lane, runID, nowMs, JSONText.encode(data) ?? "{}", source])
        journal.append(BoardEvent(seq: db.lastInsertedRowID, type: type, taskID: taskID, lane: lane, runID: runID, atMs: nowMs,
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
