import KanbanModel
import KanbanProtocol
import ZeroMQ

/// One worker's REQ socket to the coordinator, with requests written by `RequestEncoder` as every
/// client writes them, and a fresh `request_id` on every mutation of the lifecycle, as real workers send.
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

    /// One round trip: sends the frame, returns the reply frame. Fails after `replyTimeoutMs` without a reply.
    public func call(frame: [UInt8]) throws -> [UInt8] {
        lastRequestBytes = frame.count
        try socket.send([frame])
        guard try socket.waitReadable(timeoutMs: replyTimeoutMs) else {
            throw BenchError("no reply within \(replyTimeoutMs / 1000) s to \(String(decoding: frame.prefix(60), as: UTF8.self))")
        }
        return try socket.receive().last ?? []
    }

    /// One round trip of `request` with this client's token (and a `request_id` or `timeout_ms` if given).
    public func call(_ request: Request, requestID: String? = nil, timeoutMs: Int? = nil) throws -> [UInt8] {
        try call(frame: RequestEncoder.encode(request, auth: auth, requestID: requestID, timeoutMs: timeoutMs))
    }

    public func claim(lane: String) throws -> [UInt8] {
        try call(.claim(ClaimRequest(lane: lane)), requestID: nextRequestID())
    }

    public func complete(taskID: String, token: String, claimNext: Bool) throws -> [UInt8] {
        let ref = ClaimRef(taskID: taskID, claimToken: token)
        return try call(.complete(ref, result: "ok", summary: nil, metadata: nil, claimNext: claimNext), requestID: nextRequestID())
    }

    public func heartbeat(taskID: String, token: String) throws -> [UInt8] {
        try call(.heartbeat(ClaimRef(taskID: taskID, claimToken: token), note: nil, metadata: nil), requestID: nextRequestID())
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
