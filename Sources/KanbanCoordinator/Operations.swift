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
}

/// The op handlers: typed request in, result out. No sockets here, and no SQL (that is the store's).
public final class Operations {
    let store: BoardStore
    let clock: Clock
    let defaultLeaseSeconds: Int
    let version: String

    public init(store: BoardStore, clock: Clock, defaultLeaseSeconds: Int = Lease.defaultSeconds, version: String) {
        self.store = store
        self.clock = clock
        self.defaultLeaseSeconds = defaultLeaseSeconds
        self.version = version
    }

    /// Handles one authenticated, authorised request.
    public func handle(_ request: Request, as principal: Principal) -> Outcome {
        do {
            return try dispatch(request, principal)
        } catch let error as BoardError {
            return .failure(Self.wireError(error))
        } catch let error as WireError {
            return .failure(error)
        } catch {
            // Storage failures (disk full, I/O): the transaction rolled back, nothing changed.
            return .failure(WireError(.internal, "the board could not be written: \(type(of: error))"))
        }
    }

    private func dispatch(_ request: Request, _ principal: Principal) throws -> Outcome {
        let now = clock.nowMs()
        switch request {
        case .ping:
            return .result(["version": .string(version), "protocol": .int(Int64(protocolVersion)), "now_ms": .int(now),
                            "last_seq": .int(try store.lastEventSeq())])
        case .laneRegister(let spec):
            let token = Secrets.newToken(prefix: "lt_")
            let summary = try store.registerLane(spec.lane, tokenHash: Secrets.hash(token), nowMs: now)
            return .result(["lane": WireFormat.lane(summary), "token": .string(token)])
        case .laneUpdate(let name, let patch):
            return .result(["lane": WireFormat.lane(try store.updateLane(name: name, patch: patch, nowMs: now))])
        case .laneList:
            return .result(["lanes": .array(try store.lanes().map(WireFormat.lane))])
        case .laneGet(let name):
            guard let lane = try store.lane(named: name) else { throw BoardError.notFound("no lane named '\(name)'") }
            return .result(["lane": WireFormat.lane(lane)])
        case .laneRemove(let name):
            try store.removeLane(name: name, nowMs: now)
            return .result(["removed": .string(name)])
        case .laneRotateToken(let name):
            let token = Secrets.newToken(prefix: "lt_")
            try store.rotateLaneToken(name: name, tokenHash: Secrets.hash(token), nowMs: now)
            return .result(["lane": .string(name), "token": .string(token)])
        case .taskCreate(let spec):
            return .result(["task": WireFormat.task(try store.createTask(spec, nowMs: now))])
        case .taskGet(let id):
            guard let detail = try store.task(id: id) else { throw BoardError.notFound("no task '\(id)'") }
            return .result(["task": WireFormat.taskDetail(detail)])
        case .taskList(let status, let assignee, let limit):
            return .result(["tasks": .array(try store.tasks(status: status, assignee: assignee, limit: limit).map(WireFormat.task))])
        case .taskAssign(let id, let assignee):
            return .result(["task": WireFormat.task(try store.assignTask(id: id, assignee: assignee, nowMs: now))])
        case .taskLink(let parent, let child):
            return .result(["task": WireFormat.task(try store.linkTasks(parent: parent, child: child, nowMs: now))])
        case .claim(let c):
            if let grant = try claim(c) { return .claimed(grant) }
            return c.waitMs > 0 ? .park(c) : .result(Self.noTask)
        case .heartbeat(let ref, let note, let metadata):
            let expires = try store.heartbeat(proof(ref, principal), note: note, metadata: metadata, nowMs: now)
            return .result(["lease_expires_at": .int(Lease.hermesSeconds(fromMs: expires)), "lease_expires_at_ms": .int(expires)])
        case .complete(let ref, let result, let summary, let metadata):
            let task = try store.endClaim(proof(ref, principal), .complete(result: result, summary: summary, metadata: metadata), nowMs: now)
            return .result(["task": WireFormat.task(task)])
        case .block(let ref, let reason, let kind):
            return .result(["task": WireFormat.task(try store.endClaim(proof(ref, principal), .block(reason: reason, kind: kind), nowMs: now))])
        case .release(let ref, let reason):
            return .result(["task": WireFormat.task(try store.endClaim(proof(ref, principal), .release(reason: reason), nowMs: now))])
        case .events(let since, let limit, let lane):
            let events = try store.events(since: since, limit: limit, lane: lane)
            return .result(["events": .array(events.map(WireFormat.event)),
                            "last_seq": .int(events.last?.seq ?? max(since, 0))])
        }
    }

    /// Tries to claim for the request now; nil when the lane has nothing claimable.
    /// Also used to serve parked claims when work shows up.
    public func claim(_ c: ClaimRequest) throws -> ClaimGrant? {
        guard let lane = try store.lane(named: c.lane)?.lane else {
            throw BoardError.notFound("no lane named '\(c.lane)'; register it with lane.register")
        }
        if !lane.claimMode.mayPull, c.taskID == nil {
            throw BoardError.invalid("lane '\(lane.name)' is a watch lane: claim the task its 'available' event names (task_id), or make it pull-or-watch")
        }
        let seconds = Lease.seconds(requested: c.leaseSeconds, lane: lane.leaseSeconds, boardDefault: defaultLeaseSeconds)
        let token = Secrets.newToken(prefix: "ct_")
        let intent = ClaimIntent(lane: lane, taskID: c.taskID, leaseMs: Int64(seconds) * 1000, tokenHash: Secrets.hash(token))
        guard let claimed = try store.claim(intent, nowMs: clock.nowMs()) else { return nil }
        return ClaimGrant(task: claimed.task, token: token, runID: claimed.runID, leaseExpiresAtMs: claimed.leaseExpiresAtMs)
    }

    /// The reply of a claim that found no task.
    public static let noTask: JSONValue = ["task": .null, "claim": .null]

    private func proof(_ ref: ClaimRef, _ principal: Principal) -> ClaimProof {
        ClaimProof(principal: principal, taskID: ref.taskID, tokenHash: Secrets.hash(ref.claimToken))
    }

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
        case .denied(let denial):
            switch denial {
            case .notFound: return WireError(.notFound, "no such task")
            case .notClaimOwner: return WireError(.notClaimOwner, "this claim token is not the task's claim")
            case .forbidden: return WireError(.forbidden, "this claim belongs to another lane")
            case .staleClaim(let why): return WireError(.staleClaim, "claim is no longer live: \(why)")
            }
        }
    }
}
