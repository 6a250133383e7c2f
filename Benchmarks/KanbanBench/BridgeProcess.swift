import Foundation
import KanbanModel
import KanbanProtocol
import ZeroMQ

/// The real coordinator, `kanban-bridge serve`, as a child process on a board file: measured as
/// it runs in production (its own process, its own allocator, its peak RSS readable in /proc).
public final class BridgeProcess {
    public let command: String
    public let events: String
    private let process: Process

    /// Starts `serve` on `board` with free loopback ports and waits until it answers `ping`.
    /// `launcher` runs it under another program (valgrind), `environment` adds variables (LD_PRELOAD),
    /// `pingIntervalMs` is how long each ping waits for its answer before the next is sent.
    public init(binary: String, board: String, adminToken: String, logFile: String, launcher: [String] = [],
                environment: [String: String] = [:], startTimeoutMs: Int = 60_000, pingIntervalMs: Int = 200) throws {
        command = "tcp://127.0.0.1:\(try freeLoopbackPort())"
        events = "tcp://127.0.0.1:\(try freeLoopbackPort())"
        process = Process()
        process.executableURL = URL(fileURLWithPath: launcher.isEmpty ? binary : "/usr/bin/env")
        process.arguments = (launcher.isEmpty ? [] : launcher + [binary]) + ["serve", "--db", board, "--command-endpoint", command, "--event-endpoint", events,
                             "--log-level", "warning"]
        var env = ProcessInfo.processInfo.environment
        env["KANBAN_BRIDGE_ADMIN_TOKEN"] = adminToken
        env.merge(environment) { $1 }
        process.environment = env
        FileManager.default.createFile(atPath: logFile, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try waitForPing(timeoutMs: startTimeoutMs, intervalMs: pingIntervalMs)
    }

    public var pid: Int32 { process.processIdentifier }

    /// Peak RSS so far (KiB).
    public var peakRSSKiB: Int? { KanbanBench.peakRSSKiB(pid: pid) }

    private func waitForPing(timeoutMs: Int, intervalMs: Int) throws {
        let context = ZMQContext()
        let deadline = nowNs() + UInt64(timeoutMs) * 1_000_000
        while nowNs() < deadline {
            guard process.isRunning else { throw BenchError("kanban-bridge serve exited with status \(process.terminationStatus)") }
            let socket = try ZMQSocket(context, .req)
            try socket.connect(command)
            try socket.send([RequestEncoder.encode(.ping)])
            if try socket.waitReadable(timeoutMs: intervalMs) { return }
            socket.close()
        }
        throw BenchError("kanban-bridge serve did not answer ping within \(timeoutMs) ms")
    }

    /// SIGTERM, then wait (it answers parked claims and closes its sockets).
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit { stop() }
}
