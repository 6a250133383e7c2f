import Foundation
import Synchronization

/// The SSE scenario (`kanban-bench --sse`): what 20 live browser streams cost the lanes. 8 workers
/// run complete+claim_next on a fresh board without any, then on another fresh board of the same size
/// while `kanban-bridge web` (its own process, a client of the wire) streams every event to 20 SSE
/// clients that read as fast as they can. The ratio of the two throughputs is the price; the face's
/// peak RSS is what it held for those clients.
public enum SSEBench {
    public struct Result: Sendable {
        public var without: LifecycleResult
        public var with: LifecycleResult
        public var clients: Int
        public var bytesStreamed: Int
        public var webPeakRSSKiB: Int?
    }

    public static func run(bridgeBinary: String, workDir: String, tasks: Int, workers: Int = 8, clients: Int = 20,
                           maxSeconds: Double, progress: (String) -> Void) throws -> Result {
        func lifecycle(_ name: String, during: (BridgeProcess, BenchBoard) throws -> Void = { _, _ in }) throws -> LifecycleResult {
            let dir = workDir + "/sse-" + name
            let board = try BenchBoard(dir: dir, tasks: tasks)
            let bridge = try BridgeProcess(binary: bridgeBinary, board: board.path, adminToken: board.adminToken, logFile: dir + "/serve.log")
            defer { bridge.stop() }
            try during(bridge, board)
            progress("sse: \(workers) workers, claim_next, \(name) SSE clients")
            return try LifecycleBench.run(endpoint: bridge.command, board: board, workers: workers, claimNext: true, maxSeconds: maxSeconds)
        }
        let without = try lifecycle("without")
        var web: Process?
        var readers: [Thread] = []
        let streamed = Atomic<Int>(0)
        let stopReading = Atomic<Bool>(false)
        defer {
            stopReading.store(true, ordering: .relaxed)
            web?.terminate()
            web?.waitUntilExit()
        }
        var peak: Int?
        let with = try lifecycle("with \(clients)") { bridge, board in
            let port = try freeLoopbackPort()
            let p = Process()
            p.executableURL = URL(fileURLWithPath: bridgeBinary)
            p.arguments = ["web", "--endpoint", bridge.command, "--events", bridge.events, "--http", "127.0.0.1:\(port)", "--log-level", "warning"]
            var env = ProcessInfo.processInfo.environment
            env["KANBAN_BRIDGE_ADMIN_TOKEN"] = board.adminToken
            p.environment = env
            p.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try p.run()
            web = p
            for i in 0..<clients {
                let fd = try connect(port: port, timeoutSeconds: 30)
                let request = "GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(board.adminToken)\r\nAccept: text/event-stream\r\n\r\n"
                _ = request.withCString { send(fd, $0, strlen($0), 0) }
                let thread = Thread {
                    var buffer = [UInt8](repeating: 0, count: 65536)
                    var tv = timeval(tv_sec: 1, tv_usec: 0)
                    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                    while !stopReading.load(ordering: .relaxed) {
                        let n = recv(fd, &buffer, buffer.count, 0)
                        if n > 0 { streamed.add(n, ordering: .relaxed) } else if n == 0 { break }
                    }
                    close(fd)
                }
                thread.name = "sse-\(i)"
                readers.append(thread)
                thread.start()
            }
            // Every stream has its headers before the workers start (bounded wait).
            let deadline = Date().addingTimeInterval(30)
            while streamed.load(ordering: .relaxed) < clients * 100, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        }
        if let pid = web?.processIdentifier { peak = peakRSSKiB(pid: pid) }
        return Result(without: without, with: with, clients: clients, bytesStreamed: streamed.load(ordering: .relaxed), webPeakRSSKiB: peak)
    }

    /// A TCP connection to the face, retried until it listens.
    static func connect(port: UInt16, timeoutSeconds: Double) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while true {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if ok == 0 { return fd }
            close(fd)
            guard Date() < deadline else { throw BenchError("kanban-bridge web did not listen on \(port)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    public static func render(_ r: Result) -> String {
        func row(_ name: String, _ l: LifecycleResult) -> String {
            String(format: "| %@ | %d | %.0f | %@ |\n", name, l.tasksDone, l.tasksPerSecond,
                   l.claimLatency.map { String(format: "%.2f / %.2f", Double($0.p50) / 1e6, Double($0.p99) / 1e6) } ?? "–")
        }
        return "| 8 workers, complete+claim_next | tasks | tasks/s | round trip p50 / p99 ms |\n| --- | ---: | ---: | ---: |\n"
            + row("no SSE clients", r.without) + row("\(r.clients) live SSE clients", r.with)
            + String(format: "\n- throughput with ÷ without: **%.2f**\n", r.without.tasksPerSecond > 0 ? r.with.tasksPerSecond / r.without.tasksPerSecond : 0)
            + "- bytes streamed to the \(r.clients) clients: \(r.bytesStreamed)\n"
            + "- `kanban-bridge web` peak RSS: \(r.webPeakRSSKiB.map { "\($0 / 1024) MiB" } ?? "unknown")\n"
    }
}
