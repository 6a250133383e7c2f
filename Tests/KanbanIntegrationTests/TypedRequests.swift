import KanbanClient
import KanbanModel
import KanbanProtocol

/// Shorter spellings of the claim-scoped requests the tests send. Each is a `Request` case, sent
/// through `CommandClient.call(_:)` and so encoded by `RequestEncoder` like every client's request.
/// Tests that send malformed or hostile input build the JSON themselves and say so.
extension Request {
    static func complete(task: String, token: String, result: String? = nil, summary: String? = nil,
                         metadata: JSONValue? = nil, claimNext: Bool = false) -> Request {
        .complete(ClaimRef(taskID: task, claimToken: token), result: result, summary: summary, metadata: metadata, claimNext: claimNext)
    }

    static func heartbeat(task: String, token: String, note: String? = nil, metadata: JSONValue? = nil) -> Request {
        .heartbeat(ClaimRef(taskID: task, claimToken: token), note: note, metadata: metadata)
    }

    static func release(task: String, token: String, reason: String? = nil) -> Request {
        .release(ClaimRef(taskID: task, claimToken: token), reason: reason)
    }

    static func claim(lane: String, taskID: String? = nil, leaseSeconds: Int? = nil, waitMs: Int = 0) -> Request {
        .claim(ClaimRequest(lane: lane, taskID: taskID, leaseSeconds: leaseSeconds, waitMs: waitMs))
    }

    static func register(_ lane: Lane) -> Request { .laneRegister(LaneSpec(lane: lane)) }

    /// `task.list` with the decoder's default limit.
    static func taskList(status: TaskStatus? = nil, limit: Int = 500) -> Request {
        .taskList(status: status, assignee: nil, limit: limit)
    }
}

extension Request {
    static func laneUpdate(name: String, maxConcurrency: Int? = nil, curvePublicKey: String? = nil) -> Request {
        var patch = LanePatch()
        patch.maxConcurrency = maxConcurrency
        patch.curvePublicKey = curvePublicKey
        return .laneUpdate(name: name, patch)
    }
}

extension CommandClient {
    /// `call(_:requestID:)` with the request's own `timeout_ms` (how long a write may wait for the
    /// board's write lock before `busy`), which `call` derives from the client's timeout. Sent once:
    /// the tests that use it count every `busy` and timeout themselves.
    func call(_ request: Request, requestID: String? = nil, lockWaitMs: Int) throws -> JSONValue {
        let frame = RequestEncoder.encode(request, auth: auth, requestID: requestID ?? Self.newRequestID(), timeoutMs: lockWaitMs)
        return try Reply.parse(roundTrip(frame)).get()
    }
}
