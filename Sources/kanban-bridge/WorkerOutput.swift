import ArgumentParser
import Foundation
import KanbanModel

/// How a worker verb prints its result.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// Lines for people (the default).
    case text
    /// The reply's result as one line of JSON (same as --json).
    case json
    /// `export NAME='value'` lines that a POSIX shell can `eval` safely.
    case shell
}

/// Output and retry options shared by the worker verbs (claim, heartbeat, complete, block, release).
struct WorkerOutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "text, json, or shell: the reply as `export KANBAN_…='…'` lines, for `eval \"$(…)\"` in a shell script.",
        valueName: "format"))
    var format: OutputFormat?

    @Option(help: ArgumentHelp(
        "Resend after a timeout this many times (pauses growing to 2 s), with the same request_id, so a slow moment "
            + "or a coordinator restart costs nothing and nothing runs twice. The default rides out about a minute with "
            + "the default --timeout; 0 fails at the first timeout. A `busy` reply (another program held the board's "
            + "lock) is retried as well, up to 5 more times.",
        valueName: "n"))
    var retries: Int = Self.defaultRetries

    /// Ten attempts of 5 s with growing pauses: about a minute.
    static let defaultRetries = 9

    func validate() throws {
        guard (0...1000).contains(retries) else { throw ValidationError("--retries must be 0...1000") }
    }

    /// The format in force: --format wins, then --json, then text.
    func resolved(json: Bool) -> OutputFormat { format ?? (json ? .json : .text) }
}

/// Shell assignments for `eval`. Every value is single-quoted, the one quoting a POSIX shell never
/// interprets inside: `'` itself is written as `'\''`. Shell variables cannot hold NUL, so NUL bytes
/// are dropped rather than letting them cut a value short somewhere else.
enum ShellAssignments {
    static func quote(_ value: String) -> String {
        let clean = value.replacingOccurrences(of: "\u{0}", with: "")
        return "'" + clean.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// `export NAME='value'` lines, in the given order.
    static func render(_ pairs: [(String, String)]) -> String {
        pairs.map { "export \($0.0)=\(quote($0.1))" }.joined(separator: "\n")
    }

    /// What a claim exports: everything a wrapped command needs to know about its task.
    static func claim(task: JSONValue, claim: JSONValue, nowMs: Int64) -> [(String, String)] {
        let expiresMs = claim["lease_expires_at_ms"]?.intValue ?? nowMs
        // The lease length, so a script can heartbeat every third of it without doing date arithmetic.
        let leaseSeconds = max(1, (expiresMs - nowMs + 999) / 1000)
        return [
            ("KANBAN_TASK", task["id"]?.stringValue ?? ""),
            ("KANBAN_CLAIM_TOKEN", claim["token"]?.stringValue ?? ""),
            ("KANBAN_RUN_ID", String(claim["run_id"]?.intValue ?? 0)),
            ("KANBAN_LEASE_EXPIRES_AT", String(claim["lease_expires_at"]?.intValue ?? 0)),
            ("KANBAN_LEASE_SECONDS", String(leaseSeconds)),
            ("KANBAN_TASK_TITLE", task["title"]?.stringValue ?? ""),
            ("KANBAN_TASK_BODY", task["body"]?.stringValue ?? ""),
            ("KANBAN_TASK_ASSIGNEE", task["assignee"]?.stringValue ?? ""),
            ("KANBAN_TASK_PRIORITY", String(task["priority"]?.intValue ?? 0)),
            ("KANBAN_TASK_PARENTS", (task["parents"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: " ")),
        ]
    }

    /// What complete, block and release export: the task's status afterwards.
    static func task(_ task: JSONValue) -> [(String, String)] {
        [("KANBAN_TASK", task["id"]?.stringValue ?? ""), ("KANBAN_TASK_STATUS", task["status"]?.stringValue ?? "")]
    }
}
