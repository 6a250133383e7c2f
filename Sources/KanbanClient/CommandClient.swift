import Foundation
import KanbanModel
import KanbanProtocol
import ZeroMQ

/// Failures on the client side of the wire (the server's refusals arrive as `WireError`).
public enum ClientError: Error, CustomStringConvertible {
    /// No reply within the timeout; the socket was reset so the next call starts clean.
    case timeout(endpoint: String, ms: Int)
    case transport(String)

    public var description: String {
        switch self {
        case .timeout(let endpoint, let ms):
            return "no reply from \(endpoint) within \(ms) ms (is `kanban-bridge serve` running there?)"
        case .transport(let m): return m
        }
    }
}

/// A request/reply client for the command socket (REQ). One instance per thread.
///
/// Retries follow the Lazy Pirate pattern: a REQ socket that timed out is stuck in its send/receive
/// state machine, so it is closed and a fresh one opened, and the request is sent again with the same
/// `request_id`. The coordinator answers a repeat with the first reply, so a retried `complete` or
/// `claim` never happens twice.
public final class CommandClient {
    public let endpoint: String
    public var auth: String?
    /// How long to wait for each attempt's reply.
    public var timeoutMs: Int
    /// Extra attempts after a timeout (0: fail on the first timeout).
    public var retries: Int
    /// Extra attempts after a `busy` reply (another program held the board's write lock for as long as
    /// the request could wait). The coordinator is alive and nothing changed, so these are cheap and,
    /// with the same `request_id`, safe; they are counted apart from `retries`.
    public var busyRetries: Int = 5
    /// Set when the coordinator runs CURVE: the connection, not `auth`, then says who we are.
    public var curve: CurveCredentials?
    private let context: ZMQContext
    private var socket: ZMQSocket?

    public init(endpoint: String = Endpoints.command, auth: String?, timeoutMs: Int = 5000, retries: Int = 0,
                curve: CurveCredentials? = nil, context: ZMQContext = ZMQContext()) {
        self.endpoint = endpoint
        self.curve = curve
        self.auth = auth
        self.timeoutMs = timeoutMs
        self.retries = retries
        self.context = context
    }

    /// Sends `request` and returns the reply's `result`; throws `WireError` on an error reply and
    /// `ClientError.timeout` once every attempt timed out. Mutations get a fresh `request_id` unless one
    /// is given, so retries are safe, and a `timeout_ms` a little under ours, so a write that cannot get
    /// the board's lock is answered `busy` before we stop listening.
    public func call(_ request: Request, requestID: String? = nil) throws -> JSONValue {
        let mutation = request.isMutation
        let frame = RequestEncoder.encode(request, auth: auth, requestID: mutation ? requestID ?? Self.newRequestID() : requestID,
                                          timeoutMs: mutation ? timeoutMs * 4 / 5 : nil)
        return try send(frame)
    }

    /// Sends `op` with hand-built `fields`, with the same envelope, retries and replies as `call(_:)`.
    /// For tests and tools that must send what a typed `Request` cannot say (an unknown op, a field of
    /// the wrong type); everything else sends a `Request`.
    public func call(_ op: String, _ fields: [String: JSONValue] = [:], requestID: String? = nil) throws -> JSONValue {
        var request = fields
        request["op"] = .string(op)
        if let auth { request["auth"] = .string(auth) }
        // An unknown op is treated as a mutation: a request id never hurts, a missing one might.
        if Op(rawValue: op)?.isMutation ?? true {
            request["request_id"] = .string(requestID ?? Self.newRequestID())
            if request["timeout_ms"] == nil { request["timeout_ms"] = .int(Int64(timeoutMs * 4 / 5)) }
        } else if let requestID {
            request["request_id"] = .string(requestID)
        }
        return try send(JSONCodec.encode(.object(request)))
    }

    /// One request frame, resent on timeouts (up to `retries`) and on `busy` (up to `busyRetries`).
    private func send(_ frame: [UInt8]) throws -> JSONValue {
        var attempt = 0, busyAttempt = 0
        while true {
            do {
                let reply = try roundTrip(frame)
                switch Reply.parse(reply) {
                case .success(let result): return result
                case .failure(let error) where error.code == .busy && busyAttempt < busyRetries:
                    busyAttempt += 1
                    Thread.sleep(forTimeInterval: Self.pause(busyAttempt))
                case .failure(let error): throw error
                }
            } catch let error as ClientError {
                guard attempt < retries else { throw error }
                attempt += 1
                Thread.sleep(forTimeInterval: Self.pause(attempt))
            }
        }
    }

    /// Backs off a little, growing, so a restarting or locked coordinator is not hammered: 0.1 s, 0.2 s … 2 s.
    static func pause(_ attempt: Int) -> TimeInterval { min(2.0, 0.05 * Double(1 << min(attempt, 6))) }

    /// A random request id: 128 bits, hex.
    public static func newRequestID() -> String {
        var rng = SystemRandomNumberGenerator()
        return String(format: "%016llx%016llx", rng.next() as UInt64, rng.next() as UInt64)
    }

    /// Sends raw bytes as one frame and returns the raw reply frame (for tests and tools).
    public func roundTrip(_ frame: [UInt8]) throws -> [UInt8] {
        let socket = try openSocket()
        do {
            try socket.send([frame])
            guard try socket.waitReadable(timeoutMs: timeoutMs) else {
                reset()
                throw ClientError.timeout(endpoint: endpoint, ms: timeoutMs)
            }
            return try socket.receive().last ?? []
        } catch let error as ZMQError {
            reset()
            throw ClientError.transport("\(error)")
        }
    }

    /// Closes the socket; the next call reconnects.
    public func reset() {
        socket?.close()
        socket = nil
    }

    private func openSocket() throws -> ZMQSocket {
        if let socket { return socket }
        let s = try ZMQSocket(context, .req)
        try curve?.apply(to: s)
        try s.connect(endpoint)
        socket = s
        return s
    }
}

/// How a subscriber proves itself to the event socket: with CURVE its keypair; without, the token
/// it already holds for commands (admin, lane or worker), sent as the PLAIN password.
public enum EventCredentials {
    /// The PLAIN user name subscribers send; the coordinator only looks at the password.
    public static let plainUsername = "kanban"

    static func apply(to socket: ZMQSocket, curve: CurveCredentials?, token: String?) throws {
        if let curve {
            try curve.apply(to: socket)
        } else if let token, !token.isEmpty {
            try socket.makePlainClient(username: plainUsername, password: token)
        }
    }
}

/// A subscriber to the event socket.
public final class EventSubscriber {
    private let socket: ZMQSocket

    /// Connects and subscribes to `topicPrefix` (`""` for every event, `"factory."` for one lane).
    /// The coordinator admits a subscriber with a CURVE key it knows, or (without CURVE) with a token.
    public init(endpoint: String = Endpoints.events, topicPrefix: String = "", curve: CurveCredentials? = nil,
                token: String? = nil, context: ZMQContext = ZMQContext()) throws {
        socket = try ZMQSocket(context, .sub)
        try EventCredentials.apply(to: socket, curve: curve, token: token)
        try socket.subscribe(topicPrefix)
        try socket.connect(endpoint)
    }

    /// The next event's topic and body, or nil if none arrives within `timeoutMs`.
    public func next(timeoutMs: Int) throws -> (topic: String, event: JSONValue)? {
        guard try socket.waitReadable(timeoutMs: timeoutMs) else { return nil }
        let frames = try socket.receive()
        guard frames.count == 2, let event = JSONCodec.decode(frames[1]) else { return nil }
        return (String(decoding: frames[0], as: UTF8.self), event)
    }
}
