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

/// The coordinator service: one owner thread runs the ROUTER and PUB sockets, every board write,
/// lease expiry and parked claims. ZeroMQ sockets are not thread-safe, and one writer keeps claim
/// ordering obvious, so nothing here takes a lock except the stop flag.
public final class Coordinator: @unchecked Sendable {
    let config: CoordinatorConfig
    let store: BoardStore
    /// Wall time for what is stored and shown; monotonic time for leases and other durations.
    let clock: CoordinatorClock
    let log: Logger
    let operations: Operations
    let authenticator: Authenticator
    let decoder: RequestDecoder
    let dispatcher: Dispatcher?
    let stopping = Atomic<Bool>(false)
    /// How many claims are parked, as of the end of the loop's last turn. Readable from any thread:
    /// tests wait until a claim has parked instead of sleeping and hoping it did.
    public var parkedClaimCount: Int { parkedCount.load(ordering: .acquiring) }
    private let parkedCount = Atomic<Int>(0)
    let bound = Mutex<(command: String, events: String)?>(nil)
    let finished = DispatchSemaphore(value: 0)

    // Owned by the loop thread.
    var router: ZMQSocket?
    var publisher: ZMQSocket?
    var zap: ZapHandler?
    var parked = ParkedClaims()
    var lastPublishedSeq: Int64 = 0
    var externalMarker: Int64?
    /// When the change watcher may next ask (see `watchExternalChanges`).
    var nextExternalCheckNs: UInt64 = 0
    var lastReplyPruneMs: Int64 = 0
    var lastTrimMs: Int64 = 0
    /// Timers (lease expiry, backoffs) wait until this monotonic time after a failed write.
    var timersHeldUntilMs: Int64 = 0
    /// Live leases' deadlines on monotonic time (Coordinator+Leases.swift).
    var leases = LeaseDeadlines()
    /// Notices a stepped wall clock, after which stored expiries are restated.
    var wallWatch = WallClockWatch()
    /// Set when a stall of the loop extended the leases: their stored expiries are restated next.
    var leasesPostponed = false
    /// Holds lease expiry after a stall of the loop until queued requests are read.
    var stallGrace = StallGrace()
    /// Whether this turn read the command socket dry (expiry after a stall waits for it).
    var socketDrained = true
    /// When this loop turn began, on the coordinator's monotonic clock: every write whose event the
    /// turn reads was made after it (`noteLeaseEvents`).
    var turnBeganMs: Int64 = 0
    /// Replies held back until the batch they belong to has committed (nil outside a batch).
    var outbox: Outbox?
    /// Writes waiting for the board's write lock (another program may hold it).
    var writes = WriteQueue()
    /// Lanes whose parked claims could not be offered work because the board was locked.
    var parkedRetry: Set<String> = []
    /// Runs handed to the dispatcher, whose leases the core keeps while their workers live.
    var spawnedRuns = SpawnedRuns()
    var lastDispatchScanMs: Int64 = 0
    /// When Hermes' liveness fields of live claims were last refreshed (see `refreshLiveness`).
    var lastLivenessRefreshMs: Int64 = 0
    /// Messages without a REQ delimiter: logged at most every 10 s (a peer can send them at will).
    var malformedEnvelopes = LogThrottle(intervalMs: 10_000)
    var dispatchRound = 0
    /// Integrity check, inconsistencies, promotions left for later turns (Coordinator+Health.swift).
    var health = HealthWatch()
    var lastTakenCheckMs: Int64 = 0

    public init(config: CoordinatorConfig, store: BoardStore, clock: CoordinatorClock = SystemClock(),
                logger: Logger = Logger(label: "kanban-bridge")) {
        self.config = config
        self.store = store
        self.clock = clock
        self.log = logger
        // Tokens minted for retryable requests are keyed by the admin token, which the board never holds.
        let tokenKey = Secrets.sha256(Array("kanban-bridge token key v1|\(config.adminToken)".utf8))
        self.operations = Operations(store: store, clock: clock, defaultLeaseSeconds: config.defaultLeaseSeconds,
                                     version: config.version, tokenKey: tokenKey, hermesProfileDirs: config.hermesProfileDirs)
        var authenticator = Authenticator(adminToken: config.adminToken, store: store, key: tokenKey)
        authenticator.adminCurveKeys = config.curve?.adminKeys ?? []
        self.authenticator = authenticator
        self.decoder = RequestDecoder(limits: config.limits)
        dispatcher = config.dispatch.map { Dispatcher(settings: $0, clock: clock, log: logger) }
        // The loop never waits on another program's lock for longer than this (see WriteQueue).
        store.limitLockWait(ms: config.lockWaitMs)
        if dispatcher != nil {
            operations.pruneWorkspaces = { [unowned self] lane in try self.queuePrune(lane: lane) }
        }
        operations.workerLogDir = config.dispatch?.logDir
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

    /// Waits until the loop has finished (after `stop()`, from a signal or elsewhere), for a caller
    /// that started it with `start()` and has other services to stop afterwards.
    public func waitUntilFinished() {
        finished.wait()
        finished.signal()
    }

    /// Stops and waits for the loop to finish (sockets closed, parked claims answered).
    public func stopAndWait() {
        stop()
        finished.wait()
        finished.signal()  // leave it signalled, so a second call returns at once
    }

    func bindSockets() throws {
        let context = ZMQContext()
        // Every handshake on either socket is decided here (CURVE keys, or PLAIN tokens on events).
        zap = try ZapHandler(context: context, log: log)
        let router = try ZMQSocket(context, .router)
        if let curve = config.curve {
            try router.makeCurveServer(secretKey: curve.serverKeys.secretKey, zapDomain: ZapHandler.commandsDomain)
        }
        try router.setMaxMessageSize(config.maxFrameBytes)
        // Memory per peer stays bounded whatever it does. A REQ client has one request in flight and one
        // reply due; a DEALER may pipeline more. Past `perPeerRequests` libzmq stops reading from that
        // peer (TCP pushes back: nothing is lost), and past `perPeerMessages` replies it does not read
        // are dropped (it resends with its request_id). Requests are bounded tighter because they may
        // be megabytes: four peers flooding 1 MB pings once queued 215 MB at 64 each.
        try router.setReceiveHighWaterMark(Self.perPeerRequests)
        try router.setSendHighWaterMark(Self.perPeerMessages)
        // Fail (rather than silently drop) a reply to a client that has gone: a claim sent into the
        // void would hold a task until its lease ran out, so we release it instead.
        try router.setRouterMandatory(true)
        let command = try router.bind(config.commandEndpoint)
        let publisher = try ZMQSocket(context, .pub)
        // A slow or dead subscriber costs at most this many queued messages; past it libzmq drops
        // (subscribers recover by replay). The coordinator never blocks on a subscriber. Events are
        // small (notes, reasons and results are capped, docs/PROTOCOL.md) and shared between
        // subscribers, so this bounds the memory a stalled subscriber can hold.
        try publisher.setSendHighWaterMark(2_000)
        if let curve = config.curve {
            try publisher.makeCurveServer(secretKey: curve.serverKeys.secretKey, zapDomain: ZapHandler.eventsDomain)
        } else {
            // Events carry notes, reasons and results: a subscriber shows a token first (PLAIN).
            try publisher.makePlainServer(zapDomain: ZapHandler.eventsDomain)
        }
        let events = try publisher.bind(config.eventEndpoint)
        self.router = router
        self.publisher = publisher
        lastPublishedSeq = try store.lastEventSeq()
        // Catch up on what Hermes wrote while we were down (published once the loop starts).
        watchExternalChanges()
        bound.withLock { $0 = (command, events) }
        log.info("listening", metadata: ["command": "\(command)", "events": "\(events)", "last_seq": "\(lastPublishedSeq)",
                                         "security": "\(config.curve == nil ? "tokens" : "CURVE")"])
        logClaims(when: "resuming")
        loadLeases()
        dispatcher?.start()
        recoverOrphans()
    }

    /// Says what happens to every live claim: at start they resume (a stored expiry is wall-clock, so
    /// ones that ran out while we were down expire once the first turn has read what is queued); at
    /// stop they stay in force.
    func logClaims(when: String) {
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

    func loop() {
        defer { shutdown() }
        guard let router else { return }
        while !stopping.load(ordering: .sequentiallyConsistent) {
            let timeout = nextTimeoutMs()
            let readable: Bool
            do {
                let extra = [zap?.socket]
                let fds = dispatcher.map { [$0.reports.wakeFD] } ?? []
                let ready = try Poller.poll([router] + extra.compactMap { $0 }, fds: fds, timeoutMs: timeout)
                readable = ready[0]
                noteTurn()
            if zap != nil, ready[1] { answerZap() }
            } catch {
                log.error("poll failed", metadata: ["error": "\(error)"])
                break
            }
            socketDrained = !readable
            if readable {
                // Drain what has arrived in small bites, for at most `turnBudgetNs`: reads are answered as
                // they come, writes are group-committed at the end of the turn (or once a batch is full).
                // ROUTER reads its peers round-robin, so a peer that floods gets its share of a turn, and
                // everyone else is answered within a turn or two.
                let turnStart = DispatchTime.now().uptimeNanoseconds
                var handled = 0
                while handled < 256 {
                    let batch = Outbox.drain(router, max: 1)
                    if batch.isEmpty {
                        socketDrained = true
                        break
                    }
                    handled += batch.count
                    handleArrivals(batch)
                    if writes.pending.count >= Outbox.maxBatch { flushWrites() }
                    if DispatchTime.now().uptimeNanoseconds - turnStart > Self.turnBudgetNs { break }
                }
                flushWrites()
                publishNewEvents()
            }
            runTimers()
            parkedCount.store(parked.entries.count, ordering: .releasing)
        }
    }

    /// How often, at most, the change watcher asks SQLite whether another program committed.
    static let externalCheckNs: UInt64 = 10_000_000

    /// How long one turn of the loop may spend on arrived requests before timers and the poll run again.
    static let turnBudgetNs: UInt64 = 10_000_000

    /// Requests queued, and replies waiting, per peer (see bindSockets).
    static let perPeerMessages: Int32 = 64

    /// Requests queued per peer before libzmq stops reading from it (see bindSockets).
    static let perPeerRequests: Int32 = 16

    /// How often an idle loop looks for `stop()` and for commits by other programs (the change watcher).
    static let idleWakeMs: Int64 = 100

    /// Sleep until the nearest deadline (parked claim, waiting write, lease, renewal, backoff), but no
    /// longer than `idleWakeMs`.
    func nextTimeoutMs() -> Int {
        let now = clock.nowMs()
        var deadline = now + timerWaitMs(cap: Self.idleWakeMs)
        if let d = parked.nextDeadline { deadline = min(deadline, d) }
        if let d = writes.nextWakeMs { deadline = min(deadline, d) }
        if store.hasPendingPromotions, writes.mayWrite(nowMs: now) { deadline = min(deadline, max(now, health.promotionsHeldUntilMs)) }
        return Int(max(0, min(Self.idleWakeMs, deadline - now)))
    }

    /// The change watcher: when another program (Hermes' CLI or dispatcher) has committed to the
    /// board, mirror its new `task_events` into our stream. Publishing them wakes parked claims.
    func watchExternalChanges() {
        // At most every `externalCheckNs`: a busy loop turns over every millisecond or so, and Hermes'
        // writes need not be seen sooner than that (an idle loop wakes every `idleWakeMs` anyway).
        // (Real time, not the injected clock: this paces work, it is not a board time.)
        let now = DispatchTime.now().uptimeNanoseconds
        guard now >= nextExternalCheckNs else { return }
        nextExternalCheckNs = now + Self.externalCheckNs
        // Only a store that other programs write has a change feed (SQLite: Hermes writes the file).
        guard let feed = store.changeFeed, let marker = try? feed.externalChangeMarker(), marker != externalMarker else { return }
        // Importing writes (the published stream's rows): while the board is locked it waits, and the
        // marker is only moved once it went through, so nothing is skipped.
        guard let n = attemptWrite("import changes another program made", { try feed.importExternalEvents(nowMs: clock.nowMs()) })
        else { return }
        externalMarker = marker
        if n > 0 { log.info("picked up changes another program made to the board", metadata: ["events": "\(n)"]) }
    }

    func runTimers() {
        flushWrites()
        watchExternalChanges()
        applyDispatchReports()
        keepSpawnedLeases()
        stopWorkersOfTakenRuns()
        dispatchWork()
        restateLeasesIfWallStepped()
        publishNewEvents()  // leases renewed above are followed before anything expires
        expireDueLeases()
        endDueBackoffs()
        keepBoardHealthy()
        let now = clock.nowMs()
        if now - lastLivenessRefreshMs >= 60_000, attemptWrite("keep Hermes' liveness fields of live claims fresh", {
            try store.refreshLiveness(nowMs: now, staleAfterS: 1800) }) != nil {
            lastLivenessRefreshMs = now
        }
        if now - lastTrimMs >= MemoryHygiene.trimEveryMs {
            lastTrimMs = now
            MemoryHygiene.trim()
        }
        if now - lastReplyPruneMs > 60_000 {
            lastReplyPruneMs = now  // a locked board just means the next try, a minute later
            _ = attemptWrite("forget old replies") { try store.forgetReplies(beforeMs: now - config.retryWindowMs) }
        }
        for entry in parked.takeExpired(nowMs: now) {
            send(entry.envelope, Reply.ok(Operations.noTask))
        }
        if !parkedRetry.isEmpty, writes.mayWrite(nowMs: now) {
            let lanes = parkedRetry
            parkedRetry = []
            serveParked(lanes: lanes)
        }
        publishNewEvents()
    }

    func shutdown() {
        let waiting = parked.takeExpired(nowMs: .max)
        for entry in waiting { send(entry.envelope, Reply.ok(Operations.noTask)) }
        for pending in writes.takeExpired(nowMs: .max) {
            send(pending.envelope, Reply.error(WireError(.busy, "the coordinator is stopping; nothing changed, retry the same request once it is back")))
        }
        stopWorkers()
        publishNewEvents()
        logClaims(when: "leaving in force (leases keep running)")
        router?.close()
        publisher?.close()
        zap?.socket.close()
        zap = nil
        router = nil
        publisher = nil
        log.info("stopped", metadata: ["answered_parked_claims": "\(waiting.count)", "last_seq": "\(lastPublishedSeq)"])
        finished.signal()
    }
}
