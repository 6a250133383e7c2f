import Foundation
import Synchronization
import ZeroMQ

/// Event latency: one lane worker heartbeats (each heartbeat commits one event), and S subscribers
/// note when each event reaches them. The coordinator sends the reply right after the COMMIT and
/// publishes right after that, so the reply's arrival marks the commit (plus one loopback hop) and
/// "commit → SUB receive" is SUB receive time − reply arrival (0 if the event won the race).
/// "request → SUB receive" bounds it from above: it includes the whole durable round trip.
public enum EventBench {
    public struct Result: Sendable {
        public var subscribers: Int
        public var events: Int
        public var commitToReceive: LatencySummary?
        public var requestToReceive: LatencySummary?
        public var missed: Int
    }

    public static func run(commandEndpoint: String, eventEndpoint: String, board: BenchBoard,
                           subscribers: Int, events: Int) throws -> Result {
        let context = ZMQContext()
        let current = Atomic<Int>(-1)
        let stopping = Atomic<Bool>(false)
        let arrived = DispatchSemaphore(value: 0)
        let seen = Atomic<Int>(0)  // subscribers that got their first event (slow-joiner warm-up)
        let received = Collector<(Int, [UInt64])>()
        let topic = BenchBoard.eventLane + "."
        let adminToken = board.adminToken
        let subscribersDone = DispatchGroup()
        for k in 0..<subscribers {
            subscribersDone.enter()
            Thread {
                var times = [UInt64](repeating: 0, count: events)
                var first = true
                defer { received.add((k, times)); subscribersDone.leave() }
                // Subscribers show a token (PLAIN), as every subscriber of a token-mode coordinator must.
                guard let socket = try? ZMQSocket(context, .sub),
                      (try? socket.makePlainClient(username: "kanban", password: adminToken)) != nil,
                      (try? socket.subscribe(topic)) != nil, (try? socket.connect(eventEndpoint)) != nil else { return }
                while !stopping.load(ordering: .acquiring) {
                    guard (try? socket.waitReadable(timeoutMs: 50)) == true else { continue }
                    while (try? socket.receive(dontWait: true)) != nil {
                        let t = nowNs()
                        if first { first = false; seen.add(1, ordering: .acquiringAndReleasing) }
                        let i = current.load(ordering: .acquiring)
                        if i >= 0 && i < events && times[i] == 0 {
                            times[i] = t
                            arrived.signal()
                        }
                    }
                }
                socket.close()
            }.start()
        }

        let client = try WireClient(context: context, endpoint: commandEndpoint, auth: board.tokens[BenchBoard.eventLane]!, name: "ev")
        let grant = try client.claimOne(lane: BenchBoard.eventLane)
        // PUB/SUB joins late: heartbeat until every subscriber has heard one, then let the stream settle.
        let warmDeadline = nowNs() + 10_000_000_000
        while seen.load(ordering: .acquiring) < subscribers {
            guard nowNs() < warmDeadline else { throw BenchError("only \(seen.load(ordering: .acquiring)) of \(subscribers) subscribers got events") }
            _ = try client.heartbeat(taskID: grant.taskID, token: grant.token)
            usleep(20_000)
        }
        usleep(100_000)
        var sent = [UInt64](repeating: 0, count: events)
        var replied = [UInt64](repeating: 0, count: events)
        var missed = 0
        for i in 0..<events {
            current.store(i, ordering: .releasing)
            sent[i] = nowNs()
            let reply = try client.heartbeat(taskID: grant.taskID, token: grant.token)
            replied[i] = nowNs()
            guard ReplyScan.isOK(reply) else { throw BenchError("heartbeat failed: \(String(decoding: reply.prefix(200), as: UTF8.self))") }
            for _ in 0..<subscribers where arrived.wait(timeout: .now() + 1) == .timedOut { missed += 1 }
        }
        stopping.store(true, ordering: .releasing)
        subscribersDone.wait()
        var commit = Latencies(), request = Latencies()
        for (_, times) in received.all {
            for i in 0..<events where times[i] > 0 {
                commit.add(times[i] > replied[i] ? times[i] - replied[i] : 0)
                request.add(times[i] - sent[i])
            }
        }
        return Result(subscribers: subscribers, events: events, commitToReceive: commit.summary(),
                      requestToReceive: request.summary(), missed: missed)
    }
}
