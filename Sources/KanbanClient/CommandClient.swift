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
/// A REQ socket that timed out is stuck in its send/receive state machine, so on timeout the socket
/// is closed and a fresh one opened (the first step of the Lazy Pirate pattern).
public final class CommandClient {
    public let endpoint: String
    public var auth: String?
    public var timeoutMs: Int
    private let context: ZMQContext
    private var socket: ZMQSocket?

    public init(endpoint: String = Endpoints.command, auth: String?, timeoutMs: Int = 5000, context: ZMQContext = ZMQContext()) {
        self.endpoint = endpoint
        self.auth = auth
        self.timeoutMs = timeoutMs
        self.context = context
    }

    /// Sends `op` with `fields` and returns the reply's `result`; throws `WireError` on an error reply.
    public func call(_ op: String, _ fields: [String: JSONValue] = [:], requestID: String? = nil) throws -> JSONValue {
        var request = fields
        request["op"] = .string(op)
        if let auth { request["auth"] = .string(auth) }
        if let requestID { request["request_id"] = .string(requestID) }
        let reply = try roundTrip(Reply.encode(.object(request)))
        switch Reply.parse(reply) {
        case .success(let result): return result
        case .failure(let error): throw error
        }
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
        try s.connect(endpoint)
        socket = s
        return s
    }
}

/// A subscriber to the event socket.
public final class EventSubscriber {
    private let socket: ZMQSocket

    /// Connects and subscribes to `topicPrefix` (`""` for every event, `"factory."` for one lane).
    public init(endpoint: String = Endpoints.events, topicPrefix: String = "", context: ZMQContext = ZMQContext()) throws {
        socket = try ZMQSocket(context, .sub)
        try socket.subscribe(topicPrefix)
        try socket.connect(endpoint)
    }

    /// The next event's topic and body, or nil if none arrives within `timeoutMs`.
    public func next(timeoutMs: Int) throws -> (topic: String, event: JSONValue)? {
        guard try socket.waitReadable(timeoutMs: timeoutMs) else { return nil }
        let frames = try socket.receive()
        guard frames.count == 2, let event = try? JSONDecoder().decode(JSONValue.self, from: Data(frames[1])) else { return nil }
        return (String(decoding: frames[0], as: UTF8.self), event)
    }
}
