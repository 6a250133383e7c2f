import KanbanModel
import Logging
import ZeroMQ

/// The coordinator's CURVE settings.
public struct CurveServerSettings: Sendable {
    /// The coordinator's own keypair; clients are given its public key.
    public var serverKeys: CurveKeyPair
    /// Public keys that act as the admin.
    public var adminKeys: Set<String>
    /// When true (the default), event subscribers need a registered key too; when false any CURVE
    /// client may read the (still encrypted) event stream.
    public var restrictEvents: Bool

    public init(serverKeys: CurveKeyPair, adminKeys: Set<String>, restrictEvents: Bool = true) {
        self.serverKeys = serverKeys; self.adminKeys = adminKeys; self.restrictEvents = restrictEvents
    }
}

/// ZeroMQ's authentication protocol (ZAP, RFC 27), parsed and answered. Pure: the socket is in
/// `ZapHandler`, the decision in the closure the coordinator passes.
enum ZapProtocol {
    struct Request: Equatable {
        let requestID: [UInt8]
        let domain: String
        let address: String
        let mechanism: String
        /// The client's CURVE public key in Z85 (nil for other mechanisms).
        let clientKey: String?
    }

    /// Parses a ZAP request; nil when it is not a well-formed version 1.0 request.
    static func parse(_ frames: [[UInt8]]) -> Request? {
        guard frames.count >= 6, frames[0] == Array("1.0".utf8) else { return nil }
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        let key = mechanism == "CURVE" && frames.count == 7 ? Curve.z85(frames[6]) : nil
        return Request(requestID: frames[1], domain: String(decoding: frames[2], as: UTF8.self),
                       address: String(decoding: frames[3], as: UTF8.self), mechanism: mechanism, clientKey: key)
    }

    /// The reply: 200 with the client key as User-Id (the coordinator resolves it per request, so a
    /// key removed later stops working at once), or 400.
    static func reply(to request: Request, accepted: Bool) -> [[UInt8]] {
        [Array("1.0".utf8), request.requestID, Array((accepted ? "200" : "400").utf8),
         Array((accepted ? "OK" : "unknown key").utf8), Array((accepted ? request.clientKey ?? "" : "").utf8), []]
    }
}

/// Answers libzmq's ZAP requests on the coordinator's owner thread. Bound to the well-known inproc
/// endpoint before the CURVE sockets, so no handshake ever happens without it.
final class ZapHandler {
    static let endpoint = "inproc://zeromq.zap.01"
    static let commandsDomain = "kanban-commands"
    static let eventsDomain = "kanban-events"

    let socket: ZMQSocket
    private let log: Logger

    init(context: ZMQContext, log: Logger) throws {
        socket = try ZMQSocket(context, .rep)
        try socket.bind(Self.endpoint)
        self.log = log
    }

    /// Answers every pending request; `accepts(domain, key)` says whether that key may connect.
    func answerPending(accepts: (String, String) -> Bool) {
        while let frames = try? socket.receive(dontWait: true) {
            guard let request = ZapProtocol.parse(frames) else {
                // A REP socket must answer; an unparseable request gets a refusal of the same shape.
                try? socket.send([Array("1.0".utf8), frames.count > 1 ? frames[1] : [], Array("500".utf8),
                                  Array("malformed ZAP request".utf8), [], []])
                continue
            }
            let ok = request.clientKey.map { accepts(request.domain, $0) } ?? false
            if !ok {
                // Public keys are not secrets: logging them tells the operator whom to register.
                log.warning("refused a connection: its CURVE key is not registered", metadata: [
                    "socket": "\(request.domain)", "address": "\(request.address)", "key": "\(request.clientKey ?? request.mechanism)",
                ])
            }
            try? socket.send(ZapProtocol.reply(to: request, accepted: ok))
        }
    }
}
