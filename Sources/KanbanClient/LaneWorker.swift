import Foundation
import KanbanModel
import KanbanProtocol
import Synchronization
import ZeroMQ

/// Runs a lane's work one task at a time: claim (waiting for work), run the handler while a
/// background thread heartbeats the claim, then complete with the handler's result or block with
/// its error. Every request is retried with its `request_id` across coordinator restarts.
public final class LaneWorker {
    public let lane: String
    private let endpoint: String
    private let token: String
    private let context: ZMQContext
    private let commands: CommandClient
    /// Lease asked for each claim (nil: the lane's or the board's).
    public var leaseSeconds: Int?

    /// Why a claimed task was not finished by this worker.
    public enum Failure: Error {
        /// The claim ended under us (lease expired, reclaimed in Hermes): someone else owns the task now.
        case claimLost(taskID: String)
    }

    public init(endpoint: String = Endpoints.command, lane: String, token: String, leaseSeconds: Int? = nil,
                timeoutMs: Int = 5000, retries: Int = 20, context: ZMQContext = ZMQContext()) {
        self.endpoint = endpoint
        self.lane = lane
        self.token = token
        self.leaseSeconds = leaseSeconds
        self.context = context
        self.commands = CommandClient(endpoint: endpoint, auth: token, timeoutMs: timeoutMs, retries: retries, context: context)
    }

    /// Claims one task (waiting up to `waitMs` for one) and works it. Returns the task id, or nil
    /// when no task arrived. The handler's return value becomes the task's result; a thrown error
    /// blocks the task with the error as the reason.
    @discardableResult
    public func runOne(waitMs: Int, handler: (JSONValue) throws -> String?) throws -> String? {
        let saved = commands.timeoutMs
        commands.timeoutMs = saved + waitMs
        defer { commands.timeoutMs = saved }
        let claim = try commands.call(.claim(ClaimRequest(lane: lane, leaseSeconds: leaseSeconds, waitMs: waitMs)))
        guard let task = claim["task"], !task.isNull, let taskID = task["id"]?.stringValue,
              let claimToken = claim["claim"]?["token"]?.stringValue,
              let leaseMs = claim["claim"]?["lease_expires_at_ms"]?.intValue else { return nil }
        commands.timeoutMs = saved
        let ref = ClaimRef(taskID: taskID, claimToken: claimToken)
        let beats = Heartbeats(endpoint: endpoint, auth: token, timeoutMs: saved, context: context, ref: ref, everyMs: max(200, Int((leaseMs - Int64(Date().timeIntervalSince1970 * 1000)) / 3)))
        let outcome = Result { try handler(task) }
        beats.stop()
        if beats.lost { throw Failure.claimLost(taskID: taskID) }
        do {
            switch outcome {
            case .success(let result):
                _ = try commands.call(.complete(ref, result: result, summary: nil, metadata: nil, claimNext: false))
            case .failure(let error):
                _ = try commands.call(.block(ref, reason: "\(error)", kind: nil))
            }
        } catch let e as WireError where e.code == .staleClaim {
            throw Failure.claimLost(taskID: taskID)
        }
        return taskID
    }
}

/// A thread that heartbeats one claim every `everyMs` until stopped, noting if the claim was lost.
final class Heartbeats: @unchecked Sendable {
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let state = Mutex<(stopped: Bool, lost: Bool)>((false, false))

    init(endpoint: String, auth: String, timeoutMs: Int, context: ZMQContext, ref: ClaimRef, everyMs: Int) {
        let thread = Thread { [self] in
            // Its own REQ socket: ZeroMQ sockets belong to one thread.
            let client = CommandClient(endpoint: endpoint, auth: auth, timeoutMs: timeoutMs, retries: 3, context: context)
            while wake.wait(timeout: .now() + .milliseconds(everyMs)) == .timedOut {
                if state.withLock({ $0.stopped }) { break }
                do {
                    _ = try client.call(.heartbeat(ref, note: nil, metadata: nil))
                } catch let e as WireError where e.code == .staleClaim || e.code == .notClaimOwner {
                    state.withLock { $0.lost = true }
                    break
                } catch {
                    continue  // coordinator unreachable for now: the lease may still hold; try again
                }
            }
            done.signal()
        }
        thread.name = "kanban-heartbeats"
        thread.start()
    }

    var lost: Bool { state.withLock { $0.lost } }

    func stop() {
        state.withLock { $0.stopped = true }
        wake.signal()
        done.wait()
    }
}
