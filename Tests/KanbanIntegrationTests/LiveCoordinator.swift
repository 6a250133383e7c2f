import Foundation
import KanbanClient
import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import KanbanStore
import Logging
import ZeroMQ

/// A real coordinator on loopback ephemeral ports over a real board file in a temporary directory.
/// Immutable after init; the ZeroMQ context is thread-safe, and each thread makes its own client.
final class LiveCoordinator: @unchecked Sendable {
    let dir: URL
    /// A second connection to the board, for the test's own reads. The coordinator's store belongs to
    /// its owner thread (it may be inside a transaction at any moment); reading through it from the
    /// test's thread would race with that.
    let board: SQLiteBoard
    let coordinator: Coordinator
    private(set) var adminToken = Secrets.newToken(prefix: "at_")
    let commandEndpoint: String
    let eventEndpoint: String
    let context = ZMQContext()

    /// Whether to delete the board when done (false while another coordinator takes the board over).
    var removeOnDeinit = true

    init(maxRequestBytes: Int = 1 << 20, maxFrameBytes: Int64 = 16 << 20, clock: CoordinatorClock = SystemClock(),
         dir existing: URL? = nil, adminToken: String? = nil, dispatch: Bool = false, retry: RetryPolicy = RetryPolicy(),
         curve: CurveServerSettings? = nil, logger: Logger? = nil, retryWindowMs: Int64 = 3_600_000) throws {
        dir = existing ?? FileManager.default.temporaryDirectory.appendingPathComponent("kb-live-\(UUID().uuidString)")
        if let adminToken { self.adminToken = adminToken }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let store = try SQLiteBoard(path: dir.appendingPathComponent("kanban.db").path)
        let logger = logger ?? {
            var l = Logger(label: "test-coordinator")
            // KB_TEST_DEBUG=1 shows the coordinator's debug log (every refusal and undelivered reply).
            l.logLevel = ProcessInfo.processInfo.environment["KB_TEST_DEBUG"] != nil ? .debug : .warning
            return l
        }()
        var config = CoordinatorConfig(commandEndpoint: "tcp://127.0.0.1:*", eventEndpoint: "tcp://127.0.0.1:*",
                                       adminToken: self.adminToken, limits: DecodeLimits(maxRequestBytes: maxRequestBytes),
                                       maxFrameBytes: maxFrameBytes, retry: retry)
        config.curve = curve
        config.retryWindowMs = retryWindowMs
        if dispatch {
            var env = ProcessInfo.processInfo.environment
            env["KANBAN_BRIDGE_BIN"] = Self.bridgeBinary
            config.dispatch = DispatchSettings(logDir: dir.appendingPathComponent("logs").path,
                                               workspaceRoot: dir.appendingPathComponent("workspaces").path,
                                               boardPath: dir.appendingPathComponent("kanban.db").path,
                                               environment: env, stopGraceMs: 500)
        }
        coordinator = Coordinator(config: config, store: store, clock: clock, logger: logger)
        (commandEndpoint, eventEndpoint) = try coordinator.start()
        board = try SQLiteBoard(path: dir.appendingPathComponent("kanban.db").path)
    }

    deinit {
        coordinator.stopAndWait()
        if removeOnDeinit { try? FileManager.default.removeItem(at: dir) }
    }

    /// The built `kanban-bridge` CLI (next to the test bundle), which spawned test workers report with.
    static let bridgeBinary: String = {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [here, here.deletingLastPathComponent()] where FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("kanban-bridge").path) {
            return dir.appendingPathComponent("kanban-bridge").path
        }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return repo.appendingPathComponent(".build/debug/kanban-bridge").path
    }()

    /// Stops this coordinator and starts a new one on the same board file (new ports, same admin token).
    func restarted() throws -> LiveCoordinator {
        removeOnDeinit = false
        coordinator.stopAndWait()
        return try LiveCoordinator(dir: dir, adminToken: adminToken)
    }

    func client(_ auth: String?, timeoutMs: Int = 5000) -> CommandClient {
        CommandClient(endpoint: commandEndpoint, auth: auth, timeoutMs: timeoutMs, context: context)
    }

    var admin: CommandClient { client(adminToken) }

    /// A client that authenticates with a CURVE keypair (and sends no token).
    func curveClient(_ keys: CurveKeyPair, serverKey: String, timeoutMs: Int = 5000) -> CommandClient {
        CommandClient(endpoint: commandEndpoint, auth: nil, timeoutMs: timeoutMs,
                      curve: CurveCredentials(serverKey: serverKey, keys: keys), context: context)
    }

    /// Registers a lane and returns its token.
    func registerLane(_ name: String, maxConcurrency: Int = 1) throws -> String {
        let r = try admin.call(.register(Lane(name: name, maxConcurrency: maxConcurrency)))
        return r["token"]!.stringValue!
    }

    @discardableResult
    func createTask(_ title: String, assignee: String? = "factory", parents: [String] = []) throws -> String {
        try admin.call(.taskCreate(TaskSpec(title: title, assignee: assignee, parents: parents)))["task"]!["id"]!.stringValue!
    }

    func status(_ task: String) throws -> String? {
        try admin.call(.taskGet(taskID: task))["task"]?["status"]?.stringValue
    }

    /// A SUB socket (all topics) known to be receiving: it waits until a probe event arrives, so
    /// no event published afterwards is lost to ZeroMQ's slow-joiner window.
    func subscriber() throws -> EventSubscriber {
        let sub = try EventSubscriber(endpoint: eventEndpoint, topicPrefix: "", token: adminToken, context: context)
        _ = try? registerLane("probe")
        for _ in 0..<100 {
            _ = try admin.call(.laneUpdate(name: "probe", maxConcurrency: 1))
            while let e = try sub.next(timeoutMs: 50) {
                guard e.topic == "probe.lane_updated" else { continue }
                while try sub.next(timeoutMs: 20) != nil {}  // drop the rest of the probe traffic
                return sub
            }
        }
        throw ClientError.transport("subscriber never received the probe")
    }
}

/// Error code of a failed call, or nil if it succeeded.
func errorCode(_ body: () throws -> Any) -> ErrorCode? {
    do { _ = try body(); return nil } catch let e as WireError { return e.code } catch { return .internal }
}
