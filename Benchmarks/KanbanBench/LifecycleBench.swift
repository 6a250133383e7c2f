import Foundation
import Synchronization
import ZeroMQ

/// What one lifecycle run measured.
public struct LifecycleResult: Sendable {
    public var workers: Int
    public var claimNext: Bool
    public var tasksDone: Int
    public var seconds: Double
    /// Plain mode: the `claim` round trips. claim_next mode: the `complete`+`claim_next` round trips.
    public var claimLatency: LatencySummary?
    /// Heartbeats sent by a separate probe lane while the workers ran.
    public var heartbeatLatency: LatencySummary?
    public var tasksPerSecond: Double { seconds > 0 ? Double(tasksDone) / seconds : 0 }
}

/// N workers, each a thread with its own REQ socket, loop on the work lane until it is empty (or
/// time runs out): claim → complete, or, with `claimNext`, complete-and-claim-next in one round trip.
/// Every reply they get was committed (synchronous=FULL) before it was sent.
public enum LifecycleBench {
    public static func run(endpoint: String, board: BenchBoard, workers: Int, claimNext: Bool,
                           maxSeconds: Double, maxTasks: Int = .max) throws -> LifecycleResult {
        let context = ZMQContext()
        let gate = StartGate(parties: workers)
        let latencies = Collector<Latencies>()
        let counts = Collector<Int>()
        let errors = Collector<String>()
        let finishedAt = Atomic<UInt64>(0)
        let token = board.tokens[BenchBoard.workLane]!
        let lane = BenchBoard.workLane
        let probe = HeartbeatProbe(context: context, endpoint: endpoint, token: board.tokens[BenchBoard.probeLane]!)
        probe.start()
        gate.openInBackground()
        runThreads(workers) { i in
            var latency = Latencies()
            var done = 0
            defer {
                latencies.add(latency)
                counts.add(done)
                finishedAt.max(nowNs())
            }
            do {
                let client = try WireClient(context: context, endpoint: endpoint, auth: token, name: "w\(i)")
                gate.arriveAndWait()
                let deadline = gate.startedAt + UInt64(maxSeconds * 1e9)
                if claimNext {
                    var t0 = nowNs()
                    var current = ReplyScan.grant(try client.claim(lane: lane))
                    latency.add(nowNs() - t0)
                    while let grant = current, nowNs() < deadline, done < maxTasks {
                        t0 = nowNs()
                        let reply = try client.complete(taskID: grant.taskID, token: grant.token, claimNext: true)
                        latency.add(nowNs() - t0)
                        guard ReplyScan.isOK(reply) else { throw BenchError("complete failed: \(String(decoding: reply.prefix(300), as: UTF8.self))") }
                        done += 1
                        current = ReplyScan.grant(reply)
                    }
                } else {
                    while nowNs() < deadline, done < maxTasks {
                        let t0 = nowNs()
                        let reply = try client.claim(lane: lane)
                        latency.add(nowNs() - t0)
                        guard let grant = ReplyScan.grant(reply) else {
                            guard ReplyScan.isOK(reply) else { throw BenchError("claim failed: \(String(decoding: reply.prefix(300), as: UTF8.self))") }
                            break  // the lane is empty
                        }
                        let completed = try client.complete(taskID: grant.taskID, token: grant.token, claimNext: false)
                        guard ReplyScan.isOK(completed) else { throw BenchError("complete failed: \(String(decoding: completed.prefix(300), as: UTF8.self))") }
                        done += 1
                    }
                }
            } catch {
                errors.add("worker \(i): \(error)")
            }
        }
        let heartbeats = probe.stop()
        if let first = errors.all.first { throw BenchError("lifecycle run failed (\(errors.all.count) worker(s)): \(first)") }
        var all = Latencies()
        for l in latencies.all { all.add(contentsOf: l) }
        let seconds = Double(finishedAt.load(ordering: .acquiring) - gate.startedAt) / 1e9
        return LifecycleResult(workers: workers, claimNext: claimNext, tasksDone: counts.all.reduce(0, +), seconds: seconds,
                               claimLatency: all.summary(), heartbeatLatency: heartbeats.summary())
    }
}

extension Atomic where Value == UInt64 {
    func max(_ value: UInt64) {
        var current = load(ordering: .relaxed)
        while value > current {
            let (exchanged, original) = compareExchange(expected: current, desired: value, ordering: .acquiringAndReleasing)
            if exchanged { return }
            current = original
        }
    }
}

/// A lane worker that holds one claim and heartbeats it every few milliseconds while the load runs,
/// to measure heartbeat latency under that load.
final class HeartbeatProbe: @unchecked Sendable {
    private let context: ZMQContext
    private let endpoint: String
    private let token: String
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private var latencies = Latencies()  // written by the probe thread, read after `done`
    private var failure: String?

    init(context: ZMQContext, endpoint: String, token: String) {
        self.context = context; self.endpoint = endpoint; self.token = token
    }

    func start() {
        let thread = Thread { [self] in
            defer { done.signal() }
            do {
                let client = try WireClient(context: context, endpoint: endpoint, auth: token, name: "probe")
                let grant = try client.claimOne(lane: BenchBoard.probeLane)
                while !stopping.load(ordering: .acquiring) {
                    let t0 = nowNs()
                    let reply = try client.heartbeat(taskID: grant.taskID, token: grant.token)
                    latencies.add(nowNs() - t0)
                    guard ReplyScan.isOK(reply) else { throw BenchError("heartbeat failed: \(String(decoding: reply.prefix(200), as: UTF8.self))") }
                    usleep(5_000)
                }
            } catch {
                failure = "\(error)"
            }
        }
        thread.start()
    }

    /// Stops the probe and returns its heartbeat latencies.
    func stop() -> Latencies {
        stopping.store(true, ordering: .releasing)
        done.wait()
        if let failure { FileHandle.standardError.write(Data("heartbeat probe: \(failure)\n".utf8)) }
        return latencies
    }
}
