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
    /// What the client presented in its handshake.
    enum Credential: Equatable {
        /// A CURVE public key in Z85.
        case curveKey(String)
        /// PLAIN: the password is a token (admin, lane or worker); the user name is not looked at.
        case token(String)
        /// Another mechanism, or a malformed credential.
        case none
    }

    struct Request: Equatable {
        let requestID: [UInt8]
        let domain: String
        let address: String
        let mechanism: String
        let credential: Credential
    }

    /// Parses a ZAP request; nil when it is not a well-formed version 1.0 request.
    static func parse(_ frames: [[UInt8]]) -> Request? {
        guard frames.count >= 6, frames[0] == Array("1.0".utf8) else { return nil }
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        var credential = Credential.none
        if mechanism == "CURVE", frames.count == 7, let key = Curve.z85(frames[6]) { credential = .curveKey(key) }
        if mechanism == "PLAIN", frames.count == 8, let password = String(validating: frames[7], as: UTF8.self) {
            credential = .token(password)
        }
        return Request(requestID: frames[1], domain: String(decoding: frames[2], as: UTF8.self),
                       address: String(decoding: frames[3], as: UTF8.self), mechanism: mechanism, credential: credential)
    }

    /// The reply: 200 with `userID` as User-Id (for CURVE the client key, which the coordinator
    /// resolves per request, so a key removed later stops working at once), or 400.
    static func reply(to request: Request, userID: String?) -> [[UInt8]] {
        [Array("1.0".utf8), request.requestID, Array((userID != nil ? "200" : "400").utf8),
         Array((userID != nil ? "OK" : "unknown credential").utf8), Array((userID ?? "").utf8), []]
    }
}

/// Answers libzmq's ZAP requests on the coordinator's owner thread. Bound to the well-known inproc
/// endpoint before the CURVE or PLAIN sockets, so no handshake ever happens without it.
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

    /// Answers every pending request; `admit(domain, credential)` returns the User-Id to give the
    /// connection, or nil to refuse it. At most `max` per call, so a flood of handshakes cannot hold
    /// up the loop (the rest wait in the socket for the next turn).
    func answerPending(max: Int = 64, admit: (String, ZapProtocol.Credential) -> String?) {
        var answered = 0
        while answered < max, let frames = try? socket.receive(dontWait: true) {
            answered += 1
            guard let request = ZapProtocol.parse(frames) else {
                // A REP socket must answer; an unparseable request gets a refusal of the same shape.
                try? socket.send([Array("1.0".utf8), frames.count > 1 ? frames[1] : [], Array("500".utf8),
                                  Array("malformed ZAP request".utf8), [], []])
                continue
            }
            let userID = request.credential == .none ? nil : admit(request.domain, request.credential)
            if userID == nil { noteRefusal(request) }
            try? socket.send(ZapProtocol.reply(to: request, userID: userID))
        }
    }

    private var refusals = LogThrottle(intervalMs: 10_000)

    /// One line per refused handshake would let anyone fill the log: at most one every 10 s, with a count.
    private func noteRefusal(_ request: ZapProtocol.Request) {
        guard let count = refusals.due(nowMs: SystemClock().nowMs()) else { return }
        var metadata: Logger.Metadata = ["socket": "\(request.domain)", "address": "\(request.address)",
                                         "mechanism": "\(request.mechanism)", "refused": "\(count)"]
        // Public keys are not secrets: logging them tells the operator whom to register. Tokens are.
        if case .curveKey(let key) = request.credential { metadata["key"] = "\(key)" }
        log.warning("refused a connection: its credential is not registered", metadata: metadata)
    }
}
