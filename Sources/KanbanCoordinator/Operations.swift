import Foundation
import KanbanModel
import KanbanProtocol
import KanbanStore

/// What handling a request comes to.
public enum Outcome {
    case result(JSONValue)
    case failure(WireError)
    /// A claim was granted: the socket loop must make sure it reaches the client.
    case claimed(ClaimGrant)
    /// A claim with `wait_ms` that found nothing yet: keep the envelope and answer later.
    case park(ClaimRequest)
    /// A task after a change (`{"task": …}`), written straight from the record.
    case task(TaskRecord)
    /// A `complete` with `claim_next`: the task, and the lane's next claim if it got one (which must
    /// reach the client, as for `claimed`).
    case completed(task: TaskRecord, next: ClaimGrant?)
}

/// The op handlers: typed request in, result out. No sockets here, and no SQL (that is the store's).
public final class Operations {
    let store: BoardStore
    let clock: WallClock
    let defaultLeaseSeconds: Int
    let version: String
    /// Key for tokens minted under a `request_id` (see `Secrets.derivedToken`). Never stored in the board.
    let tokenKey: [UInt8]
    /// Directories where Hermes keeps its profiles: a lane may not take a profile's name.
    let hermesProfileDirs: [String]
    /// Removes finished tasks' workspaces (set when a dispatcher runs); returns "lane/task" of each.
    var pruneWorkspaces: ((String?) throws -> [String])?
    /// Where spawned workers' logs are (`task.log` reads them); nil without a dispatcher.
    var workerLogDir: String?
    /// Written on claimed tasks so Hermes gives up where the bridge does (`RetryPolicy.pinnedLimit`).
    var pinMaxRetries: Int?
    /// What a runner's `fail` counts against (the coordinator's retry policy).
    var retry = RetryPolicy()
    /// The runners serving each lane, as they last reported.
    var runners = RunnerRoster()

    public init(store: BoardStore, clock: WallClock, defaultLeaseSeconds: Int = Lease.defaultSeconds, version: String,
                tokenKey: [UInt8], hermesProfileDirs: [String] = []) {
        self.store = store
        self.clock = clock
        self.defaultLeaseSeconds = defaultLeaseSeconds
        self.version = version
        self.tokenKey = tokenKey
        self.hermesProfileDirs = hermesProfileDirs
    }

    /// Handles one authenticated, authorised request. With a `tokenSeed` (caller and request id), any
    /// token in the reply is derived from it, so a retry's reply can be rebuilt without storing it.
    public func handle(_ request: Request, as principal: Principal, tokenSeed: String? = nil) -> Outcome {
        do {
            return try perform(request, as: principal, tokenSeed: tokenSeed).outcome
        } catch {
            // Storage failures (disk full, I/O): the transaction rolled back, nothing changed.
            return .failure(WireError(.internal, "the board could not be written: \(type(of: error))"))
        }
    }

    /// What handling a request came to, with the nonces of the tokens it minted (they go into the
    /// stored reply, so a retry derives the same tokens again).
    public struct Handled {
        public var outcome: Outcome
        public var nonces: [String: String]
    }

    /// Handles a request. A refusal (the board's or the wire's) is an outcome; any other error (the
    /// storage failed) is thrown, so the caller's savepoint undoes whatever the request wrote.
    public func perform(_ request: Request, as principal: Principal, tokenSeed: String? = nil) throws -> Handled {
        var minter = TokenMinter(seed: tokenSeed, key: tokenKey)
        do {
            let outcome = try dispatch(request, principal, &minter)
            return Handled(outcome: outcome, nonces: minter.nonces)
        } catch let error as BoardError {
            return Handled(outcome: .failure(Self.wireError(error)), nonces: [:])
        } catch let error as WireError {
            return Handled(outcome: .failure(error), nonces: [:])
        }
    }

    /// The token `TokenMinter` made for `seed` with `nonce` (a reply stored before nonces: none).
    func rederiveToken(prefix: String, seed: String, nonce: String) -> String {
        TokenMinter.derive(prefix: prefix, key: tokenKey, seed: seed, nonce: nonce)
    }

    private func dispatch(_ request: Request, _ principal: Principal, _ minter: inout TokenMinter) throws -> Outcome {
        let now = clock.nowMs()
        switch request {
        case .ping:
            return .result(["version": .string(version), "protocol": .int(Int64(protocolVersion)), "now_ms": .int(now),
                            "last_seq": .int(try store.lastEventSeq())])
        case .laneRegister(let spec):
            if let dir = hermesProfileDir(spec.lane.name) {
                // Hermes' dispatcher spawns a profile for any task assigned to its name.
                throw BoardError.conflict("'\(spec.lane.name)' is a Hermes profile (\(dir)/\(spec.lane.name)); "
                    + "give the lane another name, e.g. '\(spec.lane.name)-lane'")
            }
            let token = minter.mint(prefix: "lt_")
            let summary = try store.registerLane(spec.lane, tokenHash: Secrets.hash(token), nowMs: now)
            return .result(WireFormat.registered(summary, token: token))
        case .laneUpdate(let name, let patch):
            return .result(["lane": WireFormat.lane(try store.updateLane(name: name, patch: patch, nowMs: now))])
        case .laneList:
            // Work assigned to names no lane serves stays ready; say so rather than hide it (Hermes'
            // stranded_in_ready). Names that are Hermes profiles are Hermes' own dispatcher's business.
            let unregistered = try store.unregisteredAssignees().filter { !isHermesProfile($0.assignee) }.map {
                ["assignee": .string($0.assignee), "queued": .int(Int64($0.queued)), "oldest_queued_at": .int($0.oldestQueuedAt)] as JSONValue
            }
            return .result(["lanes": .array(try store.lanes().map { withRunners($0, nowMs: now) }), "unregistered": .array(unregistered)])
        case .laneGet(let name):
            guard let lane = try store.lane(named: name) else { throw BoardError.notFound("no lane named '\(name)'") }
            return .result(["lane": withRunners(lane, nowMs: now)])
        case .laneRemove(let name):
            try store.removeLane(name: name, nowMs: now)
            return .result(["removed": .string(name)])
        case .laneRotateToken(let name):
            let token = minter.mint(prefix: "lt_")
            try store.rotateLaneToken(name: name, tokenHash: Secrets.hash(token), nowMs: now)
            return .result(WireFormat.rotated(lane: name, token: token))
        case .taskCreate(let spec):
            return .task(try store.createTask(spec, nowMs: now))
        case .taskGet(let id):
            if case .worker(_, let runID) = principal { try checkWorkerMayRead(id, runID: runID) }
            guard let detail = try store.task(id: id) else { throw BoardError.notFound("no task '\(id)'") }
            return .result(["task": WireFormat.taskDetail(detail)])
        case .taskLog(let id, let maxBytes):
            if case .worker(_, let runID) = principal {
                guard try store.openClaim(runID: runID)?.taskID == id else {
                    throw WireError(.forbidden, "a worker's token reads only its own run's log")
                }
            }
            guard try store.task(id: id) != nil else { throw BoardError.notFound("no task '\(id)'") }
            let tail = workerLogDir.flatMap { WorkerLogTail.read(dir: $0, taskID: id, maxBytes: maxBytes) }
            return .result(["task_id": .string(id), "tail": tail.map { .string($0.text) } ?? .null,
                            "size": .int(tail?.size ?? 0), "truncated": .bool(tail?.truncated ?? false)])
        case .taskList(let status, let assignee, let limit):
            return .result(["tasks": .array(try store.tasks(status: status, assignee: assignee, limit: limit).map(WireFormat.task))])
        case .taskAssign(let id, let assignee):
            return .task(try store.assignTask(id: id, assignee: assignee, nowMs: now))
        case .taskLink(let parent, let child):
            return .task(try store.linkTasks(parent: parent, child: child, nowMs: now))
        case .taskReclaim(let id, let reason):
            return .task(try store.reclaimTask(id: id, reason: reason, nowMs: now))
        case .taskUnblock(let id):
            return .task(try store.unblockTask(id: id, nowMs: now))
        case .workspacePrune(let lane):
            guard let prune = pruneWorkspaces else { throw BoardError.conflict("this coordinator runs no dispatcher, so it has no workspaces") }
            return .result(["queued": .array(try prune(lane).map { .string($0) })])
        case .claim(let c):
            do {
                if let grant = try claim(c, minter: &minter) { return .claimed(grant) }
            } catch BoardError.laneFull where c.waitMs > 0 {
                return .park(c)  // a blocking claim waits for a free slot as it waits for a task
            }
            return c.waitMs > 0 ? .park(c) : .result(Self.noTask)
        case .heartbeat(let ref, let note, let metadata):
            let expires = try store.heartbeat(proof(ref, principal), note: note, metadata: metadata, nowMs: now)
            return .result(["lease_expires_at": .int(Lease.hermesSeconds(fromMs: expires)), "lease_expires_at_ms": .int(expires)])
        case .complete(let ref, let result, let summary, let metadata, let claimNext):
            let ending = ClaimEnding.complete(result: result, summary: summary, metadata: metadata)
            if claimNext { return try completeAndClaimNext(proof(ref, principal), ending, minter: &minter) }
            return .task(try store.endClaim(proof(ref, principal), ending, nowMs: now))
        case .block(let ref, let reason, let kind):
            return .task(try store.endClaim(proof(ref, principal), .block(reason: reason, kind: kind), nowMs: now))
        case .release(let ref, let reason, let retryAfter):
            let ending = ClaimEnding.release(reason: reason, retryAfterMs: retryAfter.map { Int64($0) * 1000 })
            return .task(try store.endClaim(proof(ref, principal), ending, nowMs: now))
        case .fail(let ref, let reason, let exitCode, let signal):
            let how = exitCode.map { "exit \($0)" } ?? signal.map { "signal \($0)" } ?? "failed"
            let error = reason.map { "\($0) (\(how))" } ?? "the worker failed (\(how))"
            var data: [String: JSONValue] = ["reason": .string(error)]
            if let exitCode { data["exit_code"] = .int(Int64(exitCode)) }
            if let signal { data["signal"] = .int(Int64(signal)) }
            let ending = ClaimEnding.fail(outcome: .crashed, error: error, payload: .object(data), retry: retry)
            return .task(try store.endClaim(proof(ref, principal), ending, nowMs: now))
        case .logAppend(let ref, let chunk):
            // The claim is checked (and its lease renewed: output is a sign of life) before anything is written.
            let expires = try store.heartbeat(proof(ref, principal), note: nil, metadata: nil, nowMs: now)
            guard let dir = workerLogDir else { throw BoardError.conflict("this coordinator keeps no worker logs (it runs no dispatcher)") }
            try WorkerLogs(dir: dir).append(taskID: ref.taskID, chunk)
            return .result(["lease_expires_at_ms": .int(expires), "appended": .int(Int64(chunk.utf8.count))])
        case .runnerReport(let report):
            guard try store.lane(named: report.lane) != nil else { throw BoardError.notFound("no lane named '\(report.lane)'") }
            guard runners.seen(report, nowMs: now) else {
                throw BoardError.conflict("too many runners reported for lane '\(report.lane)' (at most \(RunnerRoster.maxPerLane))")
            }
            return .result(["report_every_ms": .int(RunnerRoster.reportEveryMs)])
        case .events(let since, let limit, let lane):
            let events = try store.events(since: since, limit: limit, lane: lane)
            // With nothing to return, last_seq is the head of the stream: a cursor past it shows up.
            return .result(["events": .array(events.map(WireFormat.event)),
                            "last_seq": .int(try events.last?.seq ?? store.lastEventSeq())])
        case .stats(let windowSeconds):
            let stats = try store.stats(sinceMs: now - Int64(windowSeconds) * 1000, nowMs: now)
            return .result(withRunners(StatsReply.wire(stats, windowSeconds: windowSeconds, health: store.health()), nowMs: now))
        }
    }

    /// Tries to claim for the request now; nil when the lane has nothing claimable.
    /// Also used to serve parked claims when work shows up.
    public func claim(_ c: ClaimRequest) throws -> ClaimGrant? {
        var minter = TokenMinter(seed: nil, key: tokenKey)
        return try claim(c, minter: &minter)
    }

    func claim(_ c: ClaimRequest, minter: inout TokenMinter) throws -> ClaimGrant? {
        guard let lane = try store.laneDefinition(named: c.lane) else {
            throw BoardError.notFound("no lane named '\(c.lane)'; register it with lane.register")
        }
        let seconds = Lease.seconds(requested: c.leaseSeconds, lane: lane.leaseSeconds, boardDefault: defaultLeaseSeconds)
        let token = minter.mint(prefix: "ct_")
        let intent = ClaimIntent(lane: lane, taskID: c.taskID, leaseMs: Int64(seconds) * 1000, tokenHash: Secrets.hash(token),
                                 pinMaxRetries: pinMaxRetries)
        guard let claimed = try store.claim(intent, nowMs: clock.nowMs()) else { return nil }
        return ClaimGrant(task: claimed.task, token: token, runID: claimed.runID, leaseExpiresAtMs: claimed.leaseExpiresAtMs)
    }

    private func hermesProfileDir(_ name: String) -> String? {
        hermesProfileDirs.first { FileManager.default.fileExists(atPath: $0 + "/" + name) }
    }

    private func isHermesProfile(_ name: String) -> Bool { name == "default" || hermesProfileDir(name) != nil }

    /// The reply of a claim that found no task.
    public static let noTask: JSONValue = ["task": .null, "claim": .null]

    /// A run's worker reads its own task and that task's parents (their results are its input).
    private func checkWorkerMayRead(_ id: String, runID: Int64) throws {
        guard let claim = try store.openClaim(runID: runID) else { throw BoardError.denied(.staleClaim("this run has ended")) }
        if id == claim.taskID { return }
        guard let own = try store.task(id: claim.taskID), own.task.parents.contains(id) else {
            throw WireError(.forbidden, "a worker's token reads only its run's task (\(claim.taskID)) and that task's parents")
        }
    }

    /// A `stats` reply with each lane's runners.
    private func withRunners(_ stats: JSONValue, nowMs: Int64) -> JSONValue {
        guard case .object(var fields) = stats, let lanes = fields["lanes"]?.arrayValue else { return stats }
        fields["lanes"] = .array(lanes.map { lane in
            guard case .object(var l) = lane, let name = l["lane"]?.stringValue else { return lane }
            l["runners"] = .array(runners.runners(lane: name, nowMs: nowMs).map { RunnerRoster.wire($0, nowMs: nowMs) })
            return .object(l)
        })
        return .object(fields)
    }

    /// A lane as `lane.list` and `lane.get` show it, with the runners serving it now.
    private func withRunners(_ lane: LaneSummary, nowMs: Int64) -> JSONValue {
        guard case .object(var fields) = WireFormat.lane(lane) else { return WireFormat.lane(lane) }
        fields["runners"] = .array(runners.runners(lane: lane.lane.name, nowMs: nowMs).map { RunnerRoster.wire($0, nowMs: nowMs) })
        return .object(fields)
    }

    private func proof(_ ref: ClaimRef, _ principal: Principal) -> ClaimProof {
        ClaimProof(principal: principal, taskID: ref.taskID, tokenHash: Secrets.hash(ref.claimToken))
    }

    /// What a client hears when another program kept the board locked for as long as it could wait.
    public static let busyMessage = "another program holds the board's write lock; nothing changed, "
        + "retry the same request (same request_id) shortly"

    /// The one mapping from board refusals to wire codes.
    public static func wireError(_ error: BoardError) -> WireError {
        switch error {
        case .notFound(let m): return WireError(.notFound, m)
        case .conflict(let m): return WireError(.conflict, m)
        case .notAssigned(let m): return WireError(.notAssigned, m)
        case .notReady(let m): return WireError(.notReady, m)
        case .laneFull(let m): return WireError(.laneFull, m)
        case .invalid(let m): return WireError(.badRequest, m)
        case .incompatibleBoard(let m): return WireError(.internal, m)
        case .busy: return WireError(.busy, busyMessage)
        case .denied(let denial):
            switch denial {
            case .notFound: return WireError(.notFound, "no such task")
            case .notClaimOwner: return WireError(.notClaimOwner, "this claim token is not the task's claim")
            case .forbidden: return WireError(.forbidden, "this claim belongs to another lane (or, for a worker's token, another run)")
            case .staleClaim(let why): return WireError(.staleClaim, "claim is no longer live: \(why)")
            }
        }
    }
}
