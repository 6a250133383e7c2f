import Foundation
import KanbanModel
import Yams

/// What a `bridge-config/*.yaml` file declares: coordinator settings and the lanes and pools.
public struct BridgeConfig: Equatable, Sendable {
    /// Coordinator settings; nil where the file is silent (flags or defaults apply).
    public struct Coordinator: Equatable, Sendable {
        public var commandEndpoint: String?
        public var eventEndpoint: String?
        public var leaseSeconds: Int?
        public var maxRetries: Int?
        public var retryBackoffSeconds: Int?
        public init() {}
    }

    /// Where a lane's settings stand in the file, for refusals found after loading (`LaneRunnability`).
    public struct Place: Equatable, Sendable {
        public var line: Int, column: Int
        public init(line: Int, column: Int) { self.line = line; self.column = column }
    }

    public var coordinator = Coordinator()
    /// Declared lanes, in file order, as the coordinator registers them. A pool that runners serve
    /// (`runner: true`) is registered `persistent` here: the coordinator never spawns it.
    public var lanes: [Lane] = []
    /// Pools and spawn lanes served by `kanban-bridge runner` on other hosts, as declared (command,
    /// workspace, repo): what a runner reads from the same file.
    public var runnerLanes: [Lane] = []
    /// Per lane: where its name, `repo` and `command` stand (nil: not in the file).
    public var places: [String: (lane: Place, repo: Place?, command: Place?)] = [:]
    public init() {}

    public static func == (a: BridgeConfig, b: BridgeConfig) -> Bool { a.coordinator == b.coordinator && a.lanes == b.lanes }
}

/// A refusal at load: the file, the line and column of the offending node, and the reason.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int
    public let reason: String

    public var description: String { "\(file):\(line):\(column): \(reason)" }
}

/// Reads and validates a bridge configuration. Unknown keys, bad values and impossible combinations
/// are refused with the exact place, so a typo never silently changes what runs.
public enum ConfigLoader {
    /// The command a lane with a Hermes `profile` and no `command` runs.
    public static let hermesCommand = ["hermes", "-p", "{profile}", "chat", "-q", "work kanban task {task_id}"]

    public static func load(path: String) throws -> BridgeConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, line: 0, column: 0, reason: "cannot read the file")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    public static func parse(_ yaml: String, file: String = "<config>") throws -> BridgeConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw YamlSyntaxError.refusal(error, file: file)
        }
        var config = BridgeConfig()
        guard let root else { return config }
        let reader = Reader(file: file)
        let top = try reader.mapping(root, what: "the file", keys: ["workers", "coordinator"])
        if let c = top["coordinator"] {
            let m = try reader.mapping(c.value, what: "'coordinator'",
                                       keys: ["command_endpoint", "event_endpoint", "lease_seconds", "max_retries", "retry_backoff_seconds"])
            config.coordinator.commandEndpoint = try m["command_endpoint"].map { try reader.string($0.value, "command_endpoint") }
            config.coordinator.eventEndpoint = try m["event_endpoint"].map { try reader.string($0.value, "event_endpoint") }
            config.coordinator.leaseSeconds = try m["lease_seconds"].map { try reader.int($0.value, "lease_seconds", 1...Lease.maxSeconds) }
            config.coordinator.maxRetries = try m["max_retries"].map { try reader.int($0.value, "max_retries", 1...1000) }
            config.coordinator.retryBackoffSeconds = try m["retry_backoff_seconds"].map { try reader.int($0.value, "retry_backoff_seconds", 0...86_400) }
        }
        if let w = top["workers"] {
            guard case .mapping(let workers) = w.value else { throw reader.error(w.value, "'workers' must map lane names to their settings") }
            var seen: Set<String> = []
            for (key, value) in workers {
                let name = try reader.string(key, "a lane name")
                if let problem = Names.laneNameProblem(name) { throw reader.error(key, "lane '\(name)': \(problem)") }
                guard seen.insert(name).inserted else { throw reader.error(key, "lane '\(name)' is declared twice") }
                let declared = try lane(name, key: key, value, reader)
                if try reader.entry(value, "runner").map({ try reader.bool($0, "runner") }) ?? false {
                    guard declared.kind != .persistent else {
                        throw reader.error(key, "lane '\(name)': 'runner: true' is for pools and spawn lanes (a runner runs their command)")
                    }
                    config.runnerLanes.append(declared)
                    config.lanes.append(Self.servedByRunners(declared))
                } else {
                    config.lanes.append(declared)
                }
                config.places[name] = (reader.place(key), reader.entry(value, "repo").map(reader.place),
                                       reader.entry(value, "command").map(reader.place))
            }
        }
        return config
    }

    static let laneKeys: Set<String> = ["mode", "claim_mode", "max_concurrency", "lease_seconds", "profile", "command",
                                        "workspace_policy", "repo", "max_runtime_seconds", "keep_workspaces",
                                        "curve_public_key", "runner", "memory", "memory_owner"]

    /// A runner-served pool as the coordinator registers it: a persistent lane (the runners are its
    /// workers), pulling, with the pool's slots across all runners and its lease.
    static func servedByRunners(_ pool: Lane) -> Lane {
        var lane = Lane(name: pool.name)
        lane.kind = .persistent
        lane.claimMode = pool.claimMode
        lane.maxConcurrency = pool.maxConcurrency
        lane.leaseSeconds = pool.leaseSeconds
        lane.curvePublicKey = pool.curvePublicKey
        return lane
    }

    static func lane(_ name: String, key: Node, _ node: Node, _ r: Reader) throws -> Lane {
        let m = try r.mapping(node, what: "lane '\(name)'", keys: laneKeys)
        var lane = Lane(name: name)
        // `lane` is Hermes users' word for a serial spawned worker.
        let modes: [String: LaneKind] = ["persistent": .persistent, "lane": .spawn, "spawn": .spawn, "pool": .pool]
        guard let modeEntry = m["mode"] else { throw r.error(key, "lane '\(name)' needs a mode: persistent, lane, spawn or pool") }
        let mode = try r.string(modeEntry.value, "mode")
        guard let kind = modes[mode] else { throw r.error(modeEntry.value, "mode must be persistent, lane, spawn or pool, not '\(mode)'") }
        lane.kind = kind
        lane.claimMode = try m["claim_mode"].map { try r.enumValue($0.value, "claim_mode", ClaimMode.self) } ?? .pullOrWatch
        lane.maxConcurrency = try m["max_concurrency"].map { try r.int($0.value, "max_concurrency", 1...1024) } ?? 1
        lane.leaseSeconds = try m["lease_seconds"].map { try r.int($0.value, "lease_seconds", 1...Lease.maxSeconds) }
        lane.profile = try m["profile"].map { entry in
            let profile = try r.string(entry.value, "profile")
            if let problem = WorkspaceLayout.profileProblem(profile) { throw r.error(entry.value, problem) }
            return profile
        }
        lane.command = try m["command"].map { try r.stringList($0.value, "command") }
        lane.workspacePolicy = try m["workspace_policy"].map { try r.enumValue($0.value, "workspace_policy", WorkspacePolicy.self) } ?? .none
        lane.repo = try m["repo"].map { entry in
            let repo = try r.string(entry.value, "repo")
            if let problem = WorkspaceLayout.repoProblem(repo) { throw r.error(entry.value, problem) }
            return repo
        }
        lane.maxRuntimeSeconds = try m["max_runtime_seconds"].map { try r.int($0.value, "max_runtime_seconds", 1...7 * 86_400) }
        lane.keepWorkspaces = try m["keep_workspaces"].map { try r.bool($0.value, "keep_workspaces") } ?? false
        if let entry = m["curve_public_key"] {
            let key = try r.string(entry.value, "curve_public_key")
            guard Names.isCurveKey(key) else { throw r.error(entry.value, "curve_public_key must be 40 Z85 characters (the public-key line of a .pub file)") }
            lane.curvePublicKey = key
        }
        lane.memory = try m["memory"].map { try r.enumValue($0.value, "memory", MemoryMode.self) }
        lane.memoryOwner = try m["memory_owner"].map { entry in
            let owner = try r.string(entry.value, "memory_owner")
            if let problem = Names.laneNameProblem(owner) { throw r.error(entry.value, "memory_owner: \(problem)") }
            return owner
        }

        // Combinations that cannot work.
        if kind == .persistent {
            for k in ["command", "profile", "workspace_policy", "repo", "max_runtime_seconds", "keep_workspaces", "memory", "memory_owner"] where m[k] != nil {
                throw r.error(m[k]!.key, "lane '\(name)' is persistent: it is never spawned, so '\(k)' means nothing")
            }
        } else {
            if lane.command == nil {
                guard lane.profile != nil else {
                    throw r.error(key, "lane '\(name)' is spawned (mode \(mode)) but has neither a command nor a profile")
                }
                lane.command = hermesCommand
            }
            if lane.command?.isEmpty == true { throw r.error(m["command"]!.value, "command is empty") }
            let unknown = CommandTemplate.unknownPlaceholders(lane.command ?? [])
            if !unknown.isEmpty {
                let known = CommandTemplate.placeholders.sorted().map { "{\($0)}" }.joined(separator: ", ")
                throw r.error(m["command"]?.value ?? key, "unknown placeholder(s) \(unknown.map { "{\($0)}" }.joined(separator: ", ")); known: \(known)")
            }
            if mode == "lane", lane.maxConcurrency > 1 {
                throw r.error(m["max_concurrency"]!.value, "mode 'lane' runs one task at a time; use mode: pool for \(lane.maxConcurrency)")
            }
        }
        for k in ["memory", "memory_owner"] where m[k] != nil && lane.profile == nil {
            throw r.error(m[k]!.key, "\(k) applies to runs of a Hermes profile: lane '\(name)' has no profile")
        }
        if lane.workspacePolicy == .worktreePerTask, lane.repo == nil {
            throw r.error(m["workspace_policy"]!.value, "worktree-per-task needs 'repo' (the git repository to add worktrees to)")
        }
        if lane.repo != nil, lane.workspacePolicy != .worktreePerTask {
            throw r.error(m["repo"]!.key, "'repo' is only used with workspace_policy: worktree-per-task")
        }
        if lane.keepWorkspaces, lane.workspacePolicy != .scratch {
            throw r.error(m["keep_workspaces"]!.key, "keep_workspaces applies to scratch workspaces (worktrees are always kept)")
        }
        return lane
    }
}

/// Typed reads of YAML nodes that fail with the node's position.
struct Reader {
    let file: String

    func error(_ node: Node, _ reason: String) -> ConfigError {
        ConfigError(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0, reason: reason)
    }

    func place(_ node: Node) -> BridgeConfig.Place { .init(line: node.mark?.line ?? 0, column: node.mark?.column ?? 0) }

    /// The value of `key` in a mapping node already checked by `mapping`.
    func entry(_ node: Node, _ key: String) -> Node? {
        guard case .mapping(let m) = node else { return nil }
        return m.first { (try? string($0.key, "")) == key }?.value
    }

    /// A mapping's entries by key, refusing keys outside `keys`.
    func mapping(_ node: Node, what: String, keys: Set<String>) throws -> [String: (key: Node, value: Node)] {
        guard case .mapping(let m) = node else { throw error(node, "\(what) must be a mapping of settings") }
        var out: [String: (key: Node, value: Node)] = [:]
        for (k, v) in m {
            let name = try string(k, "a setting name")
            guard keys.contains(name) else {
                throw error(k, "unknown setting '\(name)' in \(what); known: \(keys.sorted().joined(separator: ", "))")
            }
            guard out[name] == nil else { throw error(k, "'\(name)' is set twice in \(what)") }
            out[name] = (k, v)
        }
        return out
    }

    func string(_ node: Node, _ what: String) throws -> String {
        guard case .scalar(let s) = node else { throw error(node, "\(what) must be a plain value") }
        return s.string
    }

    func int(_ node: Node, _ what: String, _ range: ClosedRange<Int>) throws -> Int {
        guard case .scalar = node, let i = node.int else { throw error(node, "\(what) must be a whole number") }
        guard range.contains(i) else { throw error(node, "\(what) must be between \(range.lowerBound) and \(range.upperBound)") }
        return i
    }

    func bool(_ node: Node, _ what: String) throws -> Bool {
        guard case .scalar = node, let b = node.bool else { throw error(node, "\(what) must be true or false") }
        return b
    }

    func enumValue<E: RawRepresentable & CaseIterable>(_ node: Node, _ what: String, _: E.Type) throws -> E where E.RawValue == String {
        let raw = try string(node, what)
        guard let e = E(rawValue: raw) else {
            throw error(node, "\(what) must be one of \(E.allCases.map(\.rawValue).joined(separator: ", ")), not '\(raw)'")
        }
        return e
    }

    func stringList(_ node: Node, _ what: String) throws -> [String] {
        guard case .sequence(let seq) = node else { throw error(node, "\(what) must be a list of arguments, e.g. [\"hermes\", \"-p\", \"{profile}\"]") }
        return try seq.map { try string($0, "each \(what) argument") }
    }
}
