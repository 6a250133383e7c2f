/// What every worker is told about its claim, whoever starts it (the coordinator's dispatcher or a
/// runner on another host): the claim, the task's text and Hermes' own variables. Each starter adds
/// where to report and its credential; the workspace's variables follow once it exists.
public enum WorkerEnvironment {
    /// Linux refuses to exec with one argument or environment string longer than 128 KiB
    /// (MAX_ARG_STRLEN), so a task's title or body beyond this is cut (with a note of its size) in
    /// `KANBAN_TASK_BODY` and in the `{body}` placeholder, rather than the worker never starting.
    public static let maxValueBytes = 64 * 1024

    public static func claim(taskID: String, runID: Int64, claimToken: String, lane: Lane, title: String,
                             body: String?, tenant: String?) -> [String: String] {
        var env = [
            "KANBAN_TASK": taskID, "KANBAN_RUN_ID": String(runID), "KANBAN_CLAIM_TOKEN": claimToken, "KANBAN_LANE": lane.name,
            "KANBAN_TASK_TITLE": bounded(title), "KANBAN_TASK_BODY": bounded(body ?? ""),
            "HERMES_KANBAN_TASK": taskID, "HERMES_KANBAN_RUN_ID": String(runID),
            "HERMES_KANBAN_CLAIM_LOCK": ClaimLock.make(lane: lane.name, runID: runID),
        ]
        if let profile = lane.profile { env["HERMES_PROFILE"] = profile }
        if let tenant { env["HERMES_TENANT"] = tenant }
        return env
    }

    /// The workspace's variables (`KANBAN_WORKSPACE` is empty without one).
    public static func workspace(_ dir: String?) -> [String: String] {
        guard let dir else { return ["KANBAN_WORKSPACE": ""] }
        return ["KANBAN_WORKSPACE": dir, "HERMES_KANBAN_WORKSPACE": dir, "TERMINAL_CWD": dir]
    }

    /// `text`, or its first `maxValueBytes` (whole characters) and a note of how much was cut.
    public static func bounded(_ text: String) -> String {
        guard text.utf8.count > maxValueBytes else { return text }
        var kept = Substring(text).utf8.prefix(maxValueBytes - 200)
        while !kept.isEmpty, String(kept) == nil { kept = kept.dropLast() }
        return (String(kept) ?? "") + "\n[… cut: the task's text is \(text.utf8.count) bytes; `kanban-bridge task show` has all of it]"
    }
}
