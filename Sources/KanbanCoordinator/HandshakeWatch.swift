import CZeroMQ
import Foundation
import Logging
import ZeroMQ

/// Logs the event socket's refused handshakes that its ZAP handler never hears of: a subscriber that
/// shows no credential at all (ZeroMQ's NULL mechanism) against a PLAIN or CURVE socket fails the
/// handshake before ZAP is asked. Read from a socket monitor; one line at most every 10 s, with a count,
/// like the ZAP handler's refusals (a stranger could otherwise fill the log).
final class HandshakeWatch {
    static let failures = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
    static let refusal = "refused a subscriber: its handshake failed (it showed no credential, or not the kind this socket "
        + "takes: a token as its PLAIN password, or a registered CURVE key)"
    let socket: ZMQSocket
    private let log: Logger
    private var refusals = LogThrottle(intervalMs: 10_000)

    init(context: ZMQContext, watching publisher: ZMQSocket, log: Logger) throws {
        let endpoint = "inproc://kanban-bridge.events-handshakes"
        try publisher.monitor(endpoint, events: Self.failures)
        socket = try ZMQSocket(context, .pair)
        try socket.connect(endpoint)
        self.log = log
    }

    /// Reads what the monitor has queued, without waiting. Owner thread only.
    func drain(nowMs: Int64) {
        while let frames = try? socket.receive(dontWait: true) {
            // Frame 1: the event (16 bits) and its value (32 bits), little-endian; frame 2: the peer's endpoint.
            guard frames.count == 2, frames[0].count >= 2 else { continue }
            guard let count = refusals.due(nowMs: nowMs) else { continue }
            log.warning("\(Self.refusal)",
                        metadata: ["endpoint": "\(String(decoding: frames[1], as: UTF8.self))", "refused": "\(count)"])
        }
    }

    func close() { socket.close() }
}
