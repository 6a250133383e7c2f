import ArgumentParser
import Foundation
import KanbanClient
import KanbanModel
import KanbanProtocol

@main
struct KanbanEvents: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kanban-events",
        abstract: "Watch a KanbanBridge coordinator: a live dashboard of lanes and events, or an event tail.",
        discussion: """
            Default: a dashboard redrawn in place, one row per lane (kind, running/max slots, queued tasks, \
            the oldest queued task's age, stuck slots) and the latest events coloured by type. Quit with Ctrl-C.

            --follow prints one line per event instead; with --json, one JSON object per line, exactly as \
            published. Either mode catches up by replay on start and after any gap in seq (and says so on \
            stderr), and reconnects by itself when the coordinator restarts.

            Reading needs a credential: the admin token (from $KANBAN_BRIDGE_ADMIN_TOKEN or admin.token next \
            to --db) or any lane's token ($KANBAN_LANE_TOKEN or --token).
            """)

    @Option(help: ArgumentHelp("Command socket (default: $KANBAN_BRIDGE_ENDPOINT).", valueName: "endpoint"))
    var endpoint: String = ProcessInfo.processInfo.environment["KANBAN_BRIDGE_ENDPOINT"] ?? Endpoints.command
    // `--event-endpoint` is what `serve` and `doctor` call it; `--events-endpoint` was this tool's own name.
    @Option(name: [.customLong("event-endpoint"), .customLong("events-endpoint")],
            help: ArgumentHelp("Event socket (default: $KANBAN_BRIDGE_EVENTS).", valueName: "endpoint"))
    var eventsEndpoint: String = ProcessInfo.processInfo.environment["KANBAN_BRIDGE_EVENTS"] ?? Endpoints.events
    @Option(help: ArgumentHelp("Board file whose admin.token to use.", valueName: "path"))
    var db: String = "kanban.db"
    @Option(help: "Credential (default: $KANBAN_LANE_TOKEN, else the admin token).")
    var token: String?
    @Option(help: ArgumentHelp("The coordinator's CURVE public key or .pub file (default: $KANBAN_CURVE_SERVER_KEY).", valueName: "key|file"))
    var curveServerKey: String?
    @Option(help: ArgumentHelp("Your CURVE .key file (default: $KANBAN_CURVE_KEY_FILE or $KANBAN_CURVE_SECRET_KEY).", valueName: "file"))
    var curveKey: String?
    @Flag(help: "Print events as they come instead of the dashboard.")
    var follow = false
    @Flag(help: "With --follow: one JSON object per line.")
    var json = false
    @Option(help: "Start after this seq (replaying what came after it). Default: from now.")
    var since: Int64?
    @Option(help: "Only this lane's events ('_' for tasks without a lane).")
    var lane: String?
    @Option(help: "Dashboard refresh interval in milliseconds.")
    var refreshMs: Int = 500
    @Flag(help: "No colours (also when $NO_COLOR is set).")
    var noColor = false

    func validate() throws {
        if json && !follow { throw ValidationError("--json goes with --follow") }
        if refreshMs < 50 { throw ValidationError("--refresh-ms must be at least 50") }
    }

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        let credential = token ?? env["KANBAN_LANE_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } ?? AdminToken.find(boardPath: db)
        let curve: CurveCredentials?
        do { curve = try CurveCredentials.resolve(serverKey: curveServerKey, clientKey: curveKey) } catch {
            throw ValidationError("\(error)")
        }
        // The event socket admits nobody without a credential, and a refused subscriber hears nothing:
        // say so now rather than show an empty dashboard.
        if credential == nil, curve == nil {
            throw ValidationError("no credential: the event socket refuses subscribers without one. Give --token, set "
                + "$KANBAN_LANE_TOKEN or $KANBAN_BRIDGE_ADMIN_TOKEN, or point --db at the board whose admin.token to use")
        }
        let commands = CommandClient(endpoint: endpoint, auth: curve == nil ? credential : nil, timeoutMs: 2000, curve: curve)
        // The dashboard opens with the last few events for context; --follow starts from now.
        var start = since
        if start == nil, !follow, let head = try? commands.call(.ping)["last_seq"]?.intValue { start = max(0, head - 50) }
        let feed = EventFeed(commands: commands, eventEndpoint: eventsEndpoint, since: start, sinceIsContext: since == nil)
        let stop = StopFlag()
        if follow {
            Follower(feed: feed, lane: lane, json: json, stop: stop).run()
        } else {
            let color = !noColor && env["NO_COLOR"] == nil
            Dashboard(feed: feed, commands: commands, lane: lane, refreshMs: refreshMs, color: color, stop: stop).run()
        }
    }
}

/// Set by SIGINT/SIGTERM; the loops check it between polls.
final class StopFlag: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var stopped = false

    init() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { [weak self] in self?.set() }
            s.resume()
            sources.append(s)
        }
    }

    func set() { lock.lock(); stopped = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
}

/// Unbuffered, so a pipe reader sees each line as it is printed.
func writeOut(_ s: String) { FileHandle.standardOutput.write(Data(s.utf8)) }

func writeErr(_ s: String) { FileHandle.standardError.write(Data(("kanban-events: " + s + "\n").utf8)) }

/// True when the event belongs to the `--lane` filter (or there is none).
func matches(_ event: JSONValue, lane: String?) -> Bool {
    guard let lane else { return true }
    return (event["lane"]?.stringValue ?? "_") == lane
}

/// `--follow`: one line per event.
struct Follower {
    let feed: EventFeed
    let lane: String?
    let json: Bool
    let stop: StopFlag

    func run() {
        while !stop.isSet {
            let events = feed.poll(timeoutMs: 200)
            feed.drainNotices().forEach(writeErr)
            for e in events where matches(e, lane: lane) {
                writeOut((json ? String(decoding: Reply.encode(e), as: UTF8.self) : EventLine.plain(e)) + "\n")
            }
        }
    }
}
