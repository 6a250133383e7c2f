import Foundation
import KanbanModel
import KanbanProtocol
import KanbanStore
import Logging
import Synchronization
import ZeroMQ

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
    /// Where to serve `GET /metrics` (Prometheus text) over plain HTTP, e.g. `tcp://127.0.0.1:9464`.
    public var metricsEndpoint: String?
    public var version: String

    public init(commandEndpoint: String = Endpoints.command, eventEndpoint: String = Endpoints.events,
                adminToken: String, limits: DecodeLimits = DecodeLimits(), maxFrameBytes: Int64 = 16 << 20,
                defaultLeaseSeconds: Int = Lease.defaultSeconds, retry: RetryPolicy = RetryPolicy(),
                retryWindowMs: Int64 = 3_600_000, version: String = "0.1.0") {
        self.commandEndpoint = commandEndpoint; self.eventEndpoint = eventEndpoint; self.adminToken = adminToken
        self.limits = limits; self.maxFrameBytes = maxFrameBytes; self.defaultLeaseSeconds = defaultLeaseSeconds
        self.retry = retry
        self.retryWindowMs = retryWindowMs
        self.version = version
    }
}

/// The coordinator service: one owner thread runs the ROUTER and PUB sockets, every board write,
/// lease expiry and parked claims. ZeroMQ sockets are not thread-safe, and one writer keeps claim
/// ordering obvious, so nothing here takes a lock except the stop flag.
public final class Coordinator: @unchecked Sendable {
    private let config: CoordinatorConfig
    private let store: BoardStore
    private let clock: Clock
    private let log: Logger
    private let operations: Operations
    private let authenticator: Authenticator
    private let decoder: RequestDecoder
    private let dispatcher: Dispatcher?
    private let stopping = Atomic<Bool>(false)
    private let bound = Mutex<(command: String, events: String)?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    // Owned by the loop thread.
    private var router: ZMQSocket?
    private var publisher: ZMQSocket?
    private var zap: ZapHandler?
    private var metrics: MetricsEndpoint?
    /// Events published since start, by lane and type: the counters `/metrics` reports.
    private var eventsPublished: [PrometheusText.EventKey: Int] = [:]
    private var parked = ParkedClaims()
    private var lastPublishedSeq: Int64 = 0
    private var externalMarker: Int64?
    private var lastReplyPruneMs: Int64 = 0
    private var timersHeldUntilMs: Int64 = 0
    /// Replies held back until the batch they belong to has committed (nil outside a batch).
    private var outbox: Outbox?

    public init(config: CoordinatorConfig, store: BoardStore, clock: Clock = SystemClock(),
                logger: Logger = Logger(label: "kanban-bridge")) {
        self.config = config
        self.store = store
        self.clock = clock
        self.log = logger
        // Tokens minted for retryable requests are keyed by the admin token, which the board never holds.
        let tokenKey = SHA256.digest(Array("kanban-bridge token key v1|\(config.adminToken)".utf8))
        self.operations = Operations(store: store, clock: clock, defaultLeaseSeconds: config.defaultLeaseSeconds,
                                     version: config.version, tokenKey: tokenKey, hermesProfileDirs: config.hermesProfileDirs)
        var authenticator = Authenticator(adminToken: config.adminToken, store: store, key: tokenKey)
        authenticator.adminCurveKeys = config.curve?.adminKeys ?? []
        self.authenticator = authenticator
        self.decoder = RequestDecoder(limits: config.limits)
        if let settings = config.dispatch {
            let d = Dispatcher(store: store, operations: operations, authenticator: authenticator, settings: settings,
                               retry: config.retry, clock: clock, log: logger)
            operations.pruneWorkspaces = { [unowned d] lane in try d.prune(lane: lane) }
            dispatcher = d
        } else {
            dispatcher = nil
        }
    }

    /// The endpoints actually bound (with real port numbers), once the coordinator is listening.
    public var endpoints: (command: String, events: String)? { bound.withLock { $0 } }

    /// Starts the loop on its own thread and returns once both sockets are bound.
    public func start() throws -> (command: String, events: String) {
        let ready = DispatchSemaphore(value: 0)
        let failure = Mutex<Error?>(nil)
        let thread = Thread { [self] in
            do { try self.bindSockets() } catch {
                failure.withLock { $0 = error }
                ready.signal()
                self.finished.signal()
                return
            }
            ready.signal()
            self.loop()
        }
        thread.name = "kanban-bridge-coordinator"
        thread.start()
        ready.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        return endpoints!
    }

    /// Binds and runs the loop on the calling thread until `stop()`.
    public func run() throws {
        try bindSockets()
        loop()
    }

    /// Asks the loop to stop (safe from any thread, including a signal handler's dispatch source).
    public func stop() { stopping.store(true, ordering: .sequentiallyConsistent) }

    /// Stops and waits for the loop to finish (sockets closed, parked claims answered).
    public func stopAndWait() {
        stop()
        finished.wait()
        finished.signal()  // leave it signalled, so a second call returns at once
    }

    private func bindSockets() throws {
        let context = ZMQContext()
        if config.curve != nil { zap = try ZapHandler(context: context, log: log) }
        let router = try ZMQSocket(context, .router)
        if let curve = config.curve {
            try router.makeCurveServer(secretKey: curve.serverKeys.secretKey, zapDomain: ZapHandler.commandsDomain)
        }
        try router.setMaxMessageSize(config.maxFrameBytes)
        // Fail (rather than silently drop) a reply to a client that has gone: a claim sent into the
        // void would hold a task until its lease ran out, so we release it instead.
        try router.setRouterMandatory(true)
        let command = try router.bind(config.commandEndpoint)
        let publisher = try ZMQSocket(context, .pub)
        // A slow or dead subscriber costs at most this many queued messages; past it libzmq drops
        // (subscribers recover by replay). The coordinator never blocks on a subscriber.
        try publisher.setSendHighWaterMark(100_000)
        if let curve = config.curve {
            try publisher.makeCurveServer(secretKey: curve.serverKeys.secretKey, zapDomain: ZapHandler.eventsDomain)
        }
        let events = try publisher.bind(config.eventEndpoint)
        if let endpoint = config.metricsEndpoint { metrics = try MetricsEndpoint(context: context, endpoint: endpoint, log: log) }
        self.router = router
        self.publisher = publisher
        lastPublishedSeq = try store.lastEventSeq()
        // Catch up on what Hermes wrote while we were down (published once the loop starts).
        watchExternalChanges()
        dispatcher?.endpoints = (command, events)
        dispatcher?.curveServerKey = config.curve?.serverKeys.publicKey
        bound.withLock { $0 = (command, events) }
        log.info("listening", metadata: ["command": "\(command)", "events": "\(events)", "last_seq": "\(lastPublishedSeq)",
                                         "security": "\(config.curve == nil ? "tokens" : "CURVE")"])
        logClaims(when: "resuming")
    }

    /// Says what happens to every live claim: at start they resume (leases are wall-clock, so ones
    /// that ran out while we were down expire on the first tick); at stop they stay in force.
    private func logClaims(when: String) {
        guard let lanes = try? store.lanes() else { return }
        let now = clock.nowMs()
        let claims = lanes.flatMap { summary in summary.claims.map { (summary.lane.name, $0) } }
        log.info("\(when) \(claims.count) live claim(s)")
        for (lane, claim) in claims {
            let left = claim.leaseExpiresAtMs - now
            log.info("\(when) claim", metadata: [
                "lane": "\(lane)", "task": "\(claim.taskID)", "run": "\(claim.runID)",
                "lease": left > 0 ? "\(left / 1000)s left" : "expired \(-left / 1000)s ago; expiring now",
            ])
        }
    }

    // MARK: The loop

    private func loop() {
        defer { shutdown() }
        guard let router else { return }
        while !stopping.load(ordering: .sequentiallyConsistent) {
            let timeout = nextTimeoutMs()
            let readable: Bool
            do {
                let extra = [zap?.socket, metrics?.socket]
                let ready = try Poller.poll([router] + extra.compactMap { $0 }, timeoutMs: timeout)
                readable = ready[0]
                if zap != nil, ready[1] { answerZap() }
                if metrics != nil, ready[zap == nil ? 1 : 2] { metrics?.serve { renderMetrics() } }
            } catch {
                log.error("poll failed", metadata: ["error": "\(error)"])
                break
            }
            if readable {
                // Drain what has arrived, bounded so timers still run under a flood.
                var handled = 0
                while handled < 256 {
                    let batch = Outbox.drain(router, max: Outbox.maxBatch)
                    if batch.isEmpty { break }
                    handled += batch.count
                    handleTogether(batch)
                    publishNewEvents()
                }
            }
            runTimers()
        }
    }

    /// How often an idle loop looks for `stop()` and for commits by other programs (the change watcher).
    static let idleWakeMs: Int64 = 100

    /// Sleep until the nearest deadline (parked claim or lease), but no longer than `idleWakeMs`.
    private func nextTimeoutMs() -> Int {
        let now = clock.nowMs()
        var deadline = now + Self.idleWakeMs
        if let d = parked.nextDeadline { deadline = min(deadline, d) }
        if let d = try? store.nextTimerDue() { deadline = min(deadline, max(d, timersHeldUntilMs)) }
        return Int(max(0, min(Self.idleWakeMs, deadline - now)))
    }

    /// The change watcher: when another program (Hermes' CLI or dispatcher) has committed to the
    /// board, mirror its new `task_events` into our stream. Publishing them wakes parked claims.
    private func watchExternalChanges() {
        guard let marker = try? store.externalChangeMarker(), marker != externalMarker else { return }
        externalMarker = marker
        do {
            let n = try store.importExternalEvents(nowMs: clock.nowMs())
            if n > 0 { log.info("picked up changes another program made to the board", metadata: ["events": "\(n)"]) }
        } catch {
            log.error("could not read changes made by another program", metadata: ["error": "\(error)"])
        }
    }

    private func runTimers() {
        watchExternalChanges()
        dispatcher?.tick()
        let now = clock.nowMs()
        if let next = try? store.nextTimerDue(), next <= now, now >= timersHeldUntilMs {
            do {
                let expired = try store.expireLeases(nowMs: now, retry: config.retry)
                if expired > 0 { log.notice("leases expired; their tasks were retried or given up", metadata: ["count": "\(expired)"]) }
                let ready = try store.endBackoffs(nowMs: now)
                if ready > 0 { log.info("retry backoff over; tasks claimable again", metadata: ["count": "\(ready)"]) }
            } catch {
                // Try again in a second rather than spin on a board that cannot be written right now.
                timersHeldUntilMs = now + 1000
                log.error("lease expiry failed; retrying in 1 s", metadata: ["error": "\(error)"])
            }
        }
        if now - lastReplyPruneMs > 60_000 {
            lastReplyPruneMs = now
            _ = try? store.forgetReplies(beforeMs: now - config.retryWindowMs)
        }
        for entry in parked.takeExpired(nowMs: now) {
            send(entry.envelope, Reply.ok(Operations.noTask))
        }
        publishNewEvents()
    }

    // MARK: Requests

    /// The `/metrics` page: the board now, claim latencies over the last five minutes, event counters.
    private func renderMetrics() -> String {
        let now = clock.nowMs()
        guard let stats = try? store.stats(sinceMs: now - 300_000, nowMs: now) else { return "# the board could not be read\n" }
        return PrometheusText.render(stats, windowSeconds: 300, eventsPublished: eventsPublished, lastSeq: lastPublishedSeq)
    }

    /// CURVE handshakes: commands need a key that is the admin's or a lane's; events too, unless
    /// the coordinator lets any key subscribe.
    private func answerZap() {
        let restrictEvents = config.curve?.restrictEvents ?? true
        zap?.answerPending { domain, key in
            if domain == ZapHandler.eventsDomain && !restrictEvents { return true }
            return authenticator.principal(forCurveKey: key) != nil
        }
    }

    /// Group commit: the requests that were already waiting run in one transaction and their replies
    /// go out after its single COMMIT (one fsync for all of them), so no `ok` leaves before its change
    /// is durable. Nothing waits for company: a lone request is a batch of one. Each request's writes
    /// are savepoints (`atomically` nests), so a refused request undoes only its own.
    private func handleTogether(_ batch: [Outbox.Request]) {
        outbox = Outbox()
        defer { outbox = nil }
        do {
            try store.atomically { for request in batch { handle(request.frames, curveKey: request.curveKey) } }
        } catch {
            // The COMMIT failed: nothing of the batch is on disk, so nobody may hear `ok`. (A claim
            // parked by the batch stays parked: parking wrote nothing.)
            log.error("a batch of requests could not be committed", metadata: ["requests": "\(batch.count)", "error": "\(error)"])
            for pending in outbox?.replies ?? [] {
                send(pending.envelope, Reply.error(WireError(.internal, "the board could not be written; retry with the same request_id")),
                     now: true)
            }
            return
        }
        for pending in outbox?.replies ?? [] where !send(pending.envelope, pending.reply, now: true) {
            if let grant = pending.undeliverableClaim { releaseUndelivered(grant) }
        }
    }

    private func handle(_ frames: [[UInt8]], curveKey: String?) {
        // ROUTER frames: routing id(s), the empty delimiter REQ adds, then the body.
        guard let delimiter = frames.firstIndex(where: \.isEmpty), delimiter > 0 else {
            log.warning("dropped a message without an envelope delimiter (not a REQ or DEALER+delimiter peer)")
            return
        }
        let envelope = Array(frames[...delimiter])
        let body = frames[(delimiter + 1)...]
        guard body.count == 1, let frame = body.first else {
            send(envelope, Reply.error(WireError(.badRequest, "a request is exactly one frame of JSON; got \(body.count)")))
            return
        }
        let decoded: DecodedRequest
        do { decoded = try decoder.decode(frame) } catch {
            log.debug("bad request", metadata: ["code": "\(error.code.rawValue)", "reason": "\(error.message)"])
            send(envelope, Reply.error(error))
            return
        }
        // With CURVE the connection's key says who the caller is; whatever `auth` holds is ignored.
        let principal = config.curve == nil ? authenticator.principal(for: decoded.auth) : authenticator.principal(forCurveKey: curveKey)
        if let refusal = AccessPolicy.check(principal, decoded.request) {
            log.info("refused", metadata: ["op": "\(decoded.op)", "code": "\(refusal.code.rawValue)", "principal": "\(principal?.key ?? "none")"])
            send(envelope, Reply.error(refusal))
            return
        }
        let caller = principal ?? .admin  // only `ping` reaches here without a principal
        let outcome: Outcome
        if let requestID = decoded.requestID, decoded.request.isMutation {
            guard let remembered = handleOnce(decoded.request, as: caller, requestID: requestID) else {
                send(envelope, Reply.error(WireError(.internal, "the board could not be written; retry with the same request_id")))
                return
            }
            if case .replayed(let reply) = remembered {
                log.info("repeat of an answered request; sent the first reply again", metadata: ["op": "\(decoded.op)", "principal": "\(caller.key)"])
                send(envelope, reply)
                return
            }
            guard case .fresh(let o) = remembered else { return }
            outcome = o
        } else {
            outcome = operations.handle(decoded.request, as: caller)
        }
        switch outcome {
        case .result(let result):
            if decoded.request.isMutation { log.info("ok", metadata: ["op": "\(decoded.op)", "principal": "\(caller.key)"]) }
            send(envelope, Reply.ok(result))
        case .failure(let error):
            log.info("failed", metadata: ["op": "\(decoded.op)", "code": "\(error.code.rawValue)", "principal": "\(caller.key)"])
            send(envelope, Reply.error(error))
        case .claimed(let grant):
            deliver(grant, to: envelope, retryable: decoded.requestID != nil)
        case .chained(let result, let grant):
            deliver(grant, to: envelope, retryable: decoded.requestID != nil, reply: Reply.ok(result))
        case .park(let request):
            parked.park(.init(envelope: envelope, request: request, deadlineMs: clock.nowMs() + Int64(request.waitMs)))
        }
    }

    private enum Remembered {
        case fresh(Outcome)
        case replayed([UInt8])
    }

    /// Safe retries: runs a mutation and records its reply under (principal, request_id) in one
    /// transaction, or returns the reply recorded the first time. Nil if the board could not be written.
    private func handleOnce(_ request: Request, as caller: Principal, requestID: String) -> Remembered? {
        let now = clock.nowMs()
        do {
            return try store.atomically { () throws -> Remembered in
                let seed = "\(caller.key)|\(requestID)"
                if let saved = try store.savedReply(principal: caller.key, requestID: requestID, sinceMs: now - config.retryWindowMs) {
                    return .replayed(StoredReply.restored(saved) { prefix in operations.mintToken(prefix: prefix, seed: seed) })
                }
                let outcome = operations.handle(request, as: caller, tokenSeed: seed)
                let reply: [UInt8]
                switch outcome {
                case .result(let r): reply = Reply.ok(r)
                case .claimed(let g): reply = Reply.ok(WireFormat.claim(g))
                case .chained(let r, _): reply = Reply.ok(r)
                // Not remembered: an internal failure changed nothing and is worth retrying; a parked
                // claim is answered later (a retry parks again; an undeliverable grant is released).
                case .failure(let e) where e.code == .internal: return .fresh(outcome)
                case .park: return .fresh(outcome)
                case .failure(let e): reply = Reply.error(e)
                }
                try store.saveReply(principal: caller.key, requestID: requestID, reply: StoredReply.redacted(reply), nowMs: now)
                return .fresh(outcome)
            }
        } catch {
            log.error("could not record a request", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Sends a granted claim. If the client has gone and could not get it by retrying (no
    /// request_id), releases the claim at once so the task is not held by nobody until its lease ends.
    private func deliver(_ grant: ClaimGrant, to envelope: [[UInt8]], retryable: Bool = false, reply: [UInt8]? = nil) {
        log.info("claimed", metadata: ["task": "\(grant.task.id)", "lane": "\(grant.task.assignee ?? "?")", "run": "\(grant.runID)"])
        let reply = reply ?? Reply.ok(WireFormat.claim(grant))
        if outbox != nil {
            outbox?.hold(envelope, reply, undeliverableClaim: retryable ? nil : grant)
            return
        }
        if send(envelope, reply) || retryable { return }
        releaseUndelivered(grant)
    }

    private func releaseUndelivered(_ grant: ClaimGrant) {
        let proof = ClaimProof(principal: .admin, taskID: grant.task.id, tokenHash: Secrets.hash(grant.token))
        do {
            _ = try store.endClaim(proof, .release(reason: "client went away before the claim reached it"), nowMs: clock.nowMs())
            log.notice("released an undeliverable claim", metadata: ["task": "\(grant.task.id)", "run": "\(grant.runID)"])
        } catch {
            log.error("could not release an undeliverable claim", metadata: ["task": "\(grant.task.id)", "error": "\(error)"])
        }
    }

    /// Sends a reply, or holds it in the outbox while a batch is open (`now` sends regardless).
    @discardableResult
    private func send(_ envelope: [[UInt8]], _ reply: [UInt8], now: Bool = false) -> Bool {
        if !now, outbox != nil {
            outbox?.hold(envelope, reply, undeliverableClaim: nil)
            return true
        }
        do {
            try router?.send(envelope + [reply], dontWait: true)
            return true
        } catch {
            log.debug("reply not delivered (client gone)", metadata: ["error": "\(error)"])
            return false
        }
    }

    // MARK: Events

    /// Publishes every committed event not yet sent, in `seq` order; then offers work to parked
    /// claims of the lanes those events touched (which may commit and publish more).
    private func publishNewEvents() {
        var touched: Set<String> = []
        while true {
            while let batch = try? store.events(since: lastPublishedSeq, limit: 1000, lane: nil), !batch.isEmpty {
                for event in batch {
                    let body = Reply.encode(WireFormat.event(event))
                    try? publisher?.send([Array(event.topic.utf8), body], dontWait: true)
                    lastPublishedSeq = event.seq
                    eventsPublished[PrometheusText.EventKey(lane: event.lane ?? "_", type: event.type), default: 0] += 1
                    if let lane = event.lane { touched.insert(lane) }
                }
            }
            if parked.isEmpty || touched.isEmpty { return }
            let lanes = touched
            touched = []
            serveParked(lanes: lanes)
        }
    }

    private func serveParked(lanes: Set<String>) {
        parked.serve(lanes: lanes) { entry in
            do {
                guard let grant = try operations.claim(entry.request) else { return false }
                deliver(grant, to: entry.envelope)
                return true
            } catch BoardError.laneFull {
                return false  // keep waiting: a slot may free before the deadline
            } catch let error as BoardError {
                send(entry.envelope, Reply.error(Operations.wireError(error)))
                return true
            } catch {
                send(entry.envelope, Reply.error(WireError(.internal, "claim failed: \(type(of: error))")))
                return true
            }
        }
    }

    private func shutdown() {
        let waiting = parked.takeExpired(nowMs: .max)
        for entry in waiting { send(entry.envelope, Reply.ok(Operations.noTask)) }
        dispatcher?.shutdown()
        publishNewEvents()
        logClaims(when: "leaving in force (leases keep running)")
        router?.close()
        publisher?.close()
        zap?.socket.close()
        zap = nil
        metrics?.socket.close()
        metrics = nil
        router = nil
        publisher = nil
        log.info("stopped", metadata: ["answered_parked_claims": "\(waiting.count)", "last_seq": "\(lastPublishedSeq)"])
        finished.signal()
    }
}
