import KanbanModel

/// Where the declared lanes (the file) and the registered ones (the board) differ. Pure.
public enum ConfigDiff {
    public enum Change: Equatable, Sendable {
        /// Declared, not registered.
        case missing(Lane)
        /// Registered with other settings: the lane name and each differing setting (declared vs live).
        case differs(String, [String])
        /// Registered but not declared (left alone: it may have been registered by hand on purpose).
        case undeclared(String)
    }

    public static func changes(declared: [Lane], registered: [Lane]) -> [Change] {
        let live = Dictionary(uniqueKeysWithValues: registered.map { ($0.name, $0) })
        var out: [Change] = []
        for lane in declared {
            guard let current = live[lane.name] else { out.append(.missing(lane)); continue }
            let fields = differences(lane, current)
            if !fields.isEmpty { out.append(.differs(lane.name, fields)) }
        }
        let names = Set(declared.map(\.name))
        out += registered.filter { !names.contains($0.name) }.map { .undeclared($0.name) }
        return out
    }

    /// Settings that differ, as "key: declared (registered: live)".
    static func differences(_ a: Lane, _ b: Lane) -> [String] {
        func show<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "unset" }
        var out: [String] = []
        func check<T: Equatable>(_ key: String, _ x: T, _ y: T, _ text: (T) -> String) {
            if x != y { out.append("\(key): \(text(x)) (registered: \(text(y)))") }
        }
        check("mode", a.kind, b.kind) { $0.rawValue }
        check("claim_mode", a.claimMode, b.claimMode) { $0.rawValue }
        check("max_concurrency", a.maxConcurrency, b.maxConcurrency) { "\($0)" }
        check("lease_seconds", a.leaseSeconds, b.leaseSeconds) { show($0) }
        check("profile", a.profile, b.profile) { show($0) }
        check("command", a.command, b.command) { $0.map { $0.joined(separator: " ") } ?? "unset" }
        check("workspace_policy", a.workspacePolicy, b.workspacePolicy) { $0.rawValue }
        check("repo", a.repo, b.repo) { show($0) }
        check("max_runtime_seconds", a.maxRuntimeSeconds, b.maxRuntimeSeconds) { show($0) }
        check("keep_workspaces", a.keepWorkspaces, b.keepWorkspaces) { "\($0)" }
        check("curve_public_key", a.curvePublicKey, b.curvePublicKey) { show($0) }
        check("memory", a.memoryMode, b.memoryMode) { $0.rawValue }
        check("memory_owner", a.memoryOwner, b.memoryOwner) { show($0) }
        return out
    }

    /// The patch that brings a registered lane to its declared settings.
    public static func patch(to lane: Lane) -> LanePatch {
        var p = LanePatch()
        p.kind = lane.kind; p.claimMode = lane.claimMode; p.maxConcurrency = lane.maxConcurrency
        p.leaseSeconds = lane.leaseSeconds; p.profile = lane.profile; p.command = lane.command
        p.workspacePolicy = lane.workspacePolicy; p.repo = lane.repo; p.maxRuntimeSeconds = lane.maxRuntimeSeconds
        p.keepWorkspaces = lane.keepWorkspaces
        p.curvePublicKey = lane.curvePublicKey ?? ""
        // A patch cannot unset a setting: a declared default is sent as the mode it stands for.
        if lane.profile != nil { p.memory = lane.memoryMode; p.memoryOwner = lane.memoryOwner ?? "" }
        return p
    }
}
