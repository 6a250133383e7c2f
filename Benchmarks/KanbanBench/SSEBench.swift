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
        /// Events delivered, summed over the clients (the `id:` lines the readers saw).
        public var eventsDelivered: Int
        /// CPU seconds (user+system, /proc) during the measured run with clients: the face's process,
        /// and the benchmark's own reader threads (which share the 2 cores with everything else).
        public var webCPUSeconds: Double?
        public var readersCPUSeconds: Double?
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
        let delivered = Atomic<Int>(0)
        let readerClocks = Mutex<[clockid_t]>([])
        var cpuAtStart: (web: Double?, readers: Double?) = (nil, nil)
        let stopReading = Atomic<Bool>(false)
        defer {
            stopReading.store(true, ordering: .relaxed)
            // SIGTERM, then SIGKILL after 5 s: a graceful shutdown that waits on open streams must not
            // hang the benchmark (it did once, for 12 minutes).
            if let w = web {
                w.terminate()
                let deadline = Date().addingTimeInterval(5)
                while w.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
                if w.isRunning { kill(w.processIdentifier, SIGKILL) }
                w.waitUntilExit()
            }
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
                // The reader is as cheap as a client can be (so the run measures the face, not the
                // benchmark): a raw socket, one 64 KiB recv at a time, bytes discarded after counting
                // the lines that start with `i` (only `id:` does), no HTTP or SSE parsing, no allocation.
                let thread = Thread {
                    var clock = clockid_t()
                    if pthread_getcpuclockid(pthread_self(), &clock) == 0 { readerClocks.withLock { $0.append(clock) } }
                    var buffer = [UInt8](repeating: 0, count: 65536)
                    var previous: UInt8 = 0
                    var ids = 0
                    var tv = timeval(tv_sec: 1, tv_usec: 0)
                    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                    while !stopReading.load(ordering: .relaxed) {
                        let n = recv(fd, &buffer, buffer.count, 0)
                        if n > 0 {
                            ids = 0
                            for b in buffer[0..<n] { if previous == 10 && b == 105 { ids += 1 }; previous = b }
                            streamed.add(n, ordering: .relaxed)
                            delivered.add(ids, ordering: .relaxed)
                        } else if n == 0 { break }
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
            cpuAtStart = (Self.cpuSeconds(pid: p.processIdentifier), Self.readersCPU(readerClocks.withLock { $0 }))
        }
        var webCPU: Double?, readerCPU: Double?
        if let pid = web?.processIdentifier {
            peak = peakRSSKiB(pid: pid)
            if let a = cpuAtStart.web, let b = cpuSeconds(pid: pid) { webCPU = b - a }
        }
        if let a = cpuAtStart.readers, let b = Self.readersCPU(readerClocks.withLock { $0 }) { readerCPU = b - a }
        return Result(without: without, with: with, clients: clients, bytesStreamed: streamed.load(ordering: .relaxed), webPeakRSSKiB: peak,
                      eventsDelivered: delivered.load(ordering: .relaxed), webCPUSeconds: webCPU, readersCPUSeconds: readerCPU)
    }

    /// utime+stime of a process, from /proc.
    static func cpuSeconds(pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The reader threads' CPU time, by their thread CPU clocks (readable from any thread).
    static func readersCPU(_ clocks: [clockid_t]) -> Double? {
        clocks.isEmpty ? nil : clocks.reduce(0.0) { sum, clock in
            var t = timespec()
            return clock_gettime(clock, &t) == 0 ? sum + Double(t.tv_sec) + Double(t.tv_nsec) / 1e9 : sum
        }
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
        func cpu(_ name: String, _ seconds: Double?, _ r: Result) -> String {
            guard let s = seconds else { return "- \(name): unknown\n" }
            return String(format: "- %@ during the run: %.2f s (%.0f%% of one core), %.1f µs per event per client\n", name, s,
                          r.with.seconds > 0 ? 100 * s / r.with.seconds : 0, r.eventsDelivered > 0 ? 1e6 * s / Double(r.eventsDelivered) : 0)
        }
        return "| 8 workers, complete+claim_next | tasks | tasks/s | round trip p50 / p99 ms |\n| --- | ---: | ---: | ---: |\n"
            + row("no SSE clients", r.without) + row("\(r.clients) live SSE clients", r.with)
            + String(format: "\n- throughput with ÷ without: **%.2f**\n", r.without.tasksPerSecond > 0 ? r.with.tasksPerSecond / r.without.tasksPerSecond : 0)
            + "- bytes streamed to the \(r.clients) clients: \(r.bytesStreamed)\n"
            + "- events delivered (summed over the clients): \(r.eventsDelivered)\n"
            + "- `kanban-bridge web` peak RSS: \(r.webPeakRSSKiB.map { "\($0 / 1024) MiB" } ?? "unknown")\n"
            + cpu("`kanban-bridge web` CPU", r.webCPUSeconds, r) + cpu("the benchmark's 20 reader threads' CPU", r.readersCPUSeconds, r)
    }
}
