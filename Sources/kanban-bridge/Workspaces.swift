import ArgumentParser
import KanbanModel

struct WorkspacesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workspaces",
        abstract: "Manage the workspaces spawned tasks ran in.",
        subcommands: [Prune.self])

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove workspaces (worktrees, kept scratch dirs) of tasks that are done or archived.",
            discussion: "Worktrees are removed with `git worktree remove`; their branches stay for review.")
        @Option(help: "Only this lane's.") var lane: String?
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            var f: [String: JSONValue] = [:]
            if let lane { f["lane"] = .string(lane) }
            try connection.run("workspace.prune", f) { result in
                let removed = (result["removed"]?.arrayValue ?? []).compactMap(\.stringValue)
                print(removed.isEmpty ? "nothing to prune" : "removed \(removed.count): " + removed.joined(separator: " "))
            }
        }
    }
}
