import ArgumentParser
import Dispatch
import Foundation
import KanbanClient
import KanbanConfig
import KanbanCoordinator
import KanbanModel
import KanbanProtocol
import KanbanRunner
import Logging

/// `kanban-bridge runner`: turns any command into a pool lane on this host (docs/RUNNERS.md).
struct RunnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runner",
        abstract: "Run a lane's tasks on this host: a pool on any machine, for any agent CLI.",
        discussion: """
            Claims tasks of the lane (blocking claims: no polling), starts the command per task in its own process group and workspace, keeps the claim alive while it runs (its output goes to the task's log on the coordinator, `task log` shows it), and ends the claim by the worker's exit status: 0 completes (the output's tail is the result), 75 releases the task for a minute without counting a failure, anything else is a failure (retried up to the failure limit). Change the table with --exit.

              kanban-bridge runner --endpoint tcp://board-host:5555 --lane codex --slots 3 \\
                  --workspace worktree-per-task --repo /srv/app -- codex exec --full-auto "{title}: {body}"

            Or take the lanes from the file `serve --config` reads: pools marked `runner: true` there are registered on the coordinator as lanes it never spawns, and a runner with --config runs their command, workspace and slots:

              kanban-bridge runner --config bridge.yaml --lane codex --lane claude

            The lane's token comes from $KANBAN_LANE_TOKEN (or --token). Off this machine the connection must use CURVE (--curve-server-key and --curve-key): the runner refuses to send a token in clear text over the network. SIGTERM or SIGINT drains: no new claims, running tasks get --drain-seconds to finish, then they are stopped and released for another runner.

            Placeholders in the command: {task_id} {run_id} {lane} {profile} {workspace} {title} {body}. Workers also get the task in their environment (KANBAN_TASK, KANBAN_CLAIM_TOKEN, KANBAN_TASK_TITLE, KANBAN_TASK_BODY, HERMES_KANBAN_TASK, …) and the lane's credential, so `kanban-bridge complete` works from inside them too.
            """)

    @Option(help: ArgumentHelp("A lane to serve (repeat with --config for several).", valueName: "name"))
    var lane: [String] = []
    @Option(help: ArgumentHelp("Read the lanes from this file (the one `serve --config` reads): each --lane, or every pool marked `runner: true`.", valueName: "file"))
    var config: String?
    @Option(help: "Tasks run at once on this host (default: 1, or the pool's max_concurrency with --config).")
    var slots: Int?
    @Option(help: ArgumentHelp("none, scratch or worktree-per-task (default none: the runner's directory).", valueName: "policy"))
    var workspace: String?
    @Option(help: ArgumentHelp("The git repository worktrees are added to (with --workspace worktree-per-task).", valueName: "path"))
    var repo: String?
    @Option(help: ArgumentHelp("Where workspaces go on this host.", valueName: "dir"))
    var workspaceRoot: String = "runner-workspaces"
    @Option(help: ArgumentHelp("A Hermes profile the command runs ({profile}, HERMES_PROFILE).", valueName: "name"))
    var profile: String?
    @Option(help: "Lease of each claim (default: the lane's, else the coordinator's).")
    var leaseSeconds: Int?
    @Option(help: "Stop a run after this long: SIGTERM, SIGKILL after 5 s; it counts as a failure.")
    var maxRuntimeSeconds: Int?
    @Option(help: ArgumentHelp("What an exit status means: CODE=ACTION or other=ACTION; ACTION is complete, block, fail, release or release:SECONDS. Repeatable. Default: 0=complete 75=release:60 other=fail.", valueName: "rule"))
    var exit: [String] = []
    @Option(help: "After SIGTERM, how long running tasks may go on before they are stopped and released.")
    var drainSeconds: Int = 60
    @Option(help: "How long one blocking claim waits for work before it asks again (ms).")
    var claimWaitMs: Int = 20_000
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"
    @Option(name: .long, help: ArgumentHelp("Command socket of the coordinator (default: $KANBAN_BRIDGE_ENDPOINT, else the local one).", valueName: "endpoint"))
    var endpoint: String = ProcessInfo.processInfo.environment["KANBAN_BRIDGE_ENDPOINT"] ?? Endpoints.command
    @Option(help: ArgumentHelp("The lane's token (default: $KANBAN_LANE_TOKEN). Not used with CURVE: the key pair is the credential.", valueName: "token"))
    var token: String?
    @Option(help: ArgumentHelp("The coordinator's CURVE public key or .pub file (default: $KANBAN_CURVE_SERVER_KEY).", valueName: "key|file"))
    var curveServerKey: String?
    @Option(help: ArgumentHelp("This runner's CURVE .key file; its public key must be the lane's (default: $KANBAN_CURVE_KEY_FILE).", valueName: "file"))
    var curveKey: String?
    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run per task (after --).", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level '\(logLevel)'") }
        if config == nil {
            guard lane.count == 1 else { throw ValidationError("give one --lane (several lanes need --config)") }
            guard !command.isEmpty else { throw ValidationError("give the command to run after --, e.g. -- codex exec \"{title}: {body}\"") }
        } else if !command.isEmpty || workspace != nil || repo != nil || profile != nil {
            throw ValidationError("with --config the command, workspace, repo and profile come from the file")
        }
        if let slots, !(1...1024).contains(slots) { throw ValidationError("--slots must be 1...1024") }
        if let leaseSeconds, !(1...Lease.maxSeconds).contains(leaseSeconds) { throw ValidationError("--lease-seconds must be 1...\(Lease.maxSeconds)") }
        guard (0...86_400).contains(drainSeconds) else { throw ValidationError("--drain-seconds must be 0...86400") }
        guard (1_000...600_000).contains(claimWaitMs) else { throw ValidationError("--claim-wait-ms must be 1000...600000") }
        do { _ = try ExitPolicy.parse(exit) } catch { throw ValidationError("\(error)") }
        let unknown = CommandTemplate.unknownPlaceholders(command)
        if !unknown.isEmpty {
            throw ValidationError("unknown placeholder(s) \(unknown.map { "{\($0)}" }.joined(separator: ", ")); known: "
                                  + CommandTemplate.placeholders.sorted().map { "{\($0)}" }.joined(separator: ", "))
        }
    }

    func run() throws {
        bootstrapLogging(level: logLevel)
        let log = Logger(label: "kanban-bridge-runner")
        let lanes = try runnerLanes()
        let env = ProcessInfo.processInfo.environment
        let curve: CurveCredentials?
        do { curve = try CurveCredentials.resolve(serverKey: curveServerKey, clientKey: curveKey) } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        let credential = token ?? env["KANBAN_LANE_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        if curve == nil {
            guard Endpoints.isLocal(endpoint) else {
                printError("refusing to send the lane's token to \(endpoint) in clear text: off this machine the runner needs CURVE "
                           + "(--curve-server-key with the coordinator's public key, --curve-key with this lane's .key file; see docs/SECURITY.md)")
                throw ExitCode(2)
            }
            guard credential != nil else {
                printError("no credential: set KANBAN_LANE_TOKEN to the lane's token (or pass --token); `kanban-bridge lanes rotate-token LANE` prints a new one")
                throw ExitCode(2)
            }
        }
        // Workers reach the coordinator as the runner does, with the lane's credential.
        var workerEnv = env.filter { !DispatchSettings.notInherited.contains($0.key) }
        workerEnv["KANBAN_BRIDGE_ENDPOINT"] = endpoint
        if let curve {
            workerEnv["KANBAN_CURVE_SERVER_KEY"] = curve.serverKey
            workerEnv["KANBAN_CURVE_SECRET_KEY"] = curve.keys.secretKey
        } else if let credential {
            workerEnv["KANBAN_LANE_TOKEN"] = credential
        }
        workerEnv = DispatchSettings.withOwnCLI(workerEnv, cli: Serve.ownExecutable)
        // What each lane needs on this host, checked before the first claim (a missing CLI would
        // otherwise fail every task it takes).
        let problems = lanes.flatMap { l -> [String] in
            var found: [String] = []
            if l.lane.workspacePolicy == .worktreePerTask, let repo = l.lane.repo, let p = LaneRunnability.repoProblem(repo) { found.append(p) }
            if let program = l.lane.command?.first, let p = LaneRunnability.programProblem(program, path: workerEnv["PATH"] ?? "") {
                found.append(p)
            }
            return found.map { "lane '\(l.lane.name)': \($0)" }
        }
        guard problems.isEmpty else {
            problems.forEach { printError("cannot run here: \($0)") }
            throw ExitCode(2)
        }
        var settings = RunnerSettings(lanes: lanes, workspaceRoot: workspaceRoot, environment: workerEnv,
                                      host: ProcessInfo.processInfo.hostName, pid: Int(getpid()), version: BridgeVersion.current)
        settings.drainSeconds = drainSeconds
        settings.claimWaitMs = claimWaitMs
        let endpoint = self.endpoint
        let runner = Runner(settings: settings, log: log) {
            CommandClient(endpoint: endpoint, auth: curve == nil ? credential : nil, curve: curve)
        }
        onStopSignals(log: log, doing: "draining") { runner.drain() }
        log.notice("runner started", metadata: ["endpoint": "\(endpoint)", "lanes": "\(lanes.map { "\($0.lane.name)×\($0.slots)" }.joined(separator: " "))",
                                                "curve": "\(curve != nil)"])
        runner.run()
    }

    /// The lanes to serve, from the flags or from the config file.
    private func runnerLanes() throws -> [RunnerLane] {
        let exits = try ExitPolicy.parse(exit)
        guard let config else {
            var l = Lane(name: lane[0])
            l.kind = .pool
            l.command = command
            l.profile = profile
            l.repo = repo
            l.leaseSeconds = leaseSeconds
            l.maxRuntimeSeconds = maxRuntimeSeconds
            if let workspace {
                guard let policy = WorkspacePolicy(rawValue: workspace) else {
                    throw ValidationError("--workspace must be none, scratch or worktree-per-task, not '\(workspace)'")
                }
                l.workspacePolicy = policy
            }
            if l.workspacePolicy == .worktreePerTask, repo == nil { throw ValidationError("--workspace worktree-per-task needs --repo") }
            return [RunnerLane(lane: l, slots: slots ?? 1, exits: exits)]
        }
        let declared: BridgeConfig
        do { declared = try ConfigLoader.load(path: config) } catch let error as ConfigError {
            printError("bad config: \(error)")
            throw ExitCode(2)
        }
        let wanted = lane.isEmpty ? declared.runnerLanes.map(\.name) : lane
        guard !wanted.isEmpty else { throw ValidationError("\(config) marks no pool `runner: true`; name one with --lane") }
        return try wanted.map { name in
            guard var l = declared.runnerLanes.first(where: { $0.name == name }) else {
                throw ValidationError("\(config) declares no pool '\(name)' with `runner: true`")
            }
            // A program named by a relative path (`adapters/local-model.sh`) is the file's neighbour.
            if var argv = l.command, let program = argv.first, program.contains("/"), !program.hasPrefix("/"), !program.contains("{") {
                argv[0] = URL(fileURLWithPath: config).standardizedFileURL.deletingLastPathComponent().appendingPathComponent(program).path
                l.command = argv
            }
            if let leaseSeconds { l.leaseSeconds = leaseSeconds }
            if let maxRuntimeSeconds { l.maxRuntimeSeconds = maxRuntimeSeconds }
            return RunnerLane(lane: l, slots: slots ?? l.maxConcurrency, exits: exits)
        }
    }
}
