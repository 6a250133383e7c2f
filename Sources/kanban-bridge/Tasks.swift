import ArgumentParser
import Foundation
import KanbanModel
import KanbanProtocol

struct TaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task",
        abstract: "Create, show, list, assign and link tasks.",
        subcommands: [Create.self, Show.self, List.self, Assign.self, Link.self, Reclaim.self, Unblock.self, Log.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a task. It is ready at once unless a --parent is unfinished (then todo).",
            discussion: "Example: kanban-bridge task create \"Build widget\" --assignee factory --priority 5")
        @Argument(help: "Title.") var title: String
        @Option(help: "Longer description.") var body: String?
        @Option(help: "Lane that will do it.") var assignee: String?
        @Option(help: "Higher runs first (default 0).") var priority: Int = 0
        @Option(help: "A task that must finish first; repeat for several.") var parent: [String] = []
        @Option(help: "Creating twice with the same key returns the first task.") var idempotencyKey: String?
        @Option(help: "Tenant label.") var tenant: String?
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            let spec = TaskSpec(title: title, body: body, assignee: assignee, priority: priority, parents: parent,
                                idempotencyKey: idempotencyKey, tenant: tenant)
            try connection.run(.taskCreate(spec)) { print(taskLine($0["task"] ?? .null)) }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a task with its parents, children and runs.")
        @Argument var taskID: String
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            try connection.run(.taskGet(taskID: taskID), asLane: true) { result in
                let t = result["task"] ?? .null
                print(taskLine(t))
                if let lock = t["claim_lock"]?.stringValue { print("claim:    \(lock)") }
                let parents = (t["parents"]?.arrayValue ?? []).compactMap(\.stringValue)
                let children = (t["children"]?.arrayValue ?? []).compactMap(\.stringValue)
                if !parents.isEmpty { print("parents:  \(parents.joined(separator: " "))") }
                if !children.isEmpty { print("children: \(children.joined(separator: " "))") }
                for run in t["runs"]?.arrayValue ?? [] { print(runLines(run)) }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tasks, highest priority then oldest first.")
        @Option(help: "Only this status.") var status: TaskStatus?
        @Option(help: "Only this lane's tasks.") var assignee: String?
        @Option(help: "At most this many.") var limit: Int = 500
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            try connection.run(.taskList(status: status, assignee: assignee, limit: limit), asLane: true) { ($0["tasks"]?.arrayValue ?? []).forEach { print(taskLine($0)) } }
        }
    }

    struct Assign: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Assign a task to a lane (refused while it runs under a claim).")
        @Argument var taskID: String
        @Argument(help: "Lane name; omit to unassign.") var assignee: String?
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            try connection.run(.taskAssign(taskID: taskID, assignee: assignee)) { print(taskLine($0["task"] ?? .null)) }
        }
    }

    struct Reclaim: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a running task back from whoever holds it: ready again, the holder's claim token dies.")
        @Argument var taskID: String
        @Option(help: "Why (kept on the run).") var reason: String?
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            try connection.run(.taskReclaim(taskID: taskID, reason: reason)) { print(taskLine($0["task"] ?? .null)) }
        }
    }

    struct Unblock: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put a blocked task (given up, or blocked by its worker) back: ready, or todo while a parent is unfinished.")
        @Argument var taskID: String
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            try connection.run(.taskUnblock(taskID: taskID)) { print(taskLine($0["task"] ?? .null)) }
        }
    }

    struct Log: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a spawned task's worker output (every run, oldest first; read from the board's host).")
        @Argument var taskID: String
        @Option(help: ArgumentHelp("The coordinator's --log-dir, if it was set.", valueName: "dir")) var logDir: String?
        /// `--db` is the board: logs are where Hermes keeps its worker logs (kanban/logs/ beside it).
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            guard Names.isValidTaskID(taskID) else { throw ValidationError("'\(taskID)' is not a task id") }
            let board = URL(fileURLWithPath: connection.db).standardizedFileURL
            // bridge-logs/: where earlier versions wrote, so logs of earlier runs still show.
            let dirs = logDir.map { [$0] } ?? [HermesLayout.workerLogsDir(boardPath: board.path),
                                                board.deletingLastPathComponent().path + "/bridge-logs"]
            // Per directory: rotated generations first (.3 oldest), then the current file.
            let files = dirs.reversed().flatMap { dir -> [String] in
                let base = dir + "/" + WorkspaceLayout.logFile(taskID: taskID)
                return ([3, 2, 1].map { "\(base).\($0)" } + [base]).filter { FileManager.default.fileExists(atPath: $0) }
            }
            let dir = dirs[0]
            guard !files.isEmpty else {
                printError("no log for \(taskID) in \(dir)" + whyNoLog())
                throw ExitCode(5)
            }
            for f in files { FileHandle.standardOutput.write(FileManager.default.contents(atPath: f) ?? Data()) }
        }

        /// Why a task has no log, as the board tells it: no run yet, runs of a lane that spawns nothing,
        /// or runs that failed before their worker wrote anything (each with its reason).
        func whyNoLog() -> String {
            guard let result = try? connection.client(preferLane: true).call(.taskGet(taskID: taskID)),
                  let runs = result["task"]?["runs"]?.arrayValue else {
                return " (only tasks of spawn and pool lanes have one; the coordinator could not be asked why)"
            }
            if runs.isEmpty { return ": it has not run yet" }
            let failed = runs.filter { $0["error"]?.stringValue != nil }
            if failed.isEmpty { return " (only tasks of spawn and pool lanes have one; its runs wrote none)" }
            return ": its runs ended before their worker wrote anything:\n" + failed.map { "  " + runLines($0) }.joined(separator: "\n")
        }
    }

    struct Link: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make CHILD wait for PARENT (cycles are refused).")
        @Argument var parent: String
        @Argument var child: String
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            try connection.run(.taskLink(parent: parent, child: child)) { print(taskLine($0["task"] ?? .null)) }
        }
    }
}

/// One run of `task show`: its outcome (or `active`), the lane whose claim it was and the Hermes profile
/// it ran, then why it ended when it failed (the worker's exit status, the spawn's error).
func runLines(_ run: JSONValue) -> String {
    var line = "run \(run["id"]?.intValue ?? 0): \(run["outcome"]?.stringValue ?? "active")"
    if let lane = run["lane"]?.stringValue { line += "  lane \(lane)" }
    if let profile = run["profile"]?.stringValue, profile != run["lane"]?.stringValue { line += "  profile \(profile)" }
    if let summary = run["summary"]?.stringValue { line += "  → \(summary)" }
    if let error = run["error"]?.stringValue { line += "\n    error: \(error)" }
    return line
}
