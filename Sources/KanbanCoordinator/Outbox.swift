import KanbanModel
import ZeroMQ

/// Replies of a group commit, held until the batch's transaction has committed.
struct Outbox {
    /// Most requests run in one transaction. Each client has at most one request in flight, so in
    /// practice a batch is as large as the number of busy clients; this only bounds a flood.
    static let maxBatch = 128

    struct Pending {
        var envelope: [[UInt8]]
        var reply: [UInt8]
        /// A granted claim to release if the reply cannot be delivered (the client went away and,
        /// having no request_id, cannot get it by retrying).
        var undeliverableClaim: ClaimGrant?
    }

    private(set) var replies: [Pending] = []

    mutating func hold(_ envelope: [[UInt8]], _ reply: [UInt8], undeliverableClaim: ClaimGrant?) {
        replies.append(Pending(envelope: envelope, reply: reply, undeliverableClaim: undeliverableClaim))
    }

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
