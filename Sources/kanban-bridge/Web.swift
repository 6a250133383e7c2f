import ArgumentParser
import Dispatch
import Foundation
import KanbanClient
import KanbanModel
import KanbanProtocol
import KanbanWeb
import Logging

/// `kanban-bridge web`: the HTTP face alone, as a client of a coordinator that may run elsewhere.
struct Web: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the web console and its JSON API for a coordinator (here or on another host).",
        discussion: """
            A client of the coordinator's wire: every browser action is sent with the token its session logged in with. The face's own token (--token-file, else $KANBAN_BRIDGE_ADMIN_TOKEN, else $KANBAN_LANE_TOKEN) subscribes to the event stream for /api/stream; an admin or lane token will do.

            Example: kanban-bridge web --endpoint tcp://board-host:5555 --events tcp://board-host:5556 --http 127.0.0.1:8080 --token-file ~/.kanban/lane.token
            """)

    @Option(help: ArgumentHelp("The coordinator's command socket.", valueName: "endpoint"))
    var endpoint: String = ProcessInfo.processInfo.environment["KANBAN_BRIDGE_ENDPOINT"] ?? Endpoints.command

    @Option(help: ArgumentHelp("The coordinator's event socket.", valueName: "endpoint"))
    var events: String = Endpoints.events

    @Option(help: ArgumentHelp("File holding the face's own token (admin or lane), for the event stream.", valueName: "path"))
    var tokenFile: String?

    @OptionGroup var http: HTTPFlags

    @Flag(help: "Allow --http on a non-loopback address (session cookies and tokens then cross the network in clear text unless TLS is in front).")
    var insecureRemote = false

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level '\(logLevel)'") }
        guard http.http != nil else { throw ValidationError("--http host:port is required, e.g. --http 127.0.0.1:8080") }
        try http.validate()
    }

    func run() throws {
        bootstrapLogging(level: logLevel)
        let log = Logger(label: "kanban-web")
        guard var settings = try http.settings(commandEndpoint: endpoint, eventEndpoint: events, insecureRemote: insecureRemote) else { return }
        settings.token = try ownToken()
        let web = WebFace(settings: settings, logger: log)
        do {
            _ = try web.start()
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        // Runs until SIGINT or SIGTERM.
        let done = DispatchSemaphore(value: 0)
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { done.signal() }
            source.resume()
            return source
        }
        done.wait()
        log.notice("signal received, stopping")
        web.stop()
        _ = sources
    }

    /// The face's own credential; never logged.
    private func ownToken() throws -> String? {
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                printError("cannot read --token-file \(tokenFile)")
                throw ExitCode(2)
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let env = ProcessInfo.processInfo.environment
        return [env[AdminToken.environmentKey], env["KANBAN_LANE_TOKEN"]].compactMap { $0 }.first { !$0.isEmpty }
    }
}
