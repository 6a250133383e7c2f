import Foundation
import Synchronization
import ZeroMQ

/// The transport's own ceiling: a ROUTER server that answers every request at once with a reply as
/// big as a real claim reply, and N REQ clients in lock step, as the coordinator's workers are.
public enum EchoBench {
    public struct Result: Sendable {
        public var clients: Int
        public var roundTrips: Int
        public var seconds: Double
        public var latency: LatencySummary?
        public var roundTripsPerSecond: Double { seconds > 0 ? Double(roundTrips) / seconds : 0 }
    }

    public static func run(clients: Int, requestBytes: Int, replyBytes: Int, seconds: Double) throws -> Result {
        let context = ZMQContext()
        let server = try ZMQSocket(context, .router)
        let endpoint = try server.bind("tcp://127.0.0.1:*")
        let stopping = Atomic<Bool>(false)
        let serverDone = DispatchSemaphore(value: 0)
        let reply = [UInt8](repeating: 0x78, count: replyBytes)
        let serverBox = UncheckedBox(server)
        Thread {
            let server = serverBox.value
            while !stopping.load(ordering: .acquiring) {
                guard (try? server.waitReadable(timeoutMs: 50)) == true else { continue }
                while var frames = try? server.receive(dontWait: true) {
                    frames[frames.count - 1] = reply
                    try? server.send(frames, dontWait: true)
                }
            }
            server.close()
            serverDone.signal()
        }.start()

        let gate = StartGate(parties: clients)
        gate.openInBackground()
        let latencies = Collector<Latencies>()
        let errors = Collector<String>()
        let finishedAt = Atomic<UInt64>(0)
        let request = [UInt8](repeating: 0x71, count: requestBytes)
        runThreads(clients) { i in
            var latency = Latencies()
            defer { latencies.add(latency); finishedAt.max(nowNs()) }
            do {
                let socket = try ZMQSocket(context, .req)
                try socket.connect(endpoint)
                // One round trip outside the clock, so the TCP connection is up before timing.
                try socket.send([request]); _ = try socket.receive()
                gate.arriveAndWait()
                let deadline = gate.startedAt + UInt64(seconds * 1e9)
                while nowNs() < deadline {
                    let t0 = nowNs()
                    try socket.send([request])
                    _ = try socket.receive()
                    latency.add(nowNs() - t0)
                }
                socket.close()
            } catch {
                errors.add("echo client \(i): \(error)")
            }
        }
        stopping.store(true, ordering: .releasing)
        serverDone.wait()
        if let first = errors.all.first { throw BenchError(first) }
        var all = Latencies()
        for l in latencies.all { all.add(contentsOf: l) }
        return Result(clients: clients, roundTrips: all.count,
                      seconds: Double(finishedAt.load(ordering: .acquiring) - gate.startedAt) / 1e9, latency: all.summary())
    }
}

/// Hands a value that is used by one thread at a time to that thread.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
