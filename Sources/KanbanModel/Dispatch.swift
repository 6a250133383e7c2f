/// A spawn/pool lane's command: an argv whose `{placeholders}` are filled per task. No shell is
/// involved, so a title with quotes or `$(…)` in it is just text in one argument.
public enum CommandTemplate {
    /// Placeholders a command may use.
    /// `body` is the task's body: an agent CLI takes the task as its prompt (`codex exec "{title}: {body}"`).
    public static let placeholders: Set<String> = ["task_id", "run_id", "lane", "profile", "workspace", "title", "body"]

    /// The values of the placeholders for one run: the one place both the coordinator's dispatcher and
    /// a runner fill them from.
    public static func values(taskID: String, runID: Int64, lane: Lane, workspace: String?, title: String,
                              body: String?) -> [String: String] {
        ["task_id": taskID, "run_id": String(runID), "lane": lane.name, "profile": lane.profile ?? "",
         "workspace": workspace ?? "", "title": WorkerEnvironment.bounded(title), "body": WorkerEnvironment.bounded(body ?? "")]
    }

    /// Placeholders in `argv` that are not known (a typo would otherwise reach the worker verbatim).
    public static func unknownPlaceholders(_ argv: [String]) -> [String] {
        var unknown: [String] = []
        for arg in argv {
            var rest = Substring(arg)
            while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
                let name = String(rest[rest.index(after: open)..<close])
                if !placeholders.contains(name), !unknown.contains(name) { unknown.append(name) }
                rest = rest[rest.index(after: close)...]
            }
        }
        return unknown
    }

    /// `argv` with every `{name}` replaced by `values[name]` (missing values become ""), in one pass:
    /// text that a value brings in is never expanded again.
    public static func render(_ argv: [String], _ values: [String: String]) -> [String] {
        argv.map { arg in
            var out = ""
            var rest = Substring(arg)
            while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
                let name = String(rest[rest.index(after: open)..<close])
                out += rest[..<open]
                out += placeholders.contains(name) ? (values[name] ?? "") : String(rest[open...close])
                rest = rest[rest.index(after: close)...]
            }
            return out + rest
        }
    }
}

/// Fairness between lanes with free slots: each dispatch round starts one lane further along, and
/// each lane gets at most one new task per pass, so a busy lane cannot starve a quiet one.
public enum LaneRotation {
    /// `lanes` (sorted by name) rotated to start at position `round % count`.
    public static func order(_ lanes: [String], round: Int) -> [String] {
        guard !lanes.isEmpty else { return [] }
        let sorted = lanes.sorted()
        let start = ((round % sorted.count) + sorted.count) % sorted.count
        return Array(sorted[start...] + sorted[..<start])
    }
}
