import Foundation
import KanbanClient
import KanbanCoordinator
import KanbanModel
import KanbanProtocol

/// One task a runner has claimed and runs: its claim, its process, and what is left to tell the
/// coordinator. Every request about it that changes the board carries a request id fixed here, so a
/// resend after the coordinator was out of reach (minutes, or a restart) is answered from the first
/// reply and nothing is done twice.
struct RunSlot {
    enum Phase: Equatable {
        /// The workspace is being made and the worker started.
        case starting
        case running(pid: pid_t)
        /// The worker ended; its output is flushed, then the claim ended as `action` says.
        case exited(ExitStatus)
        /// The worker could not start: the claim fails with this reason.
        case didNotStart(String)
    }

    /// Why the runner stops a worker itself.
    enum Stop: Equatable {
        case runtimeLimit
        /// The coordinator says the claim is over (lease expired while out of reach, reclaimed): the
        /// worker's result would be refused, so it is stopped and nothing more is sent.
        case claimLost(String)
        /// SIGTERM's deadline passed: the task is released for another runner.
        case drain
    }

    let lane: RunnerLane
    let ref: ClaimRef
    let runID: Int64
    let leaseMs: Int64
    let output = WorkerOutput()
    var phase: Phase = .starting
    var stop: Stop?
    /// When SIGTERM went out (monotonic ms); SIGKILL follows after the grace period.
    var terminatedAtMs: Int64?
    var deadlineMs: Int64?
    /// When the claim needs its next heartbeat: a third of the lease after it was last renewed (by a
    /// heartbeat or a chunk of output).
    var nextBeatMs: Int64
    var lastRenewedMs: Int64 { nextBeatMs - leaseMs / 3 }
    /// The `log.append` in flight: its request id and how many bytes it carries (resent as is).
    var pendingLog: (requestID: String, text: String, bytes: Int)?
    let endRequestID = CommandClient.newRequestID()

    init(lane: RunnerLane, ref: ClaimRef, runID: Int64, leaseMs: Int64, nowMs: Int64) {
        self.lane = lane; self.ref = ref; self.runID = runID; self.leaseMs = leaseMs
        self.nextBeatMs = nowMs + leaseMs / 3
    }

    /// The request that ends the claim, once the worker ended and its output reached the board.
    func ending() -> Request? {
        switch (stop, phase) {
        case (.claimLost, _): return nil
        case (.drain, _):
            return .release(ref, reason: "the runner on \(ProcessInfo.processInfo.hostName) stopped before the task finished", retryAfterSeconds: nil)
        case (_, .didNotStart(let why)):
            return .fail(ref, reason: "did not start: \(why)", exitCode: nil, signal: nil)
        case (.runtimeLimit, .exited):
            return .fail(ref, reason: "over its time limit; stopped", exitCode: nil, signal: Int(SIGTERM))
        case (nil, .exited(let status)):
            var code: Int?
            var signal: Int?
            switch status {
            case .exited(let c): code = Int(c)
            case .signaled(let s): signal = Int(s)
            }
            let tail = output.tail
            switch lane.exits.action(exitCode: code) {
            case .complete:
                return .complete(ref, result: tail, summary: Self.lastLine(tail), metadata: ["exit_code": .int(Int64(code ?? 0))], claimNext: false)
            case .block:
                return .block(ref, reason: "exit \(code.map(String.init) ?? "by signal \(signal ?? 0)"): \(Self.lastLine(tail) ?? "no output")", kind: "worker_exit")
            case .release(let after):
                return .release(ref, reason: "exit \(code ?? -1): the worker asked to be run later", retryAfterSeconds: after)
            case .fail:
                return .fail(ref, reason: Self.lastLine(tail), exitCode: code, signal: signal)
            }
        default: return nil
        }
    }

    static func lastLine(_ text: String) -> String? {
        guard let line = text.split(whereSeparator: \.isNewline).last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else { return nil }
        return String(line.prefix(500))
    }
}
