import KanbanModel
import KanbanProtocol

/// How a coordinator listens and what it accepts.
public struct CoordinatorConfig: Sendable {
    /// ROUTER endpoint for requests (`tcp://127.0.0.1:*` picks a free port).
    public var commandEndpoint: String
    /// PUB endpoint for events.
    public var eventEndpoint: String
    public var adminToken: String
    public var limits: DecodeLimits
    /// Hard ceiling enforced by libzmq itself: a peer that sends a bigger frame is disconnected and the
    /// frame never reaches us. Frames between `limits.maxRequestBytes` and this get a `too_large` reply.
    public var maxFrameBytes: Int64
    public var defaultLeaseSeconds: Int
    /// What happens to a task whose lease ran out: retried (maybe after a backoff) or given up.
    public var retry: RetryPolicy
    /// Where spawned workers log and work; nil runs no dispatcher (spawn and pool lanes then wait).
    public var dispatch: DispatchSettings?
    /// Where Hermes keeps profiles; lanes may not take a profile's name.
    public var hermesProfileDirs: [String] = []
    /// How long a mutating request's reply is kept for retries with the same `request_id`.
    public var retryWindowMs: Int64
    /// CURVE on both sockets, with a ZAP handler that admits only registered keys; nil: tokens.
    public var curve: CurveServerSettings?
    /// How long a write waits for another program's write lock when its request names no
    /// `timeout_ms`; then it is answered `busy`. The loop goes on serving meanwhile.
    public var writeWaitMs: Int = 4000
    /// The longest one attempt to take the board's write lock may hold up the loop.
    public var lockWaitMs: Int = 20
    public var version: String

    public init(commandEndpoint: String = Endpoints.command, eventEndpoint: String = Endpoints.events,
                adminToken: String, limits: DecodeLimits = DecodeLimits(), maxFrameBytes: Int64 = 2 << 20,
                defaultLeaseSeconds: Int = Lease.defaultSeconds, retry: RetryPolicy = RetryPolicy(),
                retryWindowMs: Int64 = 3_600_000, version: String = "0.1.0") {
        self.commandEndpoint = commandEndpoint; self.eventEndpoint = eventEndpoint; self.adminToken = adminToken
        self.limits = limits; self.maxFrameBytes = maxFrameBytes; self.defaultLeaseSeconds = defaultLeaseSeconds
        self.retry = retry
        self.retryWindowMs = retryWindowMs
        self.version = version
    }
}
