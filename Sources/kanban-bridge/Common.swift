import ArgumentParser
import Foundation
import KanbanClient
import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import Logging

/// Where the coordinator is and who we are to it.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Command socket of the coordinator (default: $KANBAN_BRIDGE_ENDPOINT, else the local one).", valueName: "endpoint"))
    var endpoint: String = ProcessInfo.processInfo.environment["KANBAN_BRIDGE_ENDPOINT"] ?? Endpoints.command

    @Option(name: .long, help: ArgumentHelp("Board file; the admin token is read from admin.token beside it.", valueName: "path"))
    var db: String = "kanban.db"

    @Option(name: .long, help: ArgumentHelp(
        "Credential to send. Default: $KANBAN_LANE_TOKEN for worker commands, else the admin token.", valueName: "token"))
    var token: String?

    @Option(name: .long, help: "Milliseconds to wait for a reply.")
    var timeout: Int = 5000

    @Option(name: .long, help: ArgumentHelp(
        "The coordinator's CURVE public key, or its .pub file, when it runs CURVE. Default: $KANBAN_CURVE_SERVER_KEY.", valueName: "key|file"))
    var curveServerKey: String?

    @Option(name: .long, help: ArgumentHelp(
        "Your CURVE keypair (.key file) when the coordinator runs CURVE; its public key must be an admin or lane key. Default: $KANBAN_CURVE_KEY_FILE (or $KANBAN_CURVE_SECRET_KEY).",
        valueName: "file"))
    var curveKey: String?

    @Flag(name: .long, help: "Print the reply's result as JSON.")
    var json = false

    /// Sends `request` and prints its result: as JSON with `--json`, else through `human`.
    /// Failures become a message on stderr and the documented exit code.
    func run(_ request: Request, asLane: Bool = false, human: (JSONValue) -> Void) throws {
        try perform {
            let result = try client(preferLane: asLane).call(request)
            if json { printJSON(result) } else { human(result) }
        }
    }

    /// A client authenticated as a lane (worker verbs) or as admin (board management).
    func client(preferLane: Bool) throws -> CommandClient {
        let env = ProcessInfo.processInfo.environment
        let curve: CurveCredentials?
        do { curve = try CurveCredentials.resolve(serverKey: curveServerKey, clientKey: curveKey) } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        // With CURVE the key pair is the credential; no token goes over the wire.
        if let curve { return CommandClient(endpoint: endpoint, auth: nil, timeoutMs: timeout, curve: curve) }
        var credential = token
        if credential == nil, preferLane, let lane = env["KANBAN_LANE_TOKEN"], !lane.isEmpty { credential = lane }
        if credential == nil { credential = AdminToken.find(boardPath: db) }
        return CommandClient(endpoint: endpoint, auth: credential, timeoutMs: timeout)
    }
}

/// Runs a call and turns failures into a message on stderr and the documented exit code.
func perform(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as WireError {
        printError("\(error.code.rawValue): \(error.message)")
        throw ExitCode(exitCode(for: error.code))
    } catch let error as ClientError {
        printError("\(error)")
        throw ExitCode(8)
    }
}

func exitCode(for code: ErrorCode) -> Int32 {
    switch code {
    case .badRequest, .unknownOp, .tooLarge, .requestIDReused: return 2
    case .unauthorized, .forbidden: return 4
    case .notFound: return 5
    case .conflict, .notReady, .notAssigned, .laneFull: return 6
    case .notClaimOwner, .staleClaim: return 7
    case .internal, .busy: return 1
    }
}

/// Log lines to standard error at `level` (`--log-level`, already validated), for the long-running verbs.
func bootstrapLogging(level: String) {
    let level = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data(("kanban-bridge: " + message + "\n").utf8))
}

func printJSON(_ value: JSONValue) {
    print(JSONCodec.encodeString(value))
}

/// One line per task: id, status, assignee, priority, title.
func taskLine(_ t: JSONValue) -> String {
    let id = t["id"]?.stringValue ?? "?"
    let status = t["status"]?.stringValue ?? "?"
    let assignee = t["assignee"]?.stringValue ?? "-"
    let priority = t["priority"]?.intValue ?? 0
    return "\(id.padding(12))  \(status.padding(8))  \(assignee.padding(20))  p\(priority)  \(t["title"]?.stringValue ?? "")"
}

func laneLine(_ l: JSONValue) -> String {
    let name = l["name"]?.stringValue ?? "?"
    let kind = l["kind"]?.stringValue ?? "?"
    let running = l["running"]?.intValue ?? 0, max = l["max_concurrency"]?.intValue ?? 1
    var line = "\(name.padding(24))  \(kind.padding(10))  \(running)/\(max) running  \(l["queued"]?.intValue ?? 0) queued  \(l["claim_mode"]?.stringValue ?? "")"
    // A profile's runs: what they may do to its memory (`(default)`: follows max_concurrency).
    if let profile = l["profile"]?.stringValue, kind != "persistent", let memory = l["memory"]?.stringValue {
        line += "  profile \(profile) memory \(memory)" + (l["memory_default"]?.boolValue == true ? " (default)" : "")
        if let owner = l["memory_owner"]?.stringValue { line += " reviewed by \(owner)" }
    }
    return line
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

extension LaneKind: ExpressibleByArgument {}
extension ClaimMode: ExpressibleByArgument {}
extension WorkspacePolicy: ExpressibleByArgument {}
extension MemoryMode: ExpressibleByArgument {}
extension StatusMutationPolicy: ExpressibleByArgument {}
extension TaskStatus: ExpressibleByArgument {}

/// SIGINT and SIGTERM run `action` (on a dispatch queue, never in a signal handler) instead of killing
/// the process, so it can stop cleanly, for the rest of the process's life. The sources are kept here:
/// a source that is released is cancelled, and an optimised build releases a local the moment it is
/// last used, which left SIGTERM ignored (SIG_IGN) with nobody listening.
func onStopSignals(log: Logger, doing: String, _ action: @escaping @Sendable () -> Void) {
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    let sources = [SIGINT, SIGTERM].map { sig in
        let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        source.setEventHandler {
            log.notice("signal received, \(doing)", metadata: ["signal": "\(sig)"])
            action()
        }
        source.resume()
        return source
    }
    stopSignalSources += sources
}

/// Written once, by the main thread, before any signal can arrive; never read.
nonisolated(unsafe) private var stopSignalSources: [DispatchSourceSignal] = []
