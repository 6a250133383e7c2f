import ArgumentParser
import KanbanModel
import KanbanProtocol

struct WorkspacesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workspaces",
        abstract: "Manage the workspaces spawned tasks ran in.",
        subcommands: [Prune.self])

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove workspaces (worktrees, kept scratch dirs) of tasks that are done or archived.",
            discussion: """
                Answers at once with the workspaces queued for removal; the coordinator's dispatcher removes \
                them in the background (a large worktree can take a while) and logs each one. Worktrees are \
                removed with `git worktree remove`; their branches `kanban/<task>` stay for review. Running \
                prune again before it finished queues nothing new for a workspace already gone.
                """)
        @Option(help: "Only this lane's.") var lane: String?
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            try connection.run(.workspacePrune(lane: lane)) { result in
                let queued = (result["queued"]?.arrayValue ?? []).compactMap(\.stringValue)
                print(queued.isEmpty ? "nothing to prune" : "removing \(queued.count) in the background: " + queued.joined(separator: " "))
            }
        }
    }
}
