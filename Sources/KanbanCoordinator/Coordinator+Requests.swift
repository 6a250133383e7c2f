import Foundation
import KanbanModel
import KanbanProtocol
import KanbanStore
import Logging
import ZeroMQ

/// Requests: decode, authorize, run (once, for retries), reply after the batch commits.
extension Coordinator {
    /// Handshakes. With CURVE, commands need a key that is the admin's or a lane's; events too, unless
    /// the coordinator lets any key subscribe. Without CURVE the event socket runs PLAIN: a subscriber
    /// presents a token (admin or lane) as its password, so nobody without one reads the board. A
    /// spawned worker's credential is for its own run only, so it does not subscribe.
    func answerZap() {
        let restrictEvents = config.curve?.restrictEvents ?? true
        zap?.answerPending { domain, credential in
            switch credential {
            case .curveKey(let key):
                if domain == ZapHandler.eventsDomain && !restrictEvents { return key }
                return Self.mayConnect(authenticator.principal(forCurveKey: key), domain: domain) ? key : nil
            case .token(let token):
                guard domain == ZapHandler.eventsDomain else { return nil }  // PLAIN is offered on events only
                let principal = authenticator.principal(for: token)
                return Self.mayConnect(principal, domain: domain) ? principal?.key : nil
            case .none:
                return nil
            }
        }
    }

    /// Commands: anyone the authenticator knows. Events: the admin and lanes, not a run's worker.
    static func mayConnect(_ principal: Principal?, domain: String) -> Bool {
        switch principal {
        case nil: return false
        case .worker?: return domain != ZapHandler.eventsDomain
        case .admin?, .lane?: return true
        }
    }

    /// A request that passed decoding and authorisation.
    struct Admitted {
        var envelope: [[UInt8]]
        var decoded: DecodedRequest
        var caller: Principal
        /// False when the request carried no valid credential (only a `ping` gets this far then).
        var identified = true
    }

    /// Why a frame without a valid credential goes no further, before it is parsed.
    static func unauthenticatedRefusal(_ head: ScannedRequest.Envelope?, bytes: Int) -> WireError {
        let limit = DecodeLimits.maxUnauthenticatedBytes
        guard let head else {
            return WireError(.badRequest, "a request over \(limit) bytes must carry 'op' and 'auth' as plain top-level JSON "
                             + "strings (no escapes), so its credential can be checked before it is parsed")
        }
        if head.op == "ping" { return WireError(.tooLarge, "a ping without a credential is at most \(limit) bytes; this one is \(bytes)") }
        return AccessPolicy.unauthorized
    }

    /// Decodes and authorises a request; answers (and returns nil for) one that goes no further.
    func admit(_ frames: [[UInt8]], curveKey: String?) -> Admitted? {
        // ROUTER frames: routing id(s), the empty delimiter REQ adds, then the body.
        guard let delimiter = frames.firstIndex(where: \.isEmpty), delimiter > 0 else {
            if let count = malformedEnvelopes.due(nowMs: clock.nowMs()) {
                log.warning("dropped message(s) without an envelope delimiter (not a REQ or DEALER+delimiter peer)",
                            metadata: ["count": "\(count)"])
            }
            return nil
        }
        let envelope = Array(frames[...delimiter])
        let body = frames[(delimiter + 1)...]
        guard body.count == 1, let frame = body.first else {
            send(envelope, Reply.error(WireError(.badRequest, "a request is exactly one frame of JSON; got \(body.count)")))
            return nil
        }
        // The frame is read once; it is typed from that reading (`decoder.decode(read)`). Without CURVE
        // the credential is in the body: check it before parsing the body, so a stranger's megabyte of
        // JSON costs the scan, not a parse (CURVE refuses strangers in the handshake). Only a small
        // frame is parsed without a valid credential: a ping, or a request whose refusal the decoder
        // explains.
        let read = decoder.scan(frame)
        var scanned: Principal?
        if config.curve == nil, frame.count <= config.limits.maxRequestBytes {
            let head = read.envelope
            if let head, head.op != "ping" || frame.count > DecodeLimits.maxUnauthenticatedBytes {
                scanned = authenticator.principal(for: head.auth)
            }
            if scanned == nil, frame.count > DecodeLimits.maxUnauthenticatedBytes || (head.map { $0.op != "ping" } ?? false) {
                let refusal = Self.unauthenticatedRefusal(head, bytes: frame.count)
                log.debug("refused before parsing", metadata: ["code": "\(refusal.code.rawValue)"])
                send(envelope, Reply.error(refusal))
                return nil
            }
        }
        let decoded: DecodedRequest
        do { decoded = try decoder.decode(read) } catch {
            log.debug("bad request", metadata: ["code": "\(error.code.rawValue)", "reason": "\(error.message)"])
            send(envelope, Reply.error(error))
            return nil
        }
        // With CURVE the connection's key says who the caller is; whatever `auth` holds is ignored.
        let principal = config.curve != nil ? authenticator.principal(forCurveKey: curveKey)
            : scanned ?? authenticator.principal(for: decoded.auth)
        if let refusal = AccessPolicy.check(principal, decoded.request) {
            log.info("refused", metadata: ["op": "\(decoded.op)", "code": "\(refusal.code.rawValue)", "principal": "\(principal?.key ?? "none")"])
            send(envelope, Reply.error(refusal))
            return nil
        }
        // Only `ping` has no principal; it runs as admin but tells the caller it is nobody.
        return Admitted(envelope: envelope, decoded: decoded, caller: principal ?? .admin, identified: principal != nil)
    }

    /// Runs an admitted read, outside any write transaction; the loop carries its answer out at once.
    func executeRead(_ a: Admitted) -> Answer {
        let outcome = decorate(operations.handle(a.decoded.request, as: a.caller), for: a.decoded.request,
                               caller: a.identified ? a.caller : nil)
        return answer(outcome, Self.encode(outcome), decoded: a.decoded, caller: a.caller)
    }

    /// Runs a waiting write in the open batch's transaction; its answer is held until the COMMIT.
    func executeWrite(_ p: WriteQueue.Pending) -> Answer {
        let (decoded, caller) = (p.decoded, p.caller)
        switch runOnce(decoded, as: caller) {
        case nil:
            return .reply(Reply.error(WireError(.internal, "the board could not be written; retry with the same request_id")))
        case .replayed(let bytes)?:
            log.info("repeat of an answered request; sent the first reply again", metadata: ["op": "\(decoded.op)", "principal": "\(caller.key)"])
            return .reply(bytes)
        case .fresh(let outcome, let bytes)?:
            return answer(outcome, bytes, decoded: decoded, caller: caller)
        }
    }

    /// Adds to a read's result what only the loop knows: who `ping`'s caller is (the HTTP face logs a
    /// token in with it), and how many blocking claims each lane has parked (`lane.list`).
    func decorate(_ outcome: Outcome, for request: Request, caller: Principal?) -> Outcome {
        guard case .result(.object(var result)) = outcome else { return outcome }
        switch request {
        case .ping:
            result["principal"] = Self.principalJSON(caller)
        case .laneList:
            let parkedByLane = parked.countByLane()
            result["lanes"] = result["lanes"]?.arrayValue.map { lanes in
                .array(lanes.map { lane in
                    guard case .object(var o) = lane, let name = o["name"]?.stringValue else { return lane }
                    o["parked"] = .int(Int64(parkedByLane[name] ?? 0))
                    return .object(o)
                })
            }
        default:
            return outcome
        }
        return .result(.object(result))
    }

    /// `{"role": "admin"|"lane"|"worker", "lane": name or null}`, or null for no valid credential.
    static func principalJSON(_ p: Principal?) -> JSONValue {
        switch p {
        case nil: return .null
        case .admin?: return ["role": "admin", "lane": .null]
        case .lane(let name)?: return ["role": "lane", "lane": .string(name)]
        case .worker(let lane, _)?: return ["role": "worker", "lane": .string(lane)]
        }
    }

    /// What a request came to on the wire: its reply bytes (encoded once), a claim that must reach its
    /// client, or a parked claim (answered later).
    private func answer(_ outcome: Outcome, _ bytes: [UInt8]?, decoded: DecodedRequest, caller: Principal) -> Answer {
        switch outcome {
        case .result, .task, .completed(_, nil):
            if decoded.request.isMutation { log.info("ok", metadata: ["op": "\(decoded.op)", "principal": "\(caller.key)"]) }
        case .failure(let error):
            log.info("failed", metadata: ["op": "\(decoded.op)", "code": "\(error.code.rawValue)", "principal": "\(caller.key)"])
        case .claimed(let grant), .completed(_, let grant?):
            return claimAnswer(grant, retryable: decoded.requestID != nil, reply: bytes)
        case .park(let request):
            return .park(request)
        }
        // Every outcome but `park` encodes to bytes (`encode`).
        return .reply(bytes ?? Reply.error(WireError(.internal, "no reply was made")))
    }

    /// The reply an outcome sends (none for a parked claim).
    static func encode(_ outcome: Outcome) -> [UInt8]? {
        switch outcome {
        case .result(let r): return Reply.ok(r)
        case .task(let t): return Reply.okTask(t)
        case .completed(let t, let next): return Reply.okCompleted(t, next: next)
        case .claimed(let g): return Reply.okClaim(g)
        case .failure(let e): return Reply.error(e)
        case .park: return nil
        }
    }

    enum Remembered {
        case fresh(Outcome, [UInt8]?)
        case replayed([UInt8])
    }

    /// Runs a mutation in one savepoint of the batch's transaction, so a request that fails midway
    /// leaves nothing behind. With a request_id, the reply is recorded in the same savepoint (safe
    /// retries), or the reply recorded the first time is returned. Nil if the board could not be written.
    func runOnce(_ decoded: DecodedRequest, as caller: Principal) -> Remembered? {
        let now = clock.nowMs()
        let requestID = decoded.requestID
        do {
            return try store.atomically { () throws -> Remembered in
                let seed = requestID.map { "\(caller.key)|\($0)" }
                if let requestID, let seed,
                   let saved = try store.savedReply(principal: caller.key, requestID: requestID, sinceMs: now - config.retryWindowMs) {
                    if let scope = saved.scope, scope != decoded.request.replayScope {
                        // Not a retry: another request under a known id. Nothing runs, nothing is recorded.
                        let refusal = Outcome.failure(WireError(.requestIDReused,
                            "request_id '\(requestID)' already answered '\(scope)' within the retry window; this request "
                            + "('\(decoded.request.replayScope)') did not run: give each new request a fresh request_id"))
                        return .fresh(refusal, Self.encode(refusal))
                    }
                    return .replayed(StoredReply.restored(saved.reply) { prefix, nonce in
                        operations.rederiveToken(prefix: prefix, seed: seed, nonce: nonce)
                    })
                }
                let handled = try operations.perform(decoded.request, as: caller, tokenSeed: seed)
                let bytes = Self.encode(handled.outcome)
                switch handled.outcome {
                // Not remembered: an internal failure changed nothing and is worth retrying; a parked
                // claim is answered later (a retry parks again; an undeliverable grant is released).
                case .failure(let e) where e.code == .internal: return .fresh(handled.outcome, bytes)
                case .park: return .fresh(handled.outcome, bytes)
                default: break
                }
                if let requestID, let bytes {
                    try store.saveReply(principal: caller.key, requestID: requestID, scope: decoded.request.replayScope,
                                        reply: StoredReply.redacted(bytes, nonces: handled.nonces), nowMs: now)
                }
                return .fresh(handled.outcome, bytes)
            }
        } catch {
            log.error("could not run a request", metadata: ["op": "\(decoded.op)", "error": "\(error)"])
            return nil
        }
    }
}
