import Foundation
import KanbanModel
import KanbanProtocol
import KanbanStore
import Logging
import Synchronization
import ZeroMQ

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

    // Owned by the loop thread: the sockets, and the state machines whose actions the loop carries
    // out (docs/ARCHITECTURE.md, "The loop and its machines"). The machines do no I/O; the loop does
    // nothing else.
    var router: ZMQSocket?
    var publisher: ZMQSocket?
    var zap: ZapHandler?
    /// Refused subscriber handshakes that ZAP never sees (no credential at all), for the log.
    var handshakes: HandshakeWatch?
    /// Blocking claims waiting for work (ParkedClaims.swift).
    var parked = ParkedClaims()
    /// Writes waiting for the board's write lock (another program may hold it).
    var writes = WriteQueue()
    /// A batch's answers, held until its COMMIT (reused batch after batch).
    var outbox = Outbox()
    /// Runs handed to the dispatcher, whose leases the core keeps while their workers live.
    var spawnedRuns = SpawnedRuns()
    /// Live leases' deadlines on monotonic time, the wall clock's steps, the loop's stalls.
    var leaseTimers = LeaseTimers()
    /// The periodic jobs, their holds, and the next wake-up.
    var timers = LoopTimers()
    /// The board changed since the last dispatch pass (events were committed): a spawn or pool lane may
    /// have work or a free slot, so the loop wakes for the next pass instead of idling up to
    /// `LoopTimers.idleWakeMs` (which is what a new task waited for before it started on a pool).
    var dispatchWanted = false
    /// Integrity check, inconsistencies, promotions left for later turns (Coordinator+Health.swift).
    var health = HealthWatch()
    /// The last event published, and the board's change marker as of the last import.
    var lastPublishedSeq: Int64 = 0
    var externalMarker: Int64?
    /// Messages without a REQ delimiter: logged at most every 10 s (a peer can send them at will).
    var malformedEnvelopes = LogThrottle(intervalMs: 10_000)

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
        operations.pinMaxRetries = config.retry.pinnedLimit
        operations.retry = config.retry
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
        handshakes = try HandshakeWatch(context: context, watching: publisher, log: log)
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
        // What the loop polls does not change while it runs: built once, not on every turn.
        let polled = [router] + [zap?.socket, handshakes?.socket].compactMap { $0 }
        let zapIndex = zap != nil ? 1 : nil
        let handshakesIndex = handshakes != nil ? (zap != nil ? 2 : 1) : nil
        let fds = dispatcher.map { [$0.reports.wakeFD] } ?? []
        while !stopping.load(ordering: .sequentiallyConsistent) {
            let timeout = nextTimeoutMs()
            let readable: Bool
            // Whether this turn read the command socket dry (expiry after a stall waits for it).
            var socketDrained: Bool
            do {
                let ready = try Poller.poll(polled, fds: fds, timeoutMs: timeout)
                readable = ready[0]
                noteTurn()
                if let i = zapIndex, ready[i] { answerZap() }
                if let i = handshakesIndex, ready[i] { handshakes?.drain(nowMs: clock.monotonicMs()) }
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
                    if writes.pending.count >= Outbox.maxBatch { flushWrites() }  // a full batch goes now
                    if DispatchTime.now().uptimeNanoseconds - turnStart > Self.turnBudgetNs { break }
                }
                flushWrites()
                publishNewEvents()
            }
            runTimers(socketDrained: socketDrained)
            parkedCount.store(parked.count, ordering: .releasing)
        }
    }

    /// How long one turn of the loop may spend on arrived requests before timers and the poll run again.
    static let turnBudgetNs: UInt64 = 10_000_000

    /// Requests queued, and replies waiting, per peer (see bindSockets).
    static let perPeerMessages: Int32 = 64

    /// Requests queued per peer before libzmq stops reading from it (see bindSockets).
    static let perPeerRequests: Int32 = 16

    /// The three clocks of a turn, for `LoopTimers`.
    func loopNow() -> LoopTimers.Now {
        LoopTimers.Now(wallMs: clock.nowMs(), monotonicMs: clock.monotonicMs(), uptimeMs: Self.uptimeMs())
    }

    /// Sleep until the nearest deadline (parked claim, waiting write, lease, renewal, backoff, the
    /// stall grace's hold), but no longer than `LoopTimers.idleWakeMs`.
    func nextTimeoutMs() -> Int {
        let deadlines = LoopTimers.Deadlines(
            leaseMs: leaseTimers.nextDeadline, renewalMs: spawnedRuns.nextBeatMs, backoffEndMs: try? store.nextBackoffEnd(),
            stallHoldEndMs: leaseTimers.stallHoldEndMs, parkedMs: parked.nextDeadline, writesMs: writes.nextWakeMs,
            writeLockPauseEndMs: writes.heldUntilMs, promotionsPending: store.hasPendingPromotions,
            dispatchDueMs: dispatchWanted ? timers.nextDue(.dispatchScan) : nil)
        return timers.wakeInMs(at: loopNow(), deadlines)
    }

    /// The change watcher: when another program (Hermes' CLI or dispatcher) has committed to the
    /// board, mirror its new `task_events` into our stream. Publishing them wakes parked claims.
    /// Paced by `LoopTimers.Job.importChanges`: a busy loop turns over every millisecond or so, and
    /// Hermes' writes need not be seen sooner (an idle loop wakes every `idleWakeMs` anyway).
    func watchExternalChanges() {
        // Only a store that other programs write has a change feed (SQLite: Hermes writes the file).
        guard let feed = store.changeFeed, let marker = try? feed.externalChangeMarker(), marker != externalMarker else { return }
        // Importing writes (the published stream's rows): while the board is locked it waits, and the
        // marker is only moved once it went through, so nothing is skipped.
        guard let n = attemptWrite("import changes another program made", { try feed.importExternalEvents(nowMs: clock.nowMs()) })
        else { return }
        externalMarker = marker
        if n > 0 { log.info("picked up changes another program made to the board", metadata: ["events": "\(n)"]) }
    }

    /// The timers' share of a turn: what the machines say is due, carried out in an order that
    /// matters (spawned leases are renewed, and committed renewals followed, before any lease expires).
    func runTimers(socketDrained: Bool) {
        flushWrites()
        let pace = loopNow()
        let due = timers.due(at: pace)
        if due.contains(.importChanges) {
            timers.ran(.importChanges, at: pace)
            watchExternalChanges()
        }
        applyDispatchReports()
        keepSpawnedLeases()
        if due.contains(.takeBackCheck) { stopWorkersOfTakenRuns(pace: pace) }
        if due.contains(.dispatchScan) { dispatchWork(pace: pace) }
        restateLeasesIfWallStepped()
        publishNewEvents()  // leases renewed above are followed before anything expires
        expireDueLeases(socketDrained: socketDrained)
        endDueBackoffs()
        keepBoardHealthy(pace: pace)
        let now = clock.nowMs()
        if due.contains(.livenessRefresh), attemptWrite("keep Hermes' liveness fields of live claims fresh", {
            try store.refreshLiveness(nowMs: now, staleAfterS: 1800) }) != nil {
            timers.ran(.livenessRefresh, at: pace)
        }
        if due.contains(.memoryTrim) {
            timers.ran(.memoryTrim, at: pace)
            MemoryHygiene.trim()
        }
        if due.contains(.replyPrune) {
            timers.ran(.replyPrune, at: pace)  // a locked board just means the next try, a minute later
            _ = attemptWrite("forget old replies") { try store.forgetReplies(beforeMs: now - config.retryWindowMs) }
        }
        for entry in parked.takeExpired(nowMs: now) {
            send(entry.envelope, Reply.ok(Operations.noTask))
        }
        if let offer = parked.retry(boardWritable: writes.mayWrite(nowMs: now)) { offerWork(offer) }
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
        handshakes?.close()
        handshakes = nil
        router = nil
        publisher = nil
        log.info("stopped", metadata: ["answered_parked_claims": "\(waiting.count)", "last_seq": "\(lastPublishedSeq)"])
        finished.signal()
    }
}
