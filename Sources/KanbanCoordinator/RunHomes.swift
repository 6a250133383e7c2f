import Foundation
import KanbanModel
import Yams

/// The file-system half of `ProfileMemory`: a Hermes home per run of a profile whose lane says
/// `memory: propose` or `read-only`, and what becomes of the run's writes after it.
///
/// `prepare` makes `<root>/run-<id>/profiles/<profile>`: a link to each of the profile's entries
/// (sessions, skills, credentials, logs: the run is that profile in everything else), a copy of its
/// MEMORY.md and USER.md as they are at the start, and a config.yaml of its own (the profile's, with
/// skill writes staged). The worker's `HERMES_HOME` points there. `harvest` turns what the run changed
/// in its copy, and the skill writes its Hermes staged, into records of the profile's own pending
/// store (propose) or drops them (read-only), then removes the run's directory. Both run on the
/// dispatcher's threads, never on the coordinator's loop.
struct RunHomes {
    /// Where run homes are made; absolute.
    let root: String
    /// The coordinator's `HERMES_HOME` and `HOME`, from which profiles are found as Hermes finds them.
    let hermesHome: String?
    let userHome: String

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// One run's home, as long as its worker runs.
    struct Prepared: Sendable {
        let mode: MemoryMode
        let profile: String
        /// The worker's `HERMES_HOME`.
        let home: String
        /// `home`'s `run-<id>` directory, removed after the run.
        let directory: String
        /// The profile's own home, where proposals go.
        let profileHome: String
        let origin: ProfileMemory.Origin
        /// The lane's `memory_owner`.
        let reviewer: String?
        /// MEMORY.md and USER.md as the run got them, by file name.
        let atStart: [String: String]
    }

    /// What a run's writes became.
    struct Harvest {
        /// Records written to the profile's pending store (propose) or dropped (read-only).
        var records: [JSONValue] = []
        /// What went wrong on the way (the rest is still done).
        var problems: [String] = []
    }

    // MARK: Before the run

    /// The run's home, or nil when the run writes as the profile's own sessions do: `shared`, or a
    /// default `propose` for a profile with no home here (no memory to protect; `note` says so).
    /// A lane that asked for `propose` or `read-only` itself gets no run without its home.
    func prepare(lane: Lane, taskID: String, runID: Int64) throws -> (Prepared?, note: String?) {
        let mode = lane.memoryMode
        guard mode != .shared, let profile = lane.profile else { return (nil, nil) }
        if let problem = WorkspaceLayout.profileProblem(profile) { throw Failure(description: problem) }
        let fm = FileManager.default
        let profileHome = ProfileMemory.profileHome(profile, hermesHome: hermesHome, userHome: userHome)
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: profileHome, isDirectory: &isDir), isDir.boolValue else {
            if lane.memory == nil {
                return (nil, "memory: shared, not the default \(mode.rawValue): profile \(profile) has no home at \(profileHome)")
            }
            throw Failure(description: "lane \(lane.name) has memory: \(mode.rawValue), but profile \(profile) has no home at \(profileHome) "
                          + "(create it with `hermes profile create \(profile)`, or run the coordinator with the HERMES_HOME its profiles are under)")
        }
        let directory = ProfileMemory.runDirectory(root: root, runID: runID)
        let home = ProfileMemory.runHome(root: root, runID: runID, profile: profile)
        if fm.fileExists(atPath: directory) { try fm.removeItem(atPath: directory) }  // left by a coordinator that crashed
        // Owner-only: the run's config.yaml is a copy of the profile's, which may hold credentials.
        do { try fm.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch {
            // Runs are prepared side by side: another may have made the root between this one's look and its mkdir.
            try fm.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try fm.createDirectory(atPath: home + "/memories", withIntermediateDirectories: true)
        do {
            let root = ProfileMemory.hermesRoot(hermesHome: hermesHome, userHome: userHome)
            for name in ProfileMemory.mirroredRoot((try? fm.contentsOfDirectory(atPath: root)) ?? []) {
                try fm.createSymbolicLink(atPath: directory + "/" + name, withDestinationPath: root + "/" + name)
            }
            for name in ProfileMemory.mirrored(try fm.contentsOfDirectory(atPath: profileHome)) {
                try fm.createSymbolicLink(atPath: home + "/" + name, withDestinationPath: profileHome + "/" + name)
            }
            var atStart: [String: String] = [:]
            for (file, _) in ProfileMemory.targets {
                let text = (try? String(contentsOfFile: profileHome + "/memories/" + file, encoding: .utf8)) ?? ""
                atStart[file] = text
                if !text.isEmpty { try text.write(toFile: home + "/memories/" + file, atomically: true, encoding: .utf8) }
            }
            let config = (try? String(contentsOfFile: profileHome + "/config.yaml", encoding: .utf8)) ?? ""
            try Self.runConfig(config).write(toFile: home + "/config.yaml", atomically: true, encoding: .utf8)
            return (Prepared(mode: mode, profile: profile, home: home, directory: directory, profileHome: profileHome,
                             origin: .init(taskID: taskID, runID: runID, lane: lane.name), reviewer: lane.memoryOwner,
                             atStart: atStart), nil)
        } catch {
            try? fm.removeItem(atPath: directory)
            throw error
        }
    }

    /// For a run that writes as the profile's own sessions do: the profile's home, where it exists
    /// (the `HERMES_HOME` Hermes' own dispatcher gives a profile's workers), else nil.
    func sharedHome(lane: Lane) -> String? {
        guard let profile = lane.profile, WorkspaceLayout.profileProblem(profile) == nil else { return nil }
        let home = ProfileMemory.profileHome(profile, hermesHome: hermesHome, userHome: userHome)
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: home, isDirectory: &isDir) && isDir.boolValue ? home : nil
    }

    /// The profile's config with `ProfileMemory.configOverrides` set (comments are not kept: the
    /// copy lives as long as the run).
    static func runConfig(_ profileConfig: String) throws -> String {
        var top: [(Node, Node)] = []
        if let root = try Yams.compose(yaml: profileConfig) {
            guard let mapping = root.mapping else { throw Failure(description: "the profile's config.yaml is not a mapping") }
            top = mapping.map { ($0.key, $0.value) }
        }
        for (section, key, value) in ProfileMemory.configOverrides {
            let setting = (Node(key), Node(value ? "true" : "false"))
            if let i = top.firstIndex(where: { $0.0.string == section }) {
                var inner = top[i].1.mapping.map { $0.map { ($0.key, $0.value) } } ?? []
                inner.removeAll { $0.0.string == key }
                inner.append(setting)
                top[i].1 = Node(inner)
            } else {
                top.append((Node(section), Node([setting])))
            }
        }
        return try Yams.serialize(node: Node(top))
    }

    // MARK: After the run

    func harvest(_ run: Prepared) -> Harvest {
        var out = Harvest()
        var n = 0
        func nextID() -> String {
            n += 1
            return ProfileMemory.pendingID(runID: run.origin.runID, n: n, nonce: String(UUID().uuidString.prefix(8)).lowercased())
        }
        let now = Date().timeIntervalSince1970
        // What the run changed in its copy of the memory files.
        for (file, target) in ProfileMemory.targets {
            let after = (try? String(contentsOfFile: run.home + "/memories/" + file, encoding: .utf8)) ?? ""
            for change in ProfileMemory.changes(target: target, before: run.atStart[file] ?? "", after: after) {
                out.records.append(ProfileMemory.proposal(change, id: nextID(), origin: run.origin, createdAt: now))
            }
        }
        // What its Hermes staged itself (skill writes; memory writes too, had the gate staged them).
        for subsystem in ProfileMemory.subsystems {
            let dir = run.home + "/pending/" + subsystem
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
            for name in names {
                guard let data = FileManager.default.contents(atPath: dir + "/" + name), let record = JSONCodec.decode(Array(data)),
                      let retagged = ProfileMemory.retagged(record, id: nextID(), origin: run.origin) else {
                    out.problems.append("\(dir)/\(name) is not a staged write; dropped")
                    continue
                }
                out.records.append(retagged)
            }
        }
        if run.mode == .propose {
            for record in out.records {
                do { try stage(record, in: run.profileHome) } catch { out.problems.append("\(error)") }
            }
        }
        do { try FileManager.default.removeItem(atPath: run.directory) } catch {
            out.problems.append("cannot remove the run's home \(run.directory): \(error)")
        }
        return out
    }

    /// Writes `record` as `<profile home>/pending/<subsystem>/<id>.json`, whole or not at all (as
    /// Hermes' `stage_write` does: a temporary file renamed into place).
    private func stage(_ record: JSONValue, in profileHome: String) throws {
        guard let id = record["id"]?.stringValue, let subsystem = record["subsystem"]?.stringValue,
              ProfileMemory.subsystems.contains(subsystem) else {
            throw Failure(description: "a staged record without an id or a known subsystem; dropped")
        }
        let dir = profileHome + "/pending/" + subsystem
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tmp = dir + "/." + id + ".json.tmp"
        try Data(JSONCodec.encode(record)).write(to: URL(fileURLWithPath: tmp))
        guard rename(tmp, dir + "/" + id + ".json") == 0 else {
            let why = String(cString: strerror(errno))
            unlink(tmp)
            throw Failure(description: "cannot stage \(id) in \(dir): \(why)")
        }
    }

    /// Removes a run's home without harvesting it (its worker never started).
    func discard(_ run: Prepared) {
        try? FileManager.default.removeItem(atPath: run.directory)
    }
}
