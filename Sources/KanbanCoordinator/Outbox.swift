import KanbanModel
import KanbanProtocol
import ZeroMQ

/// What a request comes to on the wire: decided by the request path, carried out by the loop
/// (`Coordinator.carryOut`), which alone sends. A read's answer is carried out at once; a write's is
/// held in the `Outbox` until its batch has committed.
enum Answer {
    /// Reply bytes.
    case reply([UInt8])
    /// A granted claim's reply. `release`: the grant to take back if the reply cannot be delivered
    /// (the client went away and, having no request_id, cannot get it by retrying).
    case claim([UInt8], release: ClaimGrant?)
    /// A blocking claim that found nothing yet: parked until work comes or its wait is over.
    case park(ClaimRequest)
}

/// The answers of a group commit, held until the batch's transaction has committed (no `ok` leaves
/// before its change is durable). One outbox serves batch after batch: `clear` keeps its storage.
struct Outbox {
    /// Most requests run in one transaction. Each client has at most one request in flight, so in
    /// practice a batch is as large as the number of busy clients; this only bounds a flood.
    static let maxBatch = 128

    struct Held {
        var envelope: [[UInt8]]
        var answer: Answer
    }

    private(set) var held: [Held] = []

    mutating func hold(_ envelope: [[UInt8]], _ answer: Answer) { held.append(Held(envelope: envelope, answer: answer)) }

    /// Empties it for the next batch, keeping its storage (no allocation per batch).
    mutating func clear() { held.removeAll(keepingCapacity: true) }

    /// A request as it arrived: its frames, and the CURVE key its connection authenticated with.
    struct Request {
        var frames: [[UInt8]]
        var curveKey: String?
    }

    /// The messages already queued on `socket`, without waiting for more.
    static func drain(_ socket: ZMQSocket, max: Int) -> [Request] {
        var batch: [Request] = []
        while batch.count < max, let m = try? socket.receiveMessage(dontWait: true) {
            batch.append(Request(frames: m.frames, curveKey: m.userID))
        }
        return batch
    }
}
