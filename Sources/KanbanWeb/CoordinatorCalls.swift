import Foundation
import KanbanClient
import KanbanModel
import KanbanProtocol
import ZeroMQ

/// Sends wire requests from async HTTP handlers without blocking SwiftNIO's event loop.
///
/// `CommandClient` is a blocking REQ socket, one per thread. So a few threads of our own each hold
/// one and take requests from a bounded queue; a handler suspends on a continuation until its reply
/// comes back. Each request carries the credential of the session that asked (`auth` is set per call),
/// so the coordinator applies its own access policy to every browser action. When the queue is full
/// the caller gets `busy` at once rather than a growing backlog.
public final class CoordinatorCalls: @unchecked Sendable {
    struct Job {
        let request: Request
        let auth: String?
        let done: @Sendable (Result<JSONValue, Error>) -> Void
    }

    public let endpoint: String
    private let lock = NSCondition()
    private var queue: [Job] = []
    private var stopping = false
    private var threads: [Thread] = []
    private let maxQueued: Int

    /// `threads` REQ clients to `endpoint`; at most `maxQueued` requests wait for one.
    public init(endpoint: String, threads: Int = 4, maxQueued: Int = 256, timeoutMs: Int = 5000, context: ZMQContext = ZMQContext()) {
        self.endpoint = endpoint
        self.maxQueued = maxQueued
        for i in 0..<threads {
            let thread = Thread { [self] in
                let client = CommandClient(endpoint: endpoint, auth: nil, timeoutMs: timeoutMs, retries: 1, context: context)
                client.busyRetries = 2
                while let job = next() {
                    client.auth = job.auth
                    job.done(Result { try client.call(job.request) })
                }
                client.reset()
            }
            thread.name = "kanban-web-wire-\(i)"
            self.threads.append(thread)
            thread.start()
        }
    }

    private func next() -> Job? {
        lock.lock()
        defer { lock.unlock() }
        while queue.isEmpty && !stopping { lock.wait() }
        return queue.isEmpty ? nil : queue.removeFirst()
    }

    /// The request's `result`, or throws `WebError` (the wire's refusal, `busy`, or unreachable).
    public func call(_ request: Request, auth: String?) async throws -> JSONValue {
        let result: Result<JSONValue, Error> = await withCheckedContinuation { continuation in
            let job = Job(request: request, auth: auth) { continuation.resume(returning: $0) }
            lock.lock()
            let accepted = !stopping && queue.count < maxQueued
            if accepted { queue.append(job); lock.signal() }
            lock.unlock()
            if !accepted { continuation.resume(returning: .failure(WebError.busy)) }
        }
        switch result {
        case .success(let value): return value
        case .failure(let error as WireError): throw WebError.wire(error)
        case .failure(let error as WebError): throw error
        case .failure(let error): throw WebError.unreachable(error)
        }
    }

    /// Ends the threads once the queued requests are answered.
    public func stop() {
        lock.lock()
        stopping = true
        lock.broadcast()
        lock.unlock()
    }
}
