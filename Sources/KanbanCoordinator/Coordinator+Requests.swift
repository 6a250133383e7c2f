import Foundation
import KanbanModel
import KanbanProtocol
import KanbanStore
import Logging
import ZeroMQ

/// Requests: decode, authorize, run (once, for retries), reply after the batch commits.
extension Coordinator {
    /// The `/metrics` page: the board now, claim latencies over the last five minutes, event counters.
    func renderMetrics() -> String {
        let now = clock.nowMs()
        guard let stats = try? store.stats(sinceMs: now - 300_000, nowMs: now) else { return "# the board could not be read\n" }
        return PrometheusText.render(stats, windowSeconds: 300, eventsPublished: eventsPublished, lastSeq: lastPublishedSeq)
    }

    /// CURVE handshakes: commands need a key that is the admin's or a lane's; events too, unless
    /// the coordinator lets any key subscribe.
    func answerZap() {
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
    func handleTogether(_ batch: [Outbox.Request]) {
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

    func handle(_ frames: [[UInt8]], curveKey: String?) {
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

    enum Remembered {
        case fresh(Outcome)
        case replayed([UInt8])
    }

    /// Safe retries: runs a mutation and records its reply under (principal, request_id) in one
    /// transaction, or returns the reply recorded the first time. Nil if the board could not be written.
    func handleOnce(_ request: Request, as caller: Principal, requestID: String) -> Remembered? {
        let now = clock.nowMs()
        do {
            return try store.atomically { () throws -> Remembered in
                let seed = "\(caller.key)|\(requestID)"
                if let saved = try store.savedReply(principal: caller.key, requestID: requestID, sinceMs: now - config.retryWindowMs) {
                    return .replayed(StoredReply.restored(saved) { prefix, nonce in
                        operations.rederiveToken(prefix: prefix, seed: seed, nonce: nonce)
                    })
                }
                _ = operations.takeMintedNonces()
                let outcome = operations.handle(request, as: caller, tokenSeed: seed)
                let nonces = operations.takeMintedNonces()
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
                try store.saveReply(principal: caller.key, requestID: requestID, reply: StoredReply.redacted(reply, nonces: nonces), nowMs: now)
                return .fresh(outcome)
            }
        } catch {
            log.error("could not record a request", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Sends a granted claim. If the client has gone and could not get it by retrying (no
    /// request_id), releases the claim at once so the task is not held by nobody until its lease ends.
    func deliver(_ grant: ClaimGrant, to envelope: [[UInt8]], retryable: Bool = false, reply: [UInt8]? = nil) {
        log.info("claimed", metadata: ["task": "\(grant.task.id)", "lane": "\(grant.task.assignee ?? "?")", "run": "\(grant.runID)"])
        let reply = reply ?? Reply.ok(WireFormat.claim(grant))
        if outbox != nil {
            outbox?.hold(envelope, reply, undeliverableClaim: retryable ? nil : grant)
            return
        }
        if send(envelope, reply) || retryable { return }
        releaseUndelivered(grant)
    }

    func releaseUndelivered(_ grant: ClaimGrant) {
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
    func send(_ envelope: [[UInt8]], _ reply: [UInt8], now: Bool = false) -> Bool {
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
}
