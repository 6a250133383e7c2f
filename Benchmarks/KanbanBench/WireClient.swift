import ZeroMQ

/// One worker's REQ socket to the coordinator, with requests written as JSON text directly (ids and
/// tokens are from a safe alphabet) and a fresh `request_id` on every mutation, as real workers send.
public final class WireClient {
    private let socket: ZMQSocket
    private let auth: String
    private let idPrefix: String
    private var sequence = 0
    /// Size of the last request sent (for sizing the echo baseline).
    public private(set) var lastRequestBytes = 0

    /// Milliseconds `call` waits for a reply (a coordinator under valgrind answers ~50 times slower).
    private let replyTimeoutMs: Int

    public init(context: ZMQContext, endpoint: String, auth: String, name: String, replyTimeoutMs: Int = 30_000) throws {
        self.replyTimeoutMs = replyTimeoutMs
        socket = try ZMQSocket(context, .req)
        try socket.connect(endpoint)
        self.auth = auth
        idPrefix = "\(name)-\(UInt32.random(in: 0 ... .max))-"
    }

    private func nextRequestID() -> String {
        sequence += 1
        return idPrefix + String(sequence)
    }

    /// One round trip: sends the JSON text, returns the reply frame. Fails after `replyTimeoutMs` without a reply.
    public func call(_ json: String) throws -> [UInt8] {
        let frame = Array(json.utf8)
        lastRequestBytes = frame.count
        try socket.send([frame])
        guard try socket.waitReadable(timeoutMs: replyTimeoutMs) else {
            throw BenchError("no reply within \(replyTimeoutMs / 1000) s to \(json.prefix(60))")
        }
        return try socket.receive().last ?? []
    }

    public func claim(lane: String) throws -> [UInt8] {
        try call(#"{"op":"claim","auth":"\#(auth)","lane":"\#(lane)","request_id":"\#(nextRequestID())"}"#)
    }

    public func complete(taskID: String, token: String, claimNext: Bool) throws -> [UInt8] {
        let next = claimNext ? #","claim_next":true"# : ""
        return try call(#"{"op":"complete","auth":"\#(auth)","task_id":"\#(taskID)","claim_token":"\#(token)","result":"ok"\#(next),"request_id":"\#(nextRequestID())"}"#)
    }

    public func heartbeat(taskID: String, token: String) throws -> [UInt8] {
        try call(#"{"op":"heartbeat","auth":"\#(auth)","task_id":"\#(taskID)","claim_token":"\#(token)","request_id":"\#(nextRequestID())"}"#)
    }

    /// Claims one task of `lane` and fails unless one is granted.
    public func claimOne(lane: String) throws -> (taskID: String, token: String) {
        let reply = try claim(lane: lane)
        guard let grant = ReplyScan.grant(reply) else {
            throw BenchError("claim on lane \(lane) granted nothing: \(String(decoding: reply.prefix(200), as: UTF8.self))")
        }
        return grant
    }
}
