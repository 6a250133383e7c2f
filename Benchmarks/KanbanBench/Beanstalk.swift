import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A minimal client for beanstalkd's text protocol (put, reserve-with-timeout, delete) over one TCP
/// connection, written from the protocol description: commands and replies are `\r\n`-terminated
/// lines, a job body follows its header line and ends with `\r\n` too.
public final class BeanstalkClient {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    public init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket() failed: errno \(errno)") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw BenchError("connect to beanstalkd on port \(port) failed: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        buffer.reserveCapacity(64 * 1024)
    }

    deinit { close(fd) }

    /// Puts one job; returns its id.
    @discardableResult
    public func put(_ body: [UInt8], priority: UInt32 = 0, ttr: Int = 3600) throws -> Int {
        try write(Array("put \(priority) 0 \(ttr) \(body.count)\r\n".utf8) + body + [13, 10])
        return try expectInserted()
    }

    /// Puts `count` jobs pipelined: every command first, then every reply (for preloading).
    public func putMany(_ count: Int, body: [UInt8]) throws {
        let command = Array("put 0 0 3600 \(body.count)\r\n".utf8) + body + [13, 10]
        var chunk: [UInt8] = []
        var sent = 0
        while sent < count {
            let n = min(1000, count - sent)
            chunk.removeAll(keepingCapacity: true)
            for _ in 0..<n { chunk += command }
            try write(chunk)
            for _ in 0..<n { _ = try expectInserted() }
            sent += n
        }
    }

    /// Reserves a job if one is ready now (`reserve-with-timeout 0`); nil when there is none.
    public func reserveNow() throws -> Int? {
        try write(Array("reserve-with-timeout 0\r\n".utf8))
        let line = try readLine()
        if line == "TIMED_OUT" { return nil }
        let parts = line.split(separator: " ")
        guard parts.count == 3, parts[0] == "RESERVED", let id = Int(parts[1]), let bytes = Int(parts[2]) else {
            throw BenchError("beanstalkd: unexpected reply to reserve: \(line)")
        }
        _ = try readBytes(bytes + 2)
        return id
    }

    public func delete(_ id: Int) throws {
        try write(Array("delete \(id)\r\n".utf8))
        let line = try readLine()
        guard line == "DELETED" else { throw BenchError("beanstalkd: unexpected reply to delete: \(line)") }
    }

    /// `stats` → the `current-jobs-ready` count.
    public func readyJobs() throws -> Int {
        try write(Array("stats\r\n".utf8))
        let header = try readLine()
        let parts = header.split(separator: " ")
        guard parts.count == 2, parts[0] == "OK", let bytes = Int(parts[1]) else { throw BenchError("beanstalkd: bad stats reply \(header)") }
        let yaml = String(decoding: try readBytes(bytes + 2), as: UTF8.self)
        for line in yaml.split(separator: "\n") where line.hasPrefix("current-jobs-ready:") {
            return Int(line.split(separator: " ").last ?? "") ?? 0
        }
        return 0
    }

    private func expectInserted() throws -> Int {
        let line = try readLine()
        guard line.hasPrefix("INSERTED "), let id = Int(line.dropFirst(9)) else { throw BenchError("beanstalkd: unexpected reply to put: \(line)") }
        return id
    }

    private func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw BenchError("beanstalkd: write failed: errno \(errno)") }
            offset += n
        }
    }

    private func fill() throws {
        if start > 0 && start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { throw BenchError("beanstalkd closed the connection (errno \(errno))") }
        buffer += chunk[0..<n]
    }

    private func readLine() throws -> String {
        while true {
            var i = start
            while i + 1 < buffer.count {
                if buffer[i] == 13 && buffer[i + 1] == 10 {
                    let line = String(decoding: buffer[start..<i], as: UTF8.self)
                    start = i + 2
                    return line
                }
                i += 1
            }
            try fill()
        }
    }

    private func readBytes(_ count: Int) throws -> ArraySlice<UInt8> {
        while buffer.count - start < count { try fill() }
        defer { start += count }
        return buffer[start..<(start + count)]
    }
}

/// beanstalkd as a child process with a binlog, on a free loopback port.
public final class BeanstalkServer {
    public let port: UInt16
    private let process: Process

    /// `fsyncMs` 0 makes beanstalkd fsync every binlog write (every acknowledgement durable, like the
    /// coordinator); nil never fsyncs (`-F`, for preloading only); otherwise at most every `fsyncMs` ms.
    public init(binary: String, binlogDir: String, fsyncMs: Int?) throws {
        try FileManager.default.createDirectory(atPath: binlogDir, withIntermediateDirectories: true)
        port = try freeLoopbackPort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-l", "127.0.0.1", "-p", String(port), "-b", binlogDir] + (fsyncMs.map { ["-f", String($0)] } ?? ["-F"])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = nowNs() + 30_000_000_000
        while nowNs() < deadline {
            if (try? BeanstalkClient(port: port)) != nil { return }
            guard process.isRunning else { throw BenchError("beanstalkd exited with status \(process.terminationStatus)") }
            usleep(20_000)
        }
        throw BenchError("beanstalkd did not accept connections within 30 s")
    }

    public var pid: Int32 { process.processIdentifier }

    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit { stop() }

    /// Where beanstalkd is installed, or nil.
    public static func find(_ explicit: String?) -> String? {
        if let explicit { return FileManager.default.isExecutableFile(atPath: explicit) ? explicit : nil }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/usr/sbin").split(separator: ":") + ["/usr/sbin", "/usr/bin"] {
            let path = "\(dir)/beanstalkd"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

/// The same lifecycle on beanstalkd: N workers with a connection each loop reserve → delete until
/// the tube is empty. Jobs are preloaded without fsync, then beanstalkd restarts on that binlog with
/// the fsync policy being measured.
public enum BeanstalkBench {
    public static func run(binary: String, dir: String, workers: Int, jobs: Int, fsyncMs: Int?,
                           maxSeconds: Double) throws -> LifecycleResult {
        let binlog = dir + "/binlog"
        let body = Array(#"{"title":"bench task","kind":"lifecycle"}"#.utf8)
        do {
            let loader = try BeanstalkServer(binary: binary, binlogDir: binlog, fsyncMs: nil)
            try BeanstalkClient(port: loader.port).putMany(jobs, body: body)
            loader.stop()
        }
        let server = try BeanstalkServer(binary: binary, binlogDir: binlog, fsyncMs: fsyncMs)
        defer { server.stop() }
        let ready = try BeanstalkClient(port: server.port).readyJobs()
        guard ready == jobs else { throw BenchError("beanstalkd recovered \(ready) of \(jobs) preloaded jobs from its binlog") }
        let gate = StartGate(parties: workers)
        gate.openInBackground()
        let latencies = Collector<Latencies>()
        let counts = Collector<Int>()
        let errors = Collector<String>()
        let finishedAt = Atomic<UInt64>(0)
        let port = server.port
        runThreads(workers) { i in
            var latency = Latencies()
            var done = 0
            defer { latencies.add(latency); counts.add(done); finishedAt.max(nowNs()) }
            do {
                let client = try BeanstalkClient(port: port)
                gate.arriveAndWait()
                let deadline = gate.startedAt + UInt64(maxSeconds * 1e9)
                while nowNs() < deadline {
                    let t0 = nowNs()
                    guard let id = try client.reserveNow() else { break }
                    latency.add(nowNs() - t0)
                    try client.delete(id)
                    done += 1
                }
            } catch {
                errors.add("beanstalk worker \(i): \(error)")
            }
        }
        if let first = errors.all.first { throw BenchError(first) }
        var all = Latencies()
        for l in latencies.all { all.add(contentsOf: l) }
        return LifecycleResult(workers: workers, claimNext: false, tasksDone: counts.all.reduce(0, +),
                               seconds: Double(finishedAt.load(ordering: .acquiring) - gate.startedAt) / 1e9,
                               claimLatency: all.summary(), heartbeatLatency: nil)
    }
}
