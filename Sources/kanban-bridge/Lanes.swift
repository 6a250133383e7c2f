import ArgumentParser
import KanbanConfig
import KanbanModel
import KanbanProtocol
import ZeroMQ

extension Lane {
    /// A lane as `lane.list` shows it on the wire.
    init?(wire l: JSONValue) {
        guard let name = l["name"]?.stringValue else { return nil }
        self.init(name: name,
                  kind: l["kind"]?.stringValue.flatMap(LaneKind.init(rawValue:)) ?? .persistent,
                  claimMode: l["claim_mode"]?.stringValue.flatMap(ClaimMode.init(rawValue:)) ?? .pullOrWatch,
                  maxConcurrency: Int(l["max_concurrency"]?.intValue ?? 1),
                  leaseSeconds: l["lease_seconds"]?.intValue.map(Int.init),
                  command: l["command"]?.arrayValue?.compactMap(\.stringValue),
                  profile: l["profile"]?.stringValue,
                  workspacePolicy: l["workspace_policy"]?.stringValue.flatMap(WorkspacePolicy.init(rawValue:)) ?? .none,
                  repo: l["repo"]?.stringValue,
                  maxRuntimeSeconds: l["max_runtime_seconds"]?.intValue.map(Int.init),
                  keepWorkspaces: l["keep_workspaces"]?.boolValue ?? false,
                  curvePublicKey: l["curve_public_key"]?.stringValue,
                  memory: l["memory_default"]?.boolValue == false ? l["memory"]?.stringValue.flatMap(MemoryMode.init(rawValue:)) : nil,
                  memoryOwner: l["memory_owner"]?.stringValue)
    }
}

struct Lanes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register, inspect, change and remove lanes.",
        discussion: "A lane is a named worker identity: tasks are assigned to it and only it can claim them.",
        subcommands: [List.self, Register.self, Get.self, Update.self, Remove.self, RotateToken.self, Diff.self],
        defaultSubcommand: List.self)

    /// Fields shared by register and update.
    struct LaneFields: ParsableArguments {
        @Option(help: "persistent (never spawned), spawn or pool.") var kind: LaneKind?
        @Option(help: "pull, watch or pull-or-watch.") var claimMode: ClaimMode?
        @Option(help: "Most tasks the lane holds at once (default 1).") var maxConcurrency: Int?
        @Option(help: "Lease length of the lane's claims (default: the board's).") var leaseSeconds: Int?
        @Option(help: "own-claimed-only (the only policy).") var allowedStatusMutations: StatusMutationPolicy?
        @Argument(parsing: .postTerminator, help: ArgumentHelp(
            "For spawn/pool lanes, after `--`: the command to start per task. No shell; {task_id}, {run_id}, {lane}, {profile}, {workspace}, {title} and {body} are filled in.",
            valueName: "command"))
        var command: [String] = []
        @Option(help: "Hermes profile a spawn/pool lane runs.") var profile: String?
        @Option(help: "none, scratch or worktree-per-task.") var workspacePolicy: WorkspacePolicy?
        @Option(help: "Git repository for worktree-per-task.") var repo: String?
        @Option(help: "Spawn/pool lanes: kill a run that lasts longer than this.") var maxRuntimeSeconds: Int?
        @Option(help: "Scratch workspaces: keep them after completion (true/false).") var keepWorkspaces: Bool?
        @Option(help: ArgumentHelp("With CURVE: the lane's public key, or its .pub file ('none' removes it).", valueName: "key|file"))
        var curvePublicKey: String?
        @Option(help: ArgumentHelp("Spawn/pool lanes of a Hermes profile: shared, propose or read-only (default: shared for max-concurrency 1, else propose).",
                                   valueName: "mode"))
        var memory: MemoryMode?
        @Option(help: ArgumentHelp("With memory propose: the lane that gets a task to review each run's proposals ('none' removes it).",
                                   valueName: "lane"))
        var memoryOwner: String?

        /// The settings given, with `--curve-public-key` read from its file when it names one.
        func patch() throws -> LanePatch {
            var p = LanePatch()
            p.kind = kind
            p.claimMode = claimMode
            p.maxConcurrency = maxConcurrency
            p.leaseSeconds = leaseSeconds
            p.allowedStatusMutations = allowedStatusMutations
            p.command = command.isEmpty ? nil : command
            p.profile = profile
            p.workspacePolicy = workspacePolicy
            p.repo = repo
            p.maxRuntimeSeconds = maxRuntimeSeconds
            p.keepWorkspaces = keepWorkspaces
            p.memory = memory
            p.memoryOwner = memoryOwner.map { $0 == "none" ? "" : $0 }
            if let key = curvePublicKey {
                do { p.curvePublicKey = key == "none" ? "" : try CurveKeyFile.publicKey(key) } catch {
                    throw ValidationError("--curve-public-key: \(error)")
                }
            }
            return p
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List lanes with their slots: running/max, queued.")
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            try connection.run(.laneList) { result in
                let lanes = result["lanes"]?.arrayValue ?? []
                if lanes.isEmpty { print("no lanes registered (kanban-bridge lanes register NAME)") }
                for lane in lanes {
                    print(laneLine(lane))
                    // Runners (`kanban-bridge runner`) serving the lane from any host, as they last reported.
                    for r in lane["runners"]?.arrayValue ?? [] {
                        let running = r["running"]?.arrayValue?.count ?? 0
                        print("    runner \(r["host"]?.stringValue ?? "?") pid \(r["pid"]?.intValue ?? 0): "
                              + "\(running)/\(r["slots"]?.intValue ?? 0) slots busy, seen \((r["seen_ms_ago"]?.intValue ?? 0) / 1000) s ago")
                    }
                }
                for s in result["unregistered"]?.arrayValue ?? [] {
                    print("\((s["assignee"]?.stringValue ?? "?").padding(24))  (no lane)  \(s["queued"]?.intValue ?? 0) ready task(s) nobody claims")
                }
            }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show where the registered lanes differ from a config file (the file is the declared state).",
            discussion: "Exits 0 when they match and 1 when they differ. `serve --config FILE` applies the file at start.")
        @Option(help: ArgumentHelp("The YAML file.", valueName: "file")) var config: String
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            let declared: [Lane]
            do { declared = try ConfigLoader.load(path: config).lanes } catch let e as ConfigError {
                printError("bad config: \(e)")
                throw ExitCode(2)
            }
            var registered: [Lane] = []
            try connection.run(.laneList) { result in registered = (result["lanes"]?.arrayValue ?? []).compactMap(Lane.init(wire:)) }
            let changes = ConfigDiff.changes(declared: declared, registered: registered)
            for change in changes {
                switch change {
                case .missing(let lane): print("+ \(lane.name): declared (\(lane.kind.rawValue)), not registered")
                case .differs(let name, let fields): fields.forEach { print("~ \(name): \($0)") }
                case .undeclared(let name): print("? \(name): registered, not in \(config)")
                }
            }
            if changes.isEmpty { print("registered lanes match \(config)") } else { throw ExitCode(1) }
        }
    }

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a lane and print its token (shown once; store it).",
            discussion: """
                Examples:
                  kanban-bridge lanes register factory --kind persistent --claim-mode pull-or-watch
                  kanban-bridge lanes register backend-hermes-pool --kind pool --max-concurrency 3 --profile backend-hermes -- hermes -p {profile} chat -q "work kanban task {task_id}"
                """)
        @Argument(help: "Lane name: lowercase [a-z0-9][a-z0-9_-]*, at most 64 characters.") var name: String
        @OptionGroup var lane: LaneFields
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            // Settings not given are the protocol's defaults, which `Lane(name:)` holds. The key is sent as
            // given: `applied` reads "" (`none`) as "remove it", but a new lane has none to remove and the
            // coordinator says so.
            let patch = try lane.patch()
            var registered = patch.applied(to: Lane(name: name))
            registered.curvePublicKey = patch.curvePublicKey
            let spec = LaneSpec(lane: registered)
            try connection.run(.laneRegister(spec)) { result in
                print(laneLine(result["lane"] ?? .null))
                print("token: \(result["token"]?.stringValue ?? "")")
                print("(shown once: give it to the lane as KANBAN_LANE_TOKEN)")
            }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one lane.")
        @Argument var name: String
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            try connection.run(.laneGet(name: name)) { print(laneLine($0["lane"] ?? .null)) }
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a lane's settings; unnamed settings stay as they are.")
        @Argument var name: String
        @OptionGroup var lane: LaneFields
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            try connection.run(.laneUpdate(name: name, try lane.patch())) { print(laneLine($0["lane"] ?? .null)) }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a lane (refused while it holds live claims).")
        @Argument var name: String
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            try connection.run(.laneRemove(name: name)) { _ in print("removed lane \(name)") }
        }
    }

    struct RotateToken: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a lane a new token; the old one stops working at once.")
        @Argument var name: String
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            try connection.run(.laneRotateToken(name: name)) { print("token: \($0["token"]?.stringValue ?? "")") }
        }
    }
}
