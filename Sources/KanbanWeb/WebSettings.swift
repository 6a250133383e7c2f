import KanbanModel

/// How the HTTP face is run: where it listens, which coordinator it is a client of, and with what.
public struct WebSettings: Sendable {
    public var bind: HTTPBind
    /// The coordinator's command (REQ) endpoint.
    public var commandEndpoint: String
    /// The coordinator's event (PUB) endpoint.
    public var eventEndpoint: String
    /// The HTTP face's own credential (admin or lane token): it subscribes to events and answers
    /// `/healthz` with it. Sessions act with their own tokens, never with this one.
    public var token: String?
    /// Listen beyond loopback without TLS in front (refused otherwise).
    public var insecureRemote = false
    /// Mark the session cookie `Secure` (set it when TLS terminates in front of us).
    public var cookieSecure = false
    /// Hermes' dispatcher caps as `/api/lanes` shows them, or null when not known here.
    public var hermesCaps: JSONValue = .null
    /// Threads (each with its own REQ socket) that carry API calls to the coordinator.
    public var wireThreads = 4
    /// Seconds without a byte from a client before its connection is closed (slow or stuck clients).
    public var idleTimeoutSeconds: Int64 = 30
    /// Seconds between `: keepalive` comments on SSE streams.
    public var keepaliveSeconds: Double = 15
    /// Most SSE streams open at once; more get 503.
    public var maxStreams = 256

    public init(bind: HTTPBind, commandEndpoint: String, eventEndpoint: String, token: String?) {
        self.bind = bind; self.commandEndpoint = commandEndpoint; self.eventEndpoint = eventEndpoint; self.token = token
    }

    /// Nil when the bind is allowed, else why not (loopback only, unless `insecureRemote`).
    public var bindRefusal: String? {
        guard !bind.isLoopback, !insecureRemote else { return nil }
        return "refusing to serve HTTP on \(bind): beyond this machine, session cookies and tokens would cross the network "
            + "in clear text. Bind to 127.0.0.1 and put a TLS proxy in front (see docs/SECURITY.md, \"The HTTP face\"; "
            + "pass --cookie-secure there), or pass --insecure-remote if the network is trusted."
    }
}

