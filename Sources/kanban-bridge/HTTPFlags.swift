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

    /// Hermes' dispatcher caps from this host's `$HERMES_HOME/config.yaml`, as `/api/lanes` shows them, with
    /// the global cap Hermes 0.21+ applies (`max_in_progress_effective`: configured, else derived from the
    /// host's memory; `max_in_progress_source`: "configured", "derived" or "none"). Null when the config
    /// file is not valid YAML.
    static func hermesCapsJSON(log: Logger) -> JSONValue {
        let home = HermesCaps.defaultHome()
        guard let loaded = try? HermesCaps.load(hermesHome: home) else { return .null }
        let caps = loaded ?? HermesCaps()
        func n(_ v: Int?) -> JSONValue { v.map { .int(Int64($0)) } ?? .null }
        let cap = HermesGlobalCap.effective(configured: caps.maxInProgress, memTotalKiB: HermesGlobalCap.hostMemTotalKiB())
        let source: String, memory: Int?
        switch cap.origin {
        case .configured: (source, memory) = ("configured", nil)
        case .derived(let mib): (source, memory) = ("derived", mib)
        case .none: (source, memory) = ("none", nil)
        }
        return ["hermes_home": .string(home), "config_found": .bool(loaded != nil), "max_in_progress": n(caps.maxInProgress),
                "max_spawn": n(caps.maxSpawn), "max_in_progress_per_profile": n(caps.maxInProgressPerProfile),
                "max_in_progress_effective": n(cap.value), "max_in_progress_source": .string(source),
                "mem_total_mib": n(memory)]
    }
}
