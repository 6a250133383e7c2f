import ArgumentParser

@main
struct KanbanBridge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kanban-bridge",
        abstract: "Run persistent and pooled workers against a Hermes-compatible Kanban board over ZeroMQ.",
        discussion: """
            Quick tour (each line is one command):
              kanban-bridge serve
              kanban-bridge lanes register factory --kind persistent
              kanban-bridge task create "Build widget" --assignee factory
              KANBAN_LANE_TOKEN=lt_... kanban-bridge claim --lane factory
              kanban-bridge complete --task t_... --claim-token ct_...

            Admin commands find the admin token in $KANBAN_BRIDGE_ADMIN_TOKEN or in the file admin.token next to --db. Worker commands (claim, heartbeat, complete, block, release) use $KANBAN_LANE_TOKEN. Every command takes --json for machine-readable output.

            Exit codes: 0 ok, 1 internal or busy, 2 bad request, usage or a reused request id, 3 nothing to claim, 4 unauthorized or forbidden, 5 not found, 6 conflict, not_ready, not_assigned or lane_full, 7 not_claim_owner or stale_claim, 8 coordinator unreachable.
            """,
        version: BridgeVersion.current,
        subcommands: [
            Serve.self, Lanes.self, TaskCommand.self,
            Claim.self, Heartbeat.self, Complete.self, Block.self, Release.self,
            Events.self, Ping.self, WorkspacesCommand.self, Keys.self,
            Stats.self, Doctor.self, Backup.self, Web.self, HermesPlugin.self, RunnerCommand.self,
        ]
    )
}

enum BridgeVersion {
    static let current = "0.1.0"
}
