import Foundation

/// The rules for runs of a Hermes profile that must not write its durable memory directly (`memory:
/// propose | read-only`). Pure: the file-system half is `RunHomes` in KanbanCoordinator.
///
/// Such a run gets a home of its own that mirrors the profile (`mirrored`), with a copy of the
/// profile's `memories/` taken at its start and a config that stages skill writes. After the run,
/// what it changed in its copy (`changes`) becomes proposals in Hermes' own pending-write format
/// (`proposal`), moved into the profile's `pending/` store, where `/memory pending` lists them.
/// docs/HERMES.md, "Pooled runs and profile memory", says why it is done this way.
public enum ProfileMemory {
    /// One run at a time may write as the owner's sessions do; several at once propose.
    public static func defaultMode(maxConcurrency: Int) -> MemoryMode { maxConcurrency > 1 ? .propose : .shared }

    /// Hermes' entry delimiter in MEMORY.md and USER.md (`tools/memory_tool.py`, `ENTRY_DELIMITER`).
    public static let entryDelimiter = "\n§\n"

    /// The memory files and the memory tool's `target` for each.
    public static let targets: [(file: String, target: String)] = [("MEMORY.md", "memory"), ("USER.md", "user")]

    /// Hermes' subsystems with a pending store (`tools/write_approval.py`).
    public static let subsystems = ["memory", "skills"]

    // MARK: Where things are

    /// The Hermes root, resolved as Hermes' `get_default_hermes_root()` does: `HERMES_HOME` when set
    /// (its grandparent when it is itself `<root>/profiles/<name>`, `~/.hermes` when it lies inside
    /// that), else `~/.hermes`.
    public static func hermesRoot(hermesHome: String?, userHome: String) -> String {
        let native = userHome + "/.hermes"
        guard let home = hermesHome.map(trimmedSlash), !home.isEmpty else { return native }
        if home == native || home.hasPrefix(native + "/") { return native }
        let parts = home.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count >= 3, parts[parts.count - 2] == "profiles" { return parts.dropLast(2).joined(separator: "/") }
        return home
    }

    /// The directory `hermes -p <profile>` uses as its home (`hermes_cli/profiles.py`,
    /// `get_profile_dir`): the root for `default`, else `<root>/profiles/<profile>`.
    public static func profileHome(_ profile: String, hermesHome: String?, userHome: String) -> String {
        let root = hermesRoot(hermesHome: hermesHome, userHome: userHome)
        return profile == "default" ? root : root + "/profiles/" + profile
    }

    /// A run's home under `root`: `<root>/run-<id>/profiles/<profile>`. The `profiles/<name>` tail
    /// makes Hermes take `HERMES_HOME` as a profile's home as it is (`_apply_profile_override`),
    /// instead of looking for a sticky `active_profile` next to it.
    public static func runHome(root: String, runID: Int64, profile: String) -> String {
        runDirectory(root: root, runID: runID) + "/profiles/" + profile
    }

    /// What `runHome` is in, removed whole after the run.
    public static func runDirectory(root: String, runID: Int64) -> String { root + "/run-\(runID)" }

    /// What a run's home links to the profile's (everything but these): `config.yaml` is the run's
    /// own, `memories/` a copy, `pending/` the run's own store (harvested after it), and a default
    /// profile's `active_profile` and `profiles/` belong to the root, not to a profile.
    public static let notMirrored: Set<String> = ["config.yaml", "memories", "pending", "active_profile", "profiles"]

    /// The profile's entries the run's home links to, in name order.
    public static func mirrored(_ names: [String]) -> [String] { names.filter { !notMirrored.contains($0) }.sorted() }

    /// The Hermes root's entries `runDirectory` links to, in name order. A profile's process reads
    /// some things from its root (`get_default_hermes_root()`: the global `auth.json` and `shared/`
    /// credentials, the `kanban/` paths), and for the run's home that root is `runDirectory`. Not its
    /// `profiles/` (the run's home is there) nor its sticky `active_profile`.
    public static func mirroredRoot(_ names: [String]) -> [String] {
        names.filter { $0 != "profiles" && $0 != "active_profile" }.sorted()
    }

    /// The run's config: the profile's, with skill writes staged for approval (Hermes' gate stages
    /// every skill write, whatever the surface) and memory writes left to the copy (`changes` finds
    /// them). The owner's own config is never written.
    public static let configOverrides: [(section: String, key: String, value: Bool)] = [
        ("memory", "write_approval", false), ("skills", "write_approval", true),
    ]

    // MARK: The command

    /// `argv` without a `-p {profile}`, `--profile {profile}` or `--profile={profile}`: Hermes lets
    /// that flag win over `HERMES_HOME`, and the run's `HERMES_HOME` already is the profile's mirror.
    /// Other arguments, and a flag naming another profile, are left as they are.
    public static func commandForRunHome(_ argv: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < argv.count {
            let arg = argv[i]
            if (arg == "-p" || arg == "--profile"), i + 1 < argv.count, argv[i + 1] == "{profile}" {
                i += 2
                continue
            }
            if arg == "--profile={profile}" { i += 1; continue }
            out.append(arg)
            i += 1
        }
        return out
    }

    // MARK: What a run changed

    /// A memory file's entries, as Hermes' `MemoryStore._read_file` splits them.
    public static func entries(_ text: String) -> [String] {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return [] }
        var seen: Set<String> = []
        return text.components(separatedBy: entryDelimiter)
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    /// One change a run made to a memory file.
    public struct Change: Equatable, Sendable {
        public enum Action: String, Sendable { case add, remove }
        public var action: Action
        /// `memory` (MEMORY.md) or `user` (USER.md).
        public var target: String
        public var entry: String
        public init(action: Action, target: String, entry: String) { self.action = action; self.target = target; self.entry = entry }
    }

    /// What turns `before` into `after`: removals first, then additions, each in file order. A
    /// replaced entry is a removal and an addition (the memory tool's `replace` leaves no other trace).
    public static func changes(target: String, before: String, after: String) -> [Change] {
        let old = entries(before), new = entries(after)
        let oldSet = Set(old), newSet = Set(new)
        return old.filter { !newSet.contains($0) }.map { Change(action: .remove, target: target, entry: $0) }
            + new.filter { !oldSet.contains($0) }.map { Change(action: .add, target: target, entry: $0) }
    }

    // MARK: Proposals

    /// Who proposed: the run, for the summary Hermes lists and for the record's `kanban` field.
    public struct Origin: Equatable, Sendable {
        public var taskID: String
        public var runID: Int64
        public var lane: String
        public init(taskID: String, runID: Int64, lane: String) { self.taskID = taskID; self.runID = runID; self.lane = lane }

        /// What each proposal's summary starts with in `/memory pending`.
        public var tag: String { "[kanban task \(taskID) run \(runID)]" }
    }

    /// A pending id no other run's can equal: run ids are unique on a board and `n` within a run; the
    /// random `nonce` keeps two boards that share a profile apart. Hermes makes `<id>.json` of it.
    public static func pendingID(runID: Int64, n: Int, nonce: String) -> String { "kb\(runID)-\(n)-\(nonce)" }

    /// A memory proposal as Hermes' `stage_write` writes one (`id`, `subsystem`, `action`, `summary`,
    /// `origin`, `created_at`, `payload`), so `/memory pending` lists it and `/memory approve` replays
    /// its payload through `apply_memory_pending`. `kanban` names the run; Hermes ignores it.
    public static func proposal(_ change: Change, id: String, origin: Origin, createdAt: Double) -> JSONValue {
        let label = change.target == "user" ? "user profile" : "memory"
        let verb = change.action == .add ? "add to \(label)" : "remove from \(label)"
        let payload: JSONValue = change.action == .add
            ? ["action": "add", "target": .string(change.target), "content": .string(change.entry), "old_text": .null]
            : ["action": "remove", "target": .string(change.target), "content": .null, "old_text": .string(change.entry)]
        return [
            "id": .string(id), "subsystem": "memory", "action": .string(change.action.rawValue),
            "summary": .string("\(origin.tag) \(verb): \(String(change.entry.prefix(120)))"),
            "origin": "kanban-bridge", "created_at": .double(createdAt), "payload": payload,
            "kanban": origin.json,
        ]
    }

    /// A record the run's Hermes staged itself (a skill write), re-tagged for the profile's store:
    /// a fresh `id`, the run's tag before its summary, the run in `kanban`. Nil for anything that is
    /// not a staged-write object.
    public static func retagged(_ record: JSONValue, id: String, origin: Origin) -> JSONValue? {
        guard var o = record.objectValue, o["payload"] != nil else { return nil }
        o["id"] = .string(id)
        o["summary"] = .string("\(origin.tag) \(o["summary"]?.stringValue ?? "")")
        o["kanban"] = origin.json
        return .object(o)
    }

    /// The line a proposal gets in the task's comment and the run's log.
    public static func line(_ record: JSONValue) -> String {
        let id = record["id"]?.stringValue ?? "?"
        let subsystem = record["subsystem"]?.stringValue ?? "?"
        let summary = record["summary"]?.stringValue ?? ""
        return "- \(subsystem) \(id): \(summary)"
    }

    /// What the task's comment says about one run's proposals (propose), or what was dropped (read-only).
    public static func summary(mode: MemoryMode, origin: Origin, records: [JSONValue], profile: String) -> String? {
        guard !records.isEmpty else { return nil }
        let lines = records.map(line).joined(separator: "\n")
        switch mode {
        case .readOnly:
            return "Run \(origin.runID) (lane \(origin.lane), memory: read-only) tried \(records.count) write(s) to profile "
                + "\(profile)'s memory or skills; they were dropped:\n\(lines)"
        case .propose, .shared:
            return "Run \(origin.runID) (lane \(origin.lane)) proposed \(records.count) write(s) to profile \(profile)'s memory "
                + "or skills. Review them as that profile with /memory pending and /skills pending:\n\(lines)"
        }
    }

    /// The follow-up task for the lane that reviews a run's proposals; one per run (its idempotency key).
    public static func reviewTask(origin: Origin, comment: String, owner: String) -> TaskSpec {
        TaskSpec(title: "review memory proposed by run \(origin.runID) of task \(origin.taskID)",
                 body: comment + "\n\nApprove or reject each as that profile (/memory approve ID, /memory reject ID, /skills …), "
                     + "consolidating with what the profile already remembers.",
                 assignee: owner, idempotencyKey: "kanban-memory-review-run-\(origin.runID)")
    }

    private static func trimmedSlash(_ s: String) -> String {
        var s = s.trimmingCharacters(in: .whitespaces)
        while s.count > 1, s.hasSuffix("/") { s.removeLast() }
        return s
    }
}

extension ProfileMemory.Origin {
    var json: JSONValue { ["task_id": .string(taskID), "run_id": .int(runID), "lane": .string(lane)] }
}
