import ArgumentParser
import KanbanConfig
import KanbanModel
import KanbanWeb
import Logging

/// The HTTP face's flags, shared by `serve --http` and `web`.
struct HTTPFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Serve the web console, its JSON API, /metrics and /healthz over HTTP at host:port, "
        + "e.g. 127.0.0.1:8080 (loopback only unless --insecure-remote; docs/CONSOLE.md).", valueName: "host:port"))
    var http: String?

    @Flag(help: "Mark the session cookie Secure (when a TLS proxy terminates in front of --http).")
    var cookieSecure = false

    func validate() throws {
        if let http, HTTPBind(http) == nil { throw ValidationError("--http takes host:port, e.g. 127.0.0.1:8080 (got '\(http)')") }
    }

    /// The face's settings, or nil without `--http`. Exits 2 on a bind it refuses.
    func settings(commandEndpoint: String, eventEndpoint: String, insecureRemote: Bool) throws -> WebSettings? {
        guard let http, let bind = HTTPBind(http) else { return nil }
        var s = WebSettings(bind: bind, commandEndpoint: commandEndpoint, eventEndpoint: eventEndpoint, token: nil)
        s.insecureRemote = insecureRemote
        s.cookieSecure = cookieSecure
        if let refusal = s.bindRefusal {
            printError(refusal)
            throw ExitCode(2)
        }
        return s
    }

    /// Hermes' dispatcher caps from this host's `$HERMES_HOME/config.yaml`, as `/api/lanes` shows them.
    static func hermesCapsJSON(log: Logger) -> JSONValue {
        let home = HermesCaps.defaultHome()
        guard let caps = (try? HermesCaps.load(hermesHome: home)) ?? nil else { return .null }
        func n(_ v: Int?) -> JSONValue { v.map { .int(Int64($0)) } ?? .null }
        return ["hermes_home": .string(home), "max_in_progress": n(caps.maxInProgress), "max_spawn": n(caps.maxSpawn),
                "max_in_progress_per_profile": n(caps.maxInProgressPerProfile)]
    }
}
