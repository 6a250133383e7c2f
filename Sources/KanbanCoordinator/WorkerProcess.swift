import CSpawn
import Foundation
import KanbanModel

/// How a worker process ended.
public enum ExitStatus: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32)

    /// For event data: `exit_code`, or `signal` for a worker killed by one.
    public var fields: [String: JSONValue] {
        switch self {
        case .exited(let code): return ["exit_code": .int(Int64(code))]
        case .signaled(let sig): return ["signal": .int(Int64(sig))]
        }
    }
}

/// Starting, signalling and reaping worker processes. Each worker leads its own process group, so
/// signalling the group reaches whatever the worker started too.
public enum ProcessControl {
    public struct SpawnError: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Starts `argv` with exactly `environment`, in `cwd`, output appended to `outputFD`.
    public static func spawn(_ argv: [String], environment: [String: String], cwd: String?, outputFD: Int32) throws -> pid_t {
        guard !argv.isEmpty else { throw SpawnError(description: "the lane has an empty command") }
        var args: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var env: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            args.forEach { free($0) }
            env.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc: Int32 = args.withUnsafeMutableBufferPointer { a in
            env.withUnsafeMutableBufferPointer { e in
                if let cwd { return kb_spawn(&pid, a.baseAddress, e.baseAddress, cwd, outputFD) }
                return kb_spawn(&pid, a.baseAddress, e.baseAddress, nil, outputFD)
            }
        }
        guard rc == 0 else { throw SpawnError(description: "cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// The exit status if `pid` has ended (reaping it), nil while it runs.
    public static func reap(_ pid: pid_t, wait: Bool = false) -> ExitStatus? {
        var status: Int32 = 0
        let rc = waitpid(pid, &status, wait ? 0 : WNOHANG)
        if rc == 0 { return nil }
        if rc < 0 { return .exited(-1) }  // not our child any more (already reaped): treat as gone
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot import.
        return status & 0x7F == 0 ? .exited((status >> 8) & 0xFF) : .signaled(status & 0x7F)
    }

    /// True when `pid` is alive and is the worker of `runID`: its environment (readable in /proc for
    /// our own processes) carries that run's `KANBAN_RUN_ID`. A pid alone could have been reused.
    public static func isWorker(_ pid: pid_t, runID: Int64) -> Bool {
        guard pid > 0, let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
        let wanted = Array("KANBAN_RUN_ID=\(runID)".utf8)
        return environ.split(separator: 0).contains { Array($0) == wanted }
    }

    /// True while `pid` exists and is not a zombie (an orphan's zombie waits for whoever adopted it).
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        // "pid (comm) S …": the state letter follows the command name, which may itself hold ')'.
        return stat[stat.index(after: close)...].dropFirst().first != "Z"
    }

    /// Sends `signal` to the worker's whole process group.
    public static func signalGroup(_ pid: pid_t, _ signal: Int32) {
        _ = kill(-pid, signal)
    }

    /// Runs a short helper command (git) to completion; returns its exit status and output.
    static func run(_ argv: [String], cwd: String?) throws -> (status: ExitStatus, output: String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kb-run-\(UUID().uuidString)").path
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw SpawnError(description: "cannot create \(path)") }
        defer { close(fd); unlink(path) }
        let env = ProcessInfo.processInfo.environment.filter { $0.key != "KANBAN_BRIDGE_ADMIN_TOKEN" }
        let pid = try spawn(argv, environment: env, cwd: cwd, outputFD: fd)
        let status = reap(pid, wait: true) ?? .exited(-1)
        let output = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return (status, output.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
