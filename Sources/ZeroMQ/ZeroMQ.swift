import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// An error from libzmq, carrying its errno and message.
public struct ZMQError: Error, CustomStringConvertible, Sendable {
    /// The errno value libzmq reported.
    public let code: Int32
    /// What was being attempted when it failed.
    public let operation: String

    /// Captures `zmq_errno()` for the failed operation.
    public init(_ operation: String) {
        self.code = zmq_errno()
        self.operation = operation
    }

    /// An error found before libzmq was called (`code` is an errno value, e.g. `EINVAL`).
    public init(_ operation: String, code: Int32) {
        self.code = code
        self.operation = operation
    }

    /// True when the call would have blocked (timeout or `DONTWAIT`).
    public var isAgain: Bool { code == EAGAIN }
    /// True when the context is being terminated.
    public var isTerminated: Bool { code == ETERM }

    public var description: String {
        "\(operation): \(String(cString: zmq_strerror(code)))"
    }
}

/// A ZeroMQ context. One per process is enough; sockets keep it alive.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    /// Creates a new libzmq context.
    public init() {
        handle = zmq_ctx_new()
    }

    deinit { zmq_ctx_term(handle) }
}

/// The socket types KanbanBridge uses.
public enum SocketType: Int32, Sendable {
    case req = 3, rep = 4, dealer = 5, router = 6, pub = 1, sub = 2, stream = 11, pair = 0

    var raw: Int32 { rawValue }
}

/// A libzmq socket. Not thread-safe: use it from one thread only (libzmq's rule).
public final class ZMQSocket: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    // Keep the context alive as long as any socket exists.
    private let context: ZMQContext
    private var closed = false

    /// Opens a socket of `type` in `context`, with linger 0 so close never hangs.
    public init(_ context: ZMQContext, _ type: SocketType) throws {
        guard let h = zmq_socket(context.handle, type.raw) else { throw ZMQError("zmq_socket") }
        self.handle = h
        self.context = context
        try setInt(ZMQ_LINGER, 0)
    }

    deinit { close() }

    /// Closes the socket; safe to call twice.
    public func close() {
        if !closed { zmq_close(handle); closed = true }
    }

    /// Binds to `endpoint` (`tcp://127.0.0.1:*` picks a free port) and returns the bound endpoint.
    @discardableResult
    public func bind(_ endpoint: String) throws -> String {
        guard zmq_bind(handle, endpoint) == 0 else { throw ZMQError("bind \(endpoint)") }
        return try lastEndpoint()
    }

    /// Connects to `endpoint`; the connection itself is made in the background by libzmq.
    public func connect(_ endpoint: String) throws {
        guard zmq_connect(handle, endpoint) == 0 else { throw ZMQError("connect \(endpoint)") }
    }

    /// The endpoint this socket last bound to, with the real port.
    public func lastEndpoint() throws -> String {
        var buf = [CChar](repeating: 0, count: 512)
        var len = buf.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buf, &len) == 0 else {
            throw ZMQError("getsockopt ZMQ_LAST_ENDPOINT")
        }
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Sets an integer socket option (`ZMQ_LINGER`, `ZMQ_RCVTIMEO`, `ZMQ_SNDHWM`, …).
    public func setInt(_ option: Int32, _ value: Int32) throws {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else {
            throw ZMQError("setsockopt \(option)")
        }
    }

    /// Sets a 64-bit integer socket option (`ZMQ_MAXMSGSIZE`).
    public func setInt64(_ option: Int32, _ value: Int64) throws {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int64>.size) == 0 else {
            throw ZMQError("setsockopt \(option)")
        }
    }

    /// Sets a binary socket option (`ZMQ_SUBSCRIBE`, `ZMQ_ROUTING_ID`, …).
    public func setBytes(_ option: Int32, _ value: [UInt8]) throws {
        let rc = value.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, value.count) }
        guard rc == 0 else { throw ZMQError("setsockopt \(option)") }
    }

    /// Subscribes a SUB socket to messages whose first frame starts with `prefix` ("" for all).
    /// Publishes this socket's `events` (ZMQ_EVENT_* bits) on a PAIR socket bound at `endpoint`
    /// (inproc://), for a PAIR socket of the same context to read (`zmq_socket_monitor`).
    public func monitor(_ endpoint: String, events: Int32) throws {
        guard zmq_socket_monitor(handle, endpoint, events) == 0 else { throw ZMQError("zmq_socket_monitor") }
    }

    public func subscribe(_ prefix: String) throws { try setBytes(ZMQ_SUBSCRIBE, Array(prefix.utf8)) }

    /// Largest message libzmq accepts from a peer; a peer that sends more is disconnected.
    public func setMaxMessageSize(_ bytes: Int64) throws { try setInt64(ZMQ_MAXMSGSIZE, bytes) }
    /// Send high-water mark: messages queued per peer before libzmq drops (PUB) or blocks.
    public func setSendHighWaterMark(_ count: Int32) throws { try setInt(ZMQ_SNDHWM, count) }
    /// Receive high-water mark: messages queued per peer before libzmq stops reading.
    public func setReceiveHighWaterMark(_ count: Int32) throws { try setInt(ZMQ_RCVHWM, count) }
    /// ROUTER: fail a send to a vanished peer instead of dropping it silently.
    public func setRouterMandatory(_ on: Bool) throws { try setInt(ZMQ_ROUTER_MANDATORY, on ? 1 : 0) }
    /// Milliseconds to keep unsent messages after close (0 = drop at once).
    public func setLinger(ms: Int32) throws { try setInt(ZMQ_LINGER, ms) }

    /// Sets the receive timeout in milliseconds (-1 waits forever).
    public func setReceiveTimeout(ms: Int32) throws { try setInt(ZMQ_RCVTIMEO, ms) }
    /// Sets the send timeout in milliseconds (-1 waits forever).
    public func setSendTimeout(ms: Int32) throws { try setInt(ZMQ_SNDTIMEO, ms) }

    /// Sends one message of several frames. Throws `isAgain` when it would block past the timeout.
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws {
        for (i, frame) in frames.enumerated() {
            var flags: Int32 = i < frames.count - 1 ? ZMQ_SNDMORE : 0
            if dontWait { flags |= ZMQ_DONTWAIT }
            let rc = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, frame.count, flags) }
            guard rc >= 0 else { throw ZMQError("send") }
        }
    }

    /// Makes the socket take in what its I/O thread told it, such as a peer having read its queued
    /// messages. libzmq does so only every so often while a socket keeps sending, so a socket that
    /// answers fast can see a peer's queue as full when it is not. Asking for `ZMQ_EVENTS` processes
    /// those notices at once.
    public func catchUp() {
        var events: Int32 = 0
        var size = MemoryLayout<Int32>.size
        _ = zmq_getsockopt(handle, ZMQ_EVENTS, &events, &size)
    }

    /// Sends a single-frame string message.
    public func send(_ text: String) throws { try send([Array(text.utf8)]) }

    /// Receives one whole message (all its frames). Throws `isAgain` on timeout.
    public func receive(dontWait: Bool = false) throws -> [[UInt8]] {
        try receiveMessage(dontWait: dontWait).frames
    }

    /// Receives one whole message with the identity its connection authenticated as: the `User-Id`
    /// the ZAP handler gave the peer (nil on a socket without authentication).
    public func receiveMessage(dontWait: Bool = false) throws -> (frames: [[UInt8]], userID: String?) {
        var frames: [[UInt8]] = []
        var userID: String?
        var more = true
        while more {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            let rc = zmq_msg_recv(&msg, handle, dontWait ? ZMQ_DONTWAIT : 0)
            guard rc >= 0 else { throw ZMQError("receive") }
            let size = zmq_msg_size(&msg)
            if size > 0, let data = zmq_msg_data(&msg) {
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            } else {
                frames.append([])
            }
            if userID == nil, let id = zmq_msg_gets(&msg, "User-Id") { userID = String(cString: id) }
            more = zmq_msg_more(&msg) != 0
        }
        return (frames, userID)
    }

    /// Receives a message and decodes its last frame as UTF-8 (lossy), for simple clients.
    public func receiveString(dontWait: Bool = false) throws -> String {
        let frames = try receive(dontWait: dontWait)
        return String(decoding: frames.last ?? [], as: UTF8.self)
    }

    /// Waits until this socket has a message to read, up to `timeoutMs` (-1 forever).
    public func waitReadable(timeoutMs: Int) throws -> Bool {
        try Poller.poll([self], timeoutMs: timeoutMs).first ?? false
    }
}

/// `zmq_poll` over a set of sockets.
public enum Poller {
    /// Returns, for each socket, whether it is readable; waits at most `timeoutMs` (-1 forever).
    public static func poll(_ sockets: [ZMQSocket], timeoutMs: Int) throws -> [Bool] {
        try poll(sockets, fds: [], timeoutMs: timeoutMs)
    }

    /// The same over sockets and then plain file descriptors (a pipe another thread writes to wake
    /// the poller): one flag each, sockets first.
    public static func poll(_ sockets: [ZMQSocket], fds: [Int32], timeoutMs: Int) throws -> [Bool] {
        var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
            + fds.map { zmq_pollitem_t(socket: nil, fd: $0, events: Int16(ZMQ_POLLIN), revents: 0) }
        let rc = zmq_poll(&items, Int32(items.count), timeoutMs)
        if rc < 0 {
            let err = ZMQError("zmq_poll")
            if err.code == EINTR { return items.map { _ in false } }
            throw err
        }
        return items.map { ($0.revents & Int16(ZMQ_POLLIN)) != 0 }
    }
}

/// The libzmq version linked at run time, e.g. "4.3.4".
public func zmqVersion() -> String {
    var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
    zmq_version(&major, &minor, &patch)
    return "\(major).\(minor).\(patch)"
}
