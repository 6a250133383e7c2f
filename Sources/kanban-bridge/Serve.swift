import ArgumentParser
import Dispatch
import Foundation
import KanbanConfig
import KanbanCoordinator
import KanbanClient
import KanbanModel
import KanbanProtocol
import KanbanStore
import KanbanWeb
import Logging
import ZeroMQ

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the coordinator on a board file (created with Hermes' schema if it does not exist).",
        discussion: """
            The board is an SQLite file in Hermes Kanban's own format: point --db at an existing Hermes kanban.db to attach to it, and Hermes' CLI will see the lanes' claims.

            On first start the admin token is written to admin.token beside the board (mode 0600) unless $KANBAN_BRIDGE_ADMIN_TOKEN is set. An existing admin.token is used only if it is a plain file of the user running serve, mode 0600, in a directory no one else can write to (or with the sticky bit, like /tmp); anything else is refused, with what to do.

            Stop with Ctrl-C or SIGTERM: parked claims are answered, sockets closed; claims stay in force and their leases keep running.
            """)

    @Option(help: ArgumentHelp("Board file.", valueName: "path"))
    var db: String = "kanban.db"

    @OptionGroup var boardFile: BoardFileFlags

    @Option(help: ArgumentHelp("Lanes and pools to declare, and coordinator settings (YAML, see bridge-config/).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Command (ROUTER) endpoint. Default: the config's, else \(Endpoints.command).", valueName: "endpoint"))
    var commandEndpoint: String?

    @Option(help: ArgumentHelp("Event (PUB) endpoint. Default: the config's, else \(Endpoints.events).", valueName: "endpoint"))
    var eventEndpoint: String?

    @Option(help: "Lease length for claims when neither the claim nor its lane sets one. Default: the config's, else \(Lease.defaultSeconds).")
    var leaseSeconds: Int?

    @Option(help: "Consecutive failures after which a task gives up and is blocked (a task's own max_retries wins). Default: the config's, else Hermes' (kanban.failure_limit in $HERMES_HOME/config.yaml, else 2). A limit other than Hermes' is written on each claimed task as its max_retries, so Hermes gives up at the same count.")
    var maxRetries: Int?

    @Option(help: "Wait before a failed task is claimable again, doubling per failure. Default: the config's, else 0 (at once).")
    var retryBackoffSeconds: Int?

    @Option(help: "How long a reply is kept for clients retrying with the same request_id.")
    var retryWindowSeconds: Int = 3600

    @Option(help: ArgumentHelp(
        "While another program (Hermes, sqlite3) holds the board's write lock, how long a write waits before it is answered "
            + "`busy` (retryable; nothing changed), unless its request names a shorter or longer `timeout_ms`. Reads never wait.",
        valueName: "ms"))
    var writeWaitMs: Int = 4000

    @Option(help: "Largest request answered; bigger ones get too_large.")
    var maxRequestBytes: Int = 1 << 20

    @Option(help: ArgumentHelp("Where spawned workers' output goes, one file per task. Default: where Hermes keeps the board's worker logs "
        + "(kanban/logs/ beside a board at <root>/kanban.db), so `hermes kanban log <task>` shows it.", valueName: "dir"))
    var logDir: String?

    @Option(help: ArgumentHelp("Where scratch directories and worktrees go (default: bridge-workspaces/ beside the board).", valueName: "dir"))
    var workspaceRoot: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(help: ArgumentHelp(
        "Run both sockets with CURVE, using this keypair (kanban-bridge keys generate). Only registered keys may connect: --curve-admin-key and lanes' --curve-public-key.",
        valueName: "file"))
    var curveSecretKey: String?

    @Option(help: ArgumentHelp("With CURVE: a public key (or .pub file) that acts as the admin. Repeat for several.", valueName: "key|file"))
    var curveAdminKey: [String] = []

    @Flag(help: "With CURVE: let any CURVE client subscribe to events (default: registered keys only).")
    var curveOpenEvents = false

    @Flag(help: "Allow binding to a non-loopback address without CURVE (tokens then cross the network in clear text).")
    var insecureRemote = false

    @OptionGroup var http: HTTPFlags

    @Option(help: ArgumentHelp("Removed: /metrics is served by the HTTP face now (--http 127.0.0.1:8080, GET /metrics with a token).",
                               valueName: "endpoint", visibility: .hidden))
    var metricsEndpoint: String?

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level '\(logLevel)'") }
        if let leaseSeconds, !(1...Lease.maxSeconds).contains(leaseSeconds) {
            throw ValidationError("--lease-seconds must be 1...\(Lease.maxSeconds)")
        }
        guard maxRequestBytes >= 1024 else { throw ValidationError("--max-request-bytes must be at least 1024") }
        guard (0...3_600_000).contains(writeWaitMs) else { throw ValidationError("--write-wait-ms must be 0...3600000") }
        if let maxRetries, maxRetries < 1 { throw ValidationError("--max-retries must be at least 1") }
        if (retryBackoffSeconds ?? 0) < 0 || retryWindowSeconds < 0 { throw ValidationError("seconds cannot be negative") }
        if metricsEndpoint != nil {
            throw ValidationError("--metrics-endpoint was removed: GET /metrics is served by the HTTP face. Use --http 127.0.0.1:8080 "
                                  + "and scrape http://127.0.0.1:8080/metrics with `Authorization: Bearer <admin or lane token>` "
                                  + "(docs/OPERATIONS.md, \"Prometheus\").")
        }
        try http.validate()
        if http.http != nil && curveSecretKey != nil {
            // Under CURVE the connection's key, not `auth`, says who a request is from, so the HTTP face
            // could not act with each session's own credential.
            throw ValidationError("--http does not work with --curve-secret-key yet: the HTTP face acts with each session's token, which CURVE ignores")
        }
        if curveSecretKey == nil && (!curveAdminKey.isEmpty || curveOpenEvents) {
            throw ValidationError("--curve-admin-key and --curve-open-events need --curve-secret-key")
        }
    }

    /// Hermes' profile directories that could apply to this board: `$HERMES_HOME/profiles`,
    /// `~/.hermes/profiles`, and the Hermes root a board path implies (`<root>/kanban.db` or
    /// `<root>/kanban/boards/<slug>/kanban.db`).
    /// The PATH spawned workers get (`DispatchSettings.withOwnCLI`).
    static var workerPATH: String {
        DispatchSettings.withOwnCLI(ProcessInfo.processInfo.environment, cli: ownExecutable)["PATH"] ?? ""
    }

    /// This program's own path (the link Linux keeps in /proc), else how it was invoked.
    static var ownExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }

    /// The failure limit Hermes applies to tasks without their own: `kanban.failure_limit` in
    /// `$HERMES_HOME/config.yaml` (what `hermes kanban show` reads), else Hermes' default.
    static func hermesFailureLimit(_ log: Logger) -> Int {
        let home = HermesCaps.defaultHome()
        do {
            return try HermesCaps.load(hermesHome: home)?.failureLimit ?? RetryPolicy.hermesDefaultLimit
        } catch {
            log.warning("cannot read Hermes' config; its failure limit is taken as the default",
                        metadata: ["file": "\(home)/config.yaml", "default": "\(RetryPolicy.hermesDefaultLimit)", "error": "\(error)"])
            return RetryPolicy.hermesDefaultLimit
        }
    }

    static func hermesProfileDirs(boardPath: String) -> [String] {
        let env = ProcessInfo.processInfo.environment
        let board = URL(fileURLWithPath: boardPath).standardizedFileURL.deletingLastPathComponent()
        var roots = [board, board.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()]
        if let home = env["HERMES_HOME"] { roots.append(URL(fileURLWithPath: home)) }
        roots.append(FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".hermes"))
        var seen: Set<String> = []
        return roots.map { $0.appendingPathComponent("profiles").path }.filter { seen.insert($0).inserted }
    }

    func run() throws {
        MemoryHygiene.configure()
        bootstrapLogging(level: logLevel)
        let log = Logger(label: "kanban-bridge")
        var declared = BridgeConfig()
        if let config {
            do {
                declared = try ConfigLoader.load(path: config)
            } catch let error as ConfigError {
                printError("bad config: \(error)")
                throw ExitCode(2)
            }
            // A lane that cannot run here (no such repository, a program not on its workers' PATH) is
            // refused now, instead of every task of it ending spawn_failed a second after it is created.
            let problems = LaneRunnability.problems(declared, file: config, workerPATH: Self.workerPATH)
            if !problems.isEmpty {
                for problem in problems { printError("lane cannot run: \(problem)") }
                throw ExitCode(2)
            }
        }
        let c = declared.coordinator
        // Refuse an unsafe exposure before anything is created.
        let commandAt = commandEndpoint ?? c.commandEndpoint ?? Endpoints.command
        let eventsAt = eventEndpoint ?? c.eventEndpoint ?? Endpoints.events
        let curve = try curveSettings()
        try checkExposure(commandAt, eventsAt, curve: curve != nil, log: log)
        let httpSettings = try http.settings(commandEndpoint: commandAt, eventEndpoint: eventsAt, insecureRemote: insecureRemote)
        // A planted or exposed admin.token is refused before the board is touched (unless the token
        // comes from the environment: then the file plays no part).
        if (ProcessInfo.processInfo.environment[AdminToken.environmentKey] ?? "").isEmpty {
            _ = try refusingUntrustedToken { try AdminToken.loadTrusted(boardPath: db) }
        }
        // Built here, used only through the store's protocols from here on (`BoardStore`).
        let board: any BoardStore
        do {
            board = try SQLiteBoard(path: db, file: boardFile.options)
        } catch BoardError.incompatibleBoard(let reason) {
            printError("cannot use the board: \(reason)")
            throw ExitCode(1)
        }
        BoardFileFlags.warnIfOpenToOthers(db, log: log)
        if config != nil { try ConfigApply.apply(declared.lanes, to: board, log: log) }
        let admin = try refusingUntrustedToken { try AdminToken.loadOrCreate(boardPath: db) { Secrets.newToken(prefix: "at_") } }
        if admin.created {
            log.notice("wrote a new admin token", metadata: ["file": "\(AdminToken.filePath(forBoard: db))"])
        }
        let config = CoordinatorConfig(commandEndpoint: commandAt, eventEndpoint: eventsAt, adminToken: admin.token,
                                       limits: DecodeLimits(maxRequestBytes: maxRequestBytes),
                                       // Frames up to twice the limit get a `too_large` answer; past that
                                       // libzmq drops the peer before the bytes take up memory.
                                       maxFrameBytes: Int64(maxRequestBytes) * 2,
                                       defaultLeaseSeconds: leaseSeconds ?? c.leaseSeconds ?? Lease.defaultSeconds,
                                       retry: RetryPolicy(maxRetries: maxRetries ?? c.maxRetries, hermesLimit: Self.hermesFailureLimit(log),
                                                          backoffBaseMs: Int64(retryBackoffSeconds ?? c.retryBackoffSeconds ?? 0) * 1000),
                                       retryWindowMs: Int64(retryWindowSeconds) * 1000, version: BridgeVersion.current)
        var withProfiles = config
        withProfiles.curve = curve
        withProfiles.writeWaitMs = writeWaitMs
        withProfiles.hermesProfileDirs = Self.hermesProfileDirs(boardPath: db)
        let boardDir = URL(fileURLWithPath: db).standardizedFileURL.deletingLastPathComponent().path
        let boardPath = URL(fileURLWithPath: db).standardizedFileURL.path
        var dispatch = DispatchSettings(logDir: logDir ?? HermesLayout.workerLogsDir(boardPath: boardPath),
                                        workspaceRoot: workspaceRoot ?? boardDir + "/bridge-workspaces",
                                        boardPath: URL(fileURLWithPath: db).standardizedFileURL.path)
        // Spawned workers find this very CLI (`exec kanban-bridge complete` in a pool command).
        dispatch.environment = DispatchSettings.withOwnCLI(dispatch.environment, cli: Self.ownExecutable)
        withProfiles.dispatch = dispatch
        let coordinator = Coordinator(config: withProfiles, store: board, logger: log)
        // Signals only flip the stop flag; the owner thread notices within 100 ms and shuts down cleanly.
        onStopSignals(log: log, doing: "stopping") { coordinator.stop() }
        log.info("board open", metadata: ["db": "\(db)", "lanes": "\((try? board.lanes().count) ?? 0)"])
        guard var httpSettings else {
            do {
                try coordinator.run()
            } catch {
                printError("could not start: \(error)")
                throw ExitCode(1)
            }
            return
        }
        // With --http the coordinator's loop gets a thread of its own (start), and the HTTP face its
        // own event loops and threads: it talks to the loop over the wire like any client.
        do {
            (httpSettings.commandEndpoint, httpSettings.eventEndpoint) = try coordinator.start()
        } catch {
            printError("could not start: \(error)")
            throw ExitCode(1)
        }
        httpSettings.token = admin.token
        httpSettings.hermesCaps = HTTPFlags.hermesCapsJSON(log: log)
        let web = WebFace(settings: httpSettings, logger: log)
        do {
            _ = try web.start()
        } catch {
            printError("\(error)")
            coordinator.stopAndWait()
            throw ExitCode(2)
        }
        coordinator.waitUntilFinished()
        web.stop()
    }

    /// Runs `body`; an `admin.token` it will not trust ends `serve` with what is wrong and what to do.
    private func refusingUntrustedToken<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as UntrustedAdminToken {
            printError(error.description)
            throw ExitCode(2)
        }
    }

    /// The CURVE settings from the flags, or nil without `--curve-secret-key`.
    private func curveSettings() throws -> CurveServerSettings? {
        guard let curveSecretKey else { return nil }
        guard Curve.isAvailable else {
            printError("--curve-secret-key: this libzmq was built without CURVE (Debian's libzmq3-dev has it)")
            throw ExitCode(2)
        }
        do {
            let keys = try CurveKeyFile.readKeyPair(curveSecretKey)
            let admins = try Set(curveAdminKey.map { try CurveKeyFile.publicKey($0) })
            return CurveServerSettings(serverKeys: keys, adminKeys: admins, restrictEvents: !curveOpenEvents)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
    }

    /// Without CURVE, tokens travel in clear text: only loopback, ipc and inproc endpoints are
    /// allowed unless the operator says `--insecure-remote`, and then the log says so at every start.
    private func checkExposure(_ endpoints: String..., curve: Bool, log: Logger) throws {
        let exposed = endpoints.filter { !Endpoints.isLocal($0) }
        guard !curve, !exposed.isEmpty else { return }
        guard insecureRemote else {
            printError("refusing to listen on \(exposed.joined(separator: " and ")) unprotected: anyone on the network could "
                       + "read what crosses it (tokens, or the metrics page) or act as a lane. Use --curve-secret-key for the "
                       + "command and event sockets (see `kanban-bridge keys --help`), bind to 127.0.0.1, or pass "
                       + "--insecure-remote if the network is trusted.")
            throw ExitCode(2)
        }
        log.warning("listening beyond this machine without CURVE (--insecure-remote): tokens cross the network in clear text",
                    metadata: ["endpoints": "\(exposed.joined(separator: " "))"])
    }
}
